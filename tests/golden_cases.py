"""Golden outputs: representative solves and simulations, recorded to guard refactorings.

Each case is built from the public API only (so that it survives any reorganisation of the
package) and returns every array of its result. ``tests/test_golden.py`` recomputes each case and
compares with the recorded ``tests/golden/<name>.npz``: a change of layout must not change a
number (1e-12 of the array's scale; bitwise where the arithmetic order is unchanged).

Long cases (K ~ 300, which exercise the blocked response: low-rank blocks under GD, dense ones
under Persistent-SGD) keep every curve but only every 7th row and column of the (K+1)^2 kernels,
so that the recorded files stay small.

A numerical change that is meant to change results (a fixed bias, a new rule) regenerates the
files it changes with ``python tests/golden_cases.py NAME ...`` and says so in its commit.

    python tests/golden_cases.py            # rewrite every golden file
    python tests/golden_cases.py d01 s02    # rewrite some
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import quaddmft as qd

GOLDEN = Path(__file__).resolve().parent / "golden"
SUBSAMPLE = 7  # kernels of long cases: every 7th row and column
KERNELS = ("Gamma", "M_C", "R", "response", "C_perp")


def _two(alpha=2.0, delta=0.5):
    return qd.TwoCluster(alpha=alpha, delta=delta)


def _three():
    return qd.ThreeCluster(alpha=3.0, delta=0.05, L=0.7)


def _solve(problem, schedule, eta, t_max, rule):
    return lambda: qd.solve(problem, schedule, eta=eta, t_max=t_max, rule=rule)


def _simulate(problem, schedule, eta, t_max, **kw):
    return lambda: qd.simulate(problem, schedule, eta=eta, t_max=t_max, **kw)


# name: (builder, long) -- long cases store subsampled kernels.
CASES = {
    "d01_gd_two_logistic_qmc": (_solve(
        qd.Problem(_two(), "logistic", lam=0.0, R=0.01), qd.FullBatch(), 0.2, 4.0,
        qd.QMC(n_points=64, n_h0=6, n_replicates=4, seed=1)), False),
    "d02_sgd_two_hinge_qmc": (_solve(
        qd.Problem(_two(1.5, 0.7), "squared-hinge", lam=0.05, R=0.3), qd.SGD(0.4), 0.15, 3.0,
        qd.QMC(n_points=32, n_h0=4, n_replicates=4, seed=2)), False),
    "d03_psgd_linear_two_montecarlo": (_solve(
        qd.Problem(_two(), "logistic", lam=0.0, R=0.01), qd.PersistentSGD(0.3, 1 / 0.6), 0.2, 3.0,
        qd.MonteCarlo(n_samples=2048, n_replicates=4, seed=3)), False),
    "d04_psgd_exact_three_qmc_finite_d": (_solve(
        qd.Problem(_three(), "logistic", lam=0.1, R=0.01, m0=qd.FiniteDStart(5000)),
        qd.PersistentSGD(0.1, 1 / 0.6, law="exact"), 0.2, 4.0,
        qd.QMC(n_points=64, n_h0=4, n_replicates=4, seed=4)), False),
    "d05_gd_noise_square_qmc": (_solve(
        qd.Problem(qd.PureNoise(alpha=2.0, delta=0.5), "square", lam=0.1, R=1.0), qd.FullBatch(),
        0.2, 3.0, qd.QMC(n_points=32, n_h0=8, n_replicates=4, seed=5)), False),
    "d06_gd_two_quadrature_modal": (_solve(
        qd.Problem(_two(), "logistic", lam=0.0, R=0.01), qd.FullBatch(), 0.2, 3.0,
        qd.Quadrature(resolution=2)), False),
    "d07_psgd_two_quadrature_enumerated": (_solve(
        qd.Problem(_two(), "logistic", lam=0.0, R=0.1), qd.PersistentSGD(0.3, 1 / 0.6), 0.2, 1.0,
        qd.Quadrature(resolution=1)), False),
    "d08_sgd_three_quadrature_causal": (_solve(
        qd.Problem(_three(), "logistic", lam=0.1, R=0.01, m0=qd.FiniteDStart(5000)), qd.SGD(0.4),
        0.2, 2.4, qd.Quadrature(resolution=1)), False),
    "d09_gd_two_long_low_rank_response": (_solve(
        qd.Problem(_two(), "logistic", lam=0.05, R=0.5), qd.FullBatch(), 0.2, 60.0,
        qd.QMC(n_points=16, n_h0=2, n_replicates=2, seed=9)), True),
    "d10_psgd_two_long_dense_response": (_solve(
        qd.Problem(_two(), "logistic", lam=0.05, R=0.5), qd.PersistentSGD(0.3, 1 / 0.6), 0.2, 56.0,
        qd.QMC(n_points=16, n_h0=2, n_replicates=2, seed=10)), True),
    # issue 14: teacher-student data, momentum, Langevin noise, the spherical constraint
    "d11_gd_teacher_linear_heavy_ball_quadrature": (lambda: qd.solve(
        qd.Problem(qd.TeacherStudent(2.0, "linear", noise=0.25), "square", lam=0.1, R=0.5),
        qd.FullBatch(), eta=0.2, t_max=2.0, rule=qd.Quadrature(resolution=1),
        momentum=qd.HeavyBall(0.5)), False),
    "d12_sgd_teacher_sign_nesterov_langevin_qmc": (lambda: qd.solve(
        qd.Problem(qd.TeacherStudent(2.0, "sign", noise=0.1, flip=0.05), "logistic", lam=0.01,
                   R=0.25, temperature=0.02),
        qd.SGD(0.5), eta=0.2, t_max=2.0, rule=qd.QMC(n_points=32, n_h0=4, n_replicates=2, seed=12),
        momentum=qd.Nesterov(0.5)), False),
    "d13_gd_two_spherical_quadrature": (_solve(
        qd.Problem(_two(), "logistic", R=1.0, constraint=qd.Spherical()), qd.FullBatch(), 0.2,
        2.0, qd.Quadrature(resolution=1)), False),
    "s04_sim_teacher_sign_langevin_nesterov": (lambda: qd.simulate(
        qd.Problem(qd.TeacherStudent(2.0, "sign", noise=0.1, flip=0.05), "logistic", R=0.25,
                   temperature=0.02), qd.PersistentSGD(0.5, 1.0), eta=0.2, t_max=2.0, d=100,
        seeds=2, seed=4, test_points=50, momentum=qd.Nesterov(0.5)), False),
    "s05_sim_two_spherical": (_simulate(
        qd.Problem(_two(), "logistic", R=1.0, constraint=qd.Spherical(), temperature=0.05),
        qd.SGD(0.5), 0.2, 2.0, d=100, seeds=2, seed=5), False),
    "s01_sim_gd_two_logistic": (_simulate(
        qd.Problem(_two(), "logistic", lam=0.0, R=0.01), qd.FullBatch(), 0.2, 4.0,
        d=200, seeds=3, seed=1, test_points=100), False),
    "s02_sim_psgd_three_logistic": (_simulate(
        qd.Problem(_three(), "logistic", lam=0.1, R=0.01), qd.PersistentSGD(0.3, 1 / 0.3), 0.2, 3.0,
        d=150, seeds=2, seed=2), False),
    "s03_sim_sgd_noise_square": (_simulate(
        qd.Problem(qd.PureNoise(alpha=2.0, delta=0.5), "square", lam=0.0, R=1.0), qd.SGD(0.5),
        0.2, 2.0, d=100, seeds=2, seed=3), False),
}


def arrays_of(name: str) -> dict[str, np.ndarray]:
    """Run case ``name``; every array field of its result (kernels subsampled for long cases)."""
    build, long = CASES[name]
    result = build()
    out = {}
    for key, value in vars(result).items():
        if isinstance(value, np.ndarray):
            if long and key in KERNELS:
                value = value[::SUBSAMPLE, ::SUBSAMPLE]
            out[key] = np.array(value)
    return out


def write(names) -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name in names:
        np.savez(GOLDEN / f"{name}.npz", **arrays_of(name))
        print(f"wrote {GOLDEN / name}.npz")


if __name__ == "__main__":
    wanted = sys.argv[1:]
    write([n for n in CASES if not wanted or any(n.startswith(w) for w in wanted)])
