"""The DMFT-against-simulation check shared by the simulator tests.

Per observable and time: |DMFT - simulation| <= 4 combined standard errors (the simulation's
over seeds, the rule's reported error) plus a finite-d allowance A |x| / d, or A / d for the
O(1) error and accuracy (justification of A = 4 in ``test_dmft_vs_simulator.py``).
"""

import numpy as np

FINITE_D_COEFFICIENT = 4.0
OBSERVABLES = {  # name -> does the allowance scale with |value| ?
    "gen_error": False, "train_accuracy": False, "train_loss": True, "m": True, "C": True,
}


def z_scores(dmft, sim) -> dict:
    """Per observable, max over t of |DMFT - simulation| / (combined standard error)."""
    return {name: float(np.max(np.abs(getattr(dmft, name) - getattr(sim, name))
                               / np.maximum(np.hypot(getattr(sim, f"{name}_err"),
                                                     getattr(dmft, f"{name}_err")), 1e-300)))
            for name in OBSERVABLES}


def assert_dmft_agrees(dmft, sim, d: int) -> None:
    """Fail naming the observable, the time and both values where the band is exceeded."""
    np.testing.assert_allclose(sim.t, dmft.t)
    for name, relative in OBSERVABLES.items():
        theory, measured = getattr(dmft, name), getattr(sim, name)
        sigma = np.hypot(getattr(sim, f"{name}_err"), getattr(dmft, f"{name}_err"))
        allowance = FINITE_D_COEFFICIENT / d * (np.abs(theory) if relative else 1.0)
        excess = np.abs(theory - measured) - (4 * sigma + allowance)
        worst = int(np.argmax(excess))
        assert excess[worst] <= 0, (
            f"{name} at t = {dmft.t[worst]}: DMFT {theory[worst]:.5g} vs simulation "
            f"{measured[worst]:.5g} +- {sigma[worst]:.2g} (allowance "
            f"{np.broadcast_to(allowance, theory.shape)[worst]:.2g}); z = {z_scores(dmft, sim)}")
