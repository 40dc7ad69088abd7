"""The deterministic Quadrature rule: exactness, refinement, path enumeration, iteration control."""

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._exact import marchenko_pastur_square_loss
from quaddmft._quadrature import gauss_hermite, karhunen_loeve, smolyak

TWO = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)


@pytest.mark.parametrize("costs, level", [([1.0], 4), ([1.0, 1.0], 3), ([1.0, 1.0, 2.5, 3.0], 4), ([1.0] * 6, 4)])
def test_smolyak_is_exact_for_low_gaussian_moments(costs, level):
    x, w = smolyak(costs, level)
    assert abs(w.sum() - 1.0) < 1e-12
    for i in range(len(costs)):
        assert abs(w @ x[:, i] ** 2 - 1.0) < 1e-11
        assert abs(w @ x[:, i]) < 1e-12
    if len(costs) > 1 and level >= 3:
        assert abs(w @ (x[:, 0] ** 2 * x[:, 1] ** 2) - 1.0) < 1e-11


def test_gauss_hermite_weights_are_normalised_once():
    nodes, weights = gauss_hermite(7)
    assert abs(weights.sum() - 1.0) < 1e-14
    assert abs(weights @ nodes**6 - 15.0) < 1e-11


def test_karhunen_loeve_truncation_keeps_requested_variance():
    t = np.arange(30)
    M = np.exp(-np.subtract.outer(t, t) ** 2 / 40.0)
    for tol in (1e-3, 1e-6, 1e-9):
        modes = karhunen_loeve(M, tol=tol, max_modes=30)
        assert modes.discarded <= tol
        assert np.abs(modes.B @ modes.B.T - M).max() <= 10 * tol * np.trace(M)


@pytest.mark.parametrize("alpha, lam, R", [(2.0, 0.0, 1.0), (0.5, 0.1, 1.0), (3.0, 0.3, 0.5)])
def test_square_loss_pure_noise_exact_to_1e8(alpha, lam, R):
    """The process is Gaussian: the rule is exact up to KL truncation."""
    eta, K = 0.2, 15
    problem = qd.Problem(qd.PureNoise(alpha=alpha, delta=0.5), "square", lam=lam, R=R)
    res = qd.solve(problem, qd.FullBatch(), eta=eta, t_max=K * eta, rule=qd.Quadrature(level=3))
    C, e = marchenko_pastur_square_loss(alpha, 0.5, eta, lam, R, K)
    np.testing.assert_allclose(res.C, C, rtol=1e-8)
    np.testing.assert_allclose(res.train_loss, e, rtol=1e-8)
    assert res.status == "success" and res.history


def test_refinement_indicator_decreases_and_bounds_the_error():
    """Fig. 1 settings, GD, t <= 6: the indicator falls with the level and bounds (sup over t)
    the error measured against a much finer level."""
    kwargs = dict(eta=0.2, t_max=6.0)
    ref = qd.solve(TWO, qd.FullBatch(), rule=qd.Quadrature(level=8, indicator=False), **kwargs)
    indicators, errors = [], []
    for level in (3, 4, 5, 6):
        res = qd.solve(TWO, qd.FullBatch(), rule=qd.Quadrature(level=level), **kwargs)
        indicators.append(res.gen_error_err.max())
        errors.append(np.abs(res.gen_error - ref.gen_error).max())
        # The indicator is a sup-norm statement: the level difference crosses zero at some times.
        assert errors[-1] <= indicators[-1]
    assert all(b < a for a, b in zip(indicators, indicators[1:])), indicators
    assert errors[-1] < 1e-5


def test_exact_path_enumeration_agrees_with_nested_low_discrepancy_averaging():
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.1)
    schedule = qd.PersistentSGD(0.3, 1 / 0.6)
    kwargs = dict(eta=0.2, t_max=1.4)  # K = 7: 256 paths
    exact = qd.solve(problem, schedule, rule=qd.Quadrature(level=3, enumerate_up_to=12), **kwargs)
    nested = qd.solve(problem, schedule, rule=qd.Quadrature(level=3, enumerate_up_to=0, n_paths=32,
                                                             n_path_replicates=6), **kwargs)
    assert "nested" in nested.message and "nested" not in exact.message
    sigma = np.hypot(exact.gen_error_err, nested.gen_error_err)
    assert np.all(np.abs(exact.gen_error - nested.gen_error) <= 4 * sigma + 1e-12)
    assert nested.gen_error_err.max() > exact.gen_error_err.max()  # sampling error is reported


def test_sgd_limit_exact_with_enumeration():
    """PersistentSGD(b, eta/b) and SGD(b) have the same path law: with enumerated paths and the
    same deterministic Gaussian nodes, the solutions agree to 1e-12."""
    kwargs = dict(eta=0.2, t_max=1.2)
    rule = qd.Quadrature(level=3, enumerate_up_to=12, indicator=False)
    sgd = qd.solve(TWO, qd.SGD(0.4), rule=rule, **kwargs)
    psgd = qd.solve(TWO, qd.PersistentSGD(0.4, 0.2 / 0.4), rule=rule, **kwargs)
    np.testing.assert_allclose(psgd.M_C, sgd.M_C, atol=1e-12)
    np.testing.assert_allclose(psgd.gen_error, sgd.gen_error, atol=1e-12)


def test_non_converged_iteration_raises_with_history():
    with pytest.raises(qd.ConvergenceError) as info:
        qd.solve(TWO, qd.FullBatch(), eta=0.2, t_max=4.0, rule=qd.Quadrature(level=3, max_iter=2, anderson=0))
    assert len(info.value.history) == 2
    assert info.value.history[-1]["change"] > 1e-10


def test_auto_level_meets_target():
    res = qd.solve(TWO, qd.FullBatch(), eta=0.2, t_max=3.0, rule=qd.Quadrature(level="auto", target=1e-6))
    assert res.gen_error_err.max() <= 1e-6
    with pytest.raises(qd.ConvergenceError, match="max_level"):
        qd.solve(TWO, qd.FullBatch(), eta=0.2, t_max=3.0, rule=qd.Quadrature(level="auto", target=1e-14, max_level=3))


@pytest.mark.parametrize("kwargs, name", [
    (dict(level=0), "level"), (dict(kl_tol=0.0), "kl_tol"), (dict(n_paths=100), "n_paths"),
    (dict(n_path_replicates=1), "n_path_replicates"), (dict(max_iter=0), "max_iter"),
])
def test_bad_quadrature_parameters_are_named(kwargs, name):
    with pytest.raises(qd.ParameterError, match=name):
        qd.Quadrature(**kwargs)
