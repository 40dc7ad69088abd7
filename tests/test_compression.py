"""HODLR compression of the two-time kernels (``quaddmft._compression``, docs/theory.md eq. 9.7):
compressed and dense kernels of real solves agree to the stated tolerance, and the compressed
form is smaller; matrix-vector products agree; bad input is refused."""

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._causal import causal_sweep
from quaddmft._compression import HODLR, TWO_TIME_KERNELS, kernel_compression

FIG1 = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.0, R=0.01)


def _sweep(steps):
    chain = qd.FullBatch().chain(0.2)
    K = steps.size if np.ndim(steps) else 400
    nodes = qd.QMC(n_points=16, n_h0=4, n_replicates=2).nodes(FIG1, chain, K, np.random.default_rng(0))
    return causal_sweep(FIG1, chain, steps, K, nodes, accuracy=False)


def _graded_steps(t_max, levels):
    return np.diff(qd.ContinuousTime(step=0.2, levels=levels, growth=10.0).grids(t_max)[-1])


def _check(sweep, tol):
    report = kernel_compression(vars(sweep), tol=tol, leaf=64)
    x = np.random.default_rng(2).standard_normal(sweep.Gamma.shape[0])
    for name in TWO_TIME_KERNELS:
        entry, X = report[name], getattr(sweep, name)
        assert entry["relative_error"] <= tol, (name, entry["relative_error"])
        assert entry["bytes"] < 0.5 * entry["dense_bytes"], (name, entry["bytes"], entry["dense_bytes"])
        H = entry["hodlr"]
        assert np.linalg.norm(H.matvec(x) - X @ x) <= tol * np.linalg.norm(X) * np.linalg.norm(x)
    return report


@pytest.mark.parametrize("tol", [1e-6, 1e-10])
def test_kernels_of_a_uniform_solve(tol):
    _check(_sweep(0.2), tol)


def test_kernels_of_a_graded_solve():
    report = _check(_sweep(_graded_steps(1000.0, 2)), 1e-10)   # K = 462, t = 1000
    assert report["M_C"]["max_rank"] <= 40


@pytest.mark.slow
def test_kernels_of_a_long_graded_solve():
    """K = 1384 (the finest level of a three-level ladder to t = 1e4)."""
    _check(_sweep(_graded_steps(1e4, 3)), 1e-10)


def test_tolerance_zero_is_exact_and_bad_input_is_refused():
    X = np.tril(np.random.default_rng(0).standard_normal((100, 100)))
    H = HODLR.from_dense(X, tol=0.0, leaf=16)
    np.testing.assert_allclose(H.to_dense(), X, atol=1e-12)
    assert all(np.abs(blk.U).max() > 0 for blk in H.blocks)  # no stored zero blocks
    with pytest.raises(qd.ParameterError, match="square"):
        HODLR.from_dense(np.zeros((3, 4)))
    with pytest.raises(qd.ParameterError, match="tol"):
        HODLR.from_dense(X, tol=2.0)
    with pytest.raises(qd.ParameterError, match="finite"):
        HODLR.from_dense(np.full((4, 4), np.nan))
    with pytest.raises(qd.ParameterError, match="rows"):
        H.matvec(np.ones(3))
