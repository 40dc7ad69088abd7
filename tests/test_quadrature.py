"""The deterministic Quadrature rule: its grids, refinement, path enumeration, iteration control.

Its exactness on the square loss (Marchenko-Pastur to 1e-8) is part of the contract of every
rule, in ``test_rule_contract.py``.
"""

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._quadrature import gauss_hermite, karhunen_loeve, smolyak, tensor_product
from catalogue import GD, PERSISTENT, TWO_CLUSTER, TWO_MIXTURE


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


def test_tensor_product_pairs_every_node_with_every_other():
    """The one tensor-product construction of the rules: the last factor runs fastest, the
    weight of a node is the product of its factors' weights, and rows of 2-D arrays (paths,
    innovations) travel whole."""
    w1, c = np.array([0.25, 0.75]), np.array([1.0, -1.0])
    w2, h0 = np.array([0.5, 0.3, 0.2]), np.array([-1.0, 0.0, 1.0])
    w3, g = np.array([0.4, 0.6]), np.array([[1.0, 2.0], [3.0, 4.0]])
    weight, a = tensor_product((w1, {"c": c}), (w2, {"h0": h0}), (w3, {"g": g}))
    assert weight.shape == (12,) and a["c"].shape == a["h0"].shape == (12,) and a["g"].shape == (12, 2)
    np.testing.assert_allclose(weight.sum(), 1.0, rtol=1e-15)
    for n, (i, j, k) in enumerate(np.ndindex(2, 3, 2)):
        assert weight[n] == w1[i] * w2[j] * w3[k]
        assert a["c"][n] == c[i] and a["h0"][n] == h0[j]
        np.testing.assert_array_equal(a["g"][n], g[k])


def test_refinement_indicator_decreases_and_bounds_the_error():
    """Fig. 1 settings, GD, t <= 6: the indicator falls with the level and bounds (sup over t)
    the error measured against a much finer level."""
    kwargs = dict(eta=0.2, t_max=6.0)
    ref = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(level=8, indicator=False), **kwargs)
    indicators, errors = [], []
    for level in (3, 4, 5, 6):
        res = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(level=level), **kwargs)
        indicators.append(res.gen_error_err.max())
        errors.append(np.abs(res.gen_error - ref.gen_error).max())
        # The indicator is a sup-norm statement: the level difference crosses zero at some times.
        assert errors[-1] <= indicators[-1]
    assert all(b < a for a, b in zip(indicators, indicators[1:])), indicators
    assert errors[-1] < 1e-5


def test_exact_path_enumeration_agrees_with_nested_low_discrepancy_averaging():
    problem = qd.Problem(TWO_MIXTURE, "logistic", R=0.1)
    schedule = PERSISTENT
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
    sgd = qd.solve(TWO_CLUSTER, qd.SGD(0.4), rule=rule, **kwargs)
    psgd = qd.solve(TWO_CLUSTER, qd.PersistentSGD(0.4, 0.2 / 0.4), rule=rule, **kwargs)
    np.testing.assert_allclose(psgd.M_C, sgd.M_C, atol=1e-12)
    np.testing.assert_allclose(psgd.gen_error, sgd.gen_error, atol=1e-12)


def test_non_converged_iteration_raises_with_history():
    with pytest.raises(qd.ConvergenceError) as info:
        qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=4.0, rule=qd.Quadrature(level=3, max_iter=2, anderson=0))
    assert len(info.value.history) == 2
    assert info.value.history[-1]["change"] > 1e-10


def test_auto_level_meets_target():
    res = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=3.0, rule=qd.Quadrature(level="auto", target=1e-6))
    assert res.gen_error_err.max() <= 1e-6
    with pytest.raises(qd.ConvergenceError, match="max_level"):
        qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=3.0, rule=qd.Quadrature(level="auto", target=1e-14, max_level=3))


@pytest.mark.parametrize("kwargs, name", [
    (dict(level=0), "level"), (dict(kl_tol=0.0), "kl_tol"), (dict(n_paths=100), "n_paths"),
    (dict(n_path_replicates=1), "n_path_replicates"), (dict(max_iter=0), "max_iter"),
])
def test_bad_quadrature_parameters_are_named(kwargs, name):
    with pytest.raises(qd.ParameterError, match=name):
        qd.Quadrature(**kwargs)
