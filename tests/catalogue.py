"""The test suite's shared catalogue: named problems, selection processes and small rules.

One definition per name, imported by the test modules (``from catalogue import ...``) and exposed
as pytest fixtures by ``conftest.py``. Everything here is a frozen, validated object, so sharing
it between tests cannot couple them.

Problems
    ``TWO_CLUSTER``   the paper's Fig. 1 setting: two clusters, logistic, alpha = 2, Delta = 0.5,
                      lambda = 0, R = 0.01.
    ``THREE_CLUSTER`` the paper's Fig. 2 door model: alpha = 3, Delta = 0.05, L = 0.7, logistic,
                      R = 0.01, started at the finite-d overlap of d = 5000.
    ``PURE_NOISE``    square loss on pure noise (alpha = 2, Delta = 0.5, R = 1): the
                      Marchenko-Pastur case with a closed form (``quaddmft.references``).
Selection processes
    ``GD``, ``SGD_04`` (b = 0.4), ``PERSISTENT`` (the paper's b = 0.3, 1/tau = 0.6, linear law),
    ``PERSISTENT_EXACT`` (b = 0.1, 1/tau = 0.6, exact law: a setting the linear law refuses at
    eta = 0.2); ``SELECTION_PROCESSES`` maps short ids to them.
Small averaging rules (cheap: for exact comparisons, contracts and short horizons only)
    ``SMALL_QMC``, ``SMALL_MONTECARLO``, ``SMALL_QUADRATURE``; ``SMALL_RULES`` maps the names of
    ``quaddmft.RULES`` to them (one per registered rule, checked by ``test_rule_contract``).
    ``SIGN_SYMMETRIC_RULES``: the rules whose node sets are exactly symmetric under w -> -w on
    the three-cluster model (QMC by antithetic pairs, Quadrature by its symmetric Gauss-Hermite
    grids); plain Monte Carlo is not, and leaves the symmetric state m = 0 at once.
"""

from __future__ import annotations

import quaddmft as qd

__all__ = [
    "TWO_MIXTURE", "THREE_MIXTURE", "NOISE_MIXTURE", "TWO_CLUSTER", "THREE_CLUSTER", "PURE_NOISE",
    "PROBLEMS", "GD", "SGD_04", "PERSISTENT", "PERSISTENT_EXACT", "SELECTION_PROCESSES",
    "SMALL_QMC", "SMALL_MONTECARLO", "SMALL_QUADRATURE", "SMALL_RULES", "SIGN_SYMMETRIC_RULES",
]

# ----------------------------------------------------------------------------------- mixtures
TWO_MIXTURE = qd.TwoCluster(alpha=2.0, delta=0.5)
THREE_MIXTURE = qd.ThreeCluster(alpha=3.0, delta=0.05, L=0.7)
NOISE_MIXTURE = qd.PureNoise(alpha=2.0, delta=0.5)

# ----------------------------------------------------------------------------------- problems
TWO_CLUSTER = qd.Problem(TWO_MIXTURE, "logistic", lam=0.0, R=0.01)
THREE_CLUSTER = qd.Problem(THREE_MIXTURE, "logistic", lam=0.0, R=0.01, m0=qd.FiniteDStart(5000))
PURE_NOISE = qd.Problem(NOISE_MIXTURE, "square", lam=0.0, R=1.0)
PROBLEMS = {"two-cluster": TWO_CLUSTER, "three-cluster": THREE_CLUSTER, "pure-noise": PURE_NOISE}

# -------------------------------------------------------------------------------- schedules
GD = qd.FullBatch()
SGD_04 = qd.SGD(0.4)
PERSISTENT = qd.PersistentSGD(0.3, 1 / 0.6)
PERSISTENT_EXACT = qd.PersistentSGD(0.1, 1 / 0.6, law=qd.ExactLaw())
SELECTION_PROCESSES = {"gd": GD, "sgd": SGD_04, "persistent": PERSISTENT,
                       "persistent-exact": PERSISTENT_EXACT}

# ------------------------------------------------------------------------------ small rules
# 32 Sobol' points x 4 Gauss-Hermite nodes x 4 replicates: for exact comparisons (limits,
# symmetries, round-off); too coarse for comparisons with simulations.
SMALL_QMC = qd.QMC(n_points=32, n_h0=4, n_replicates=4, seed=3)
SMALL_MONTECARLO = qd.MonteCarlo(n_samples=512, n_replicates=4, seed=3)
# Rungs 0 and 1 of the ladder (the second's error estimated from the first).
SMALL_QUADRATURE = qd.Quadrature(resolution=1)
SMALL_RULES = {"qmc": SMALL_QMC, "montecarlo": SMALL_MONTECARLO, "quadrature": SMALL_QUADRATURE}
SIGN_SYMMETRIC_RULES = frozenset({"qmc", "quadrature"})
