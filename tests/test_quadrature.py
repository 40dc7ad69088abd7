"""The deterministic Quadrature rule (the default): its grids, determinism, exactness, and an
error estimate that bounds the true error.

Its exactness on the square loss (Marchenko-Pastur) is also part of the contract of every rule,
in ``test_rule_contract.py``.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._observables import CURVES
from quaddmft._quadrature import (_index_set, combination_grid, gauss_hermite, karhunen_loeve,
                                  smolyak, smolyak_refines, smolyak_size, tensor_product)
from quaddmft.rules.quadrature import (DIRECT_LADDER, DIRECT_RUNG, LONG_HORIZON, MODAL_LADDER,
                                      MODAL_LADDER_LONG, PATH_LADDER)
from quaddmft.references import marchenko_pastur_square_loss
from catalogue import GD, PERSISTENT, SGD_04, THREE_CLUSTER, TWO_CLUSTER


@pytest.mark.parametrize("costs, level", [([1.0], 4), ([1.0, 1.0], 3), ([1.0, 1.0, 2.5, 3.0], 4), ([1.0] * 6, 4)])
def test_smolyak_is_exact_for_low_gaussian_moments(costs, level):
    x, w = smolyak(costs, level)
    assert abs(w.sum() - 1.0) < 1e-12
    for i in range(len(costs)):
        assert abs(w @ x[:, i] ** 2 - 1.0) < 1e-11
        assert abs(w @ x[:, i]) < 1e-12
    if len(costs) > 1 and level >= 3:
        assert abs(w @ (x[:, 0] ** 2 * x[:, 1] ** 2) - 1.0) < 1e-11


def test_smolyak_grids_are_cached_but_returned_as_copies():
    x, w = smolyak([1.0, 1.0, 1.5], 4)
    x[:] = 0.0
    w[:] = 0.0
    again, weights = smolyak((1, 1, 1.5), 4)
    assert abs(weights.sum() - 1.0) < 1e-12 and np.abs(again).max() > 1.0
    assert smolyak_size((1.0, 1.0, 1.5), 4) == weights.size
    assert smolyak_size(3, 4) == smolyak([1.0] * 3, 4)[1].size


def test_a_combination_grid_over_any_downward_closed_set():
    """``combination_grid`` is ``smolyak`` on its own index set, node for node; on a set no cost
    vector gives (a long rule in mode 1, one mixed term) it still integrates the moments its
    tensor rules do exactly; a set that is not downward closed is refused."""
    costs, level = (1.0, 1.0, 1.0, 2.0), 4
    x, w = smolyak(costs, level)
    y, v = combination_grid(_index_set(costs, level - 1))
    assert np.array_equal(x, y) and np.array_equal(w, v)
    members = [(1, 1, 1), (2, 1, 1), (3, 1, 1), (4, 1, 1), (1, 2, 1), (2, 2, 1), (1, 1, 2)]
    x, w = combination_grid(members)
    assert abs(w.sum() - 1.0) < 1e-13
    assert abs(w @ x[:, 0] ** 6 - 15.0) < 1e-10  # 7 points in mode 1: exact to degree 13
    assert abs(w @ (x[:, 0] ** 2 * x[:, 1] ** 2) - 1.0) < 1e-12  # the mixed term (2, 2, 1)
    assert abs(w @ x[:, 2] ** 4 - 3.0) < 1e-12 and abs(w @ x[:, 2] ** 6 - 9.0) < 1e-10  # 3 points
    with pytest.raises(ValueError, match="downward closed"):
        combination_grid([(1, 1), (1, 3)])


def test_modal_nodes_on_a_given_grid():
    """``Quadrature._modal_nodes(..., grid=)`` (benchmarks/adaptive_grid.py): the rung's own
    Smolyak grid gives its node set exactly; a grid over fewer modes keeps the leading ones; a
    grid over more modes than the KL truncation keeps is refused."""
    rule, chain, K = qd.Quadrature(), GD.chain(0.2), 5
    resolution = MODAL_LADDER[1]
    covariance = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=1.0).C_perp
    plain = rule.nodes(TWO_CLUSTER, chain, K, resolution, covariance=covariance)
    n_modes = plain.htilde_basis.shape[1]
    own = smolyak(resolution.costs(n_modes), resolution.level)
    given = rule._modal_nodes(TWO_CLUSTER, chain, K, resolution, covariance, grid=own)
    for name in ("weight", "c", "h0", "innovations", "htilde_basis"):
        assert np.array_equal(getattr(given, name), getattr(plain, name)), name
    fewer = rule._modal_nodes(TWO_CLUSTER, chain, K, resolution, covariance,
                              grid=combination_grid([(1, 1), (2, 1), (1, 2)]))
    assert np.array_equal(fewer.htilde_basis, plain.htilde_basis[:, :2])
    with pytest.raises(qd.ParameterError, match="KL modes"):
        rule._modal_nodes(TWO_CLUSTER, chain, K, resolution, covariance,
                          grid=combination_grid([(1,) * (n_modes + 1)]))


def test_smolyak_refinement_needs_a_superset_and_a_longer_leading_rule():
    assert smolyak_refines([1.0] * 6, 3, [1.0] * 4 + [1.5] * 4, 4)
    assert smolyak_refines([1.0] * 4 + [1.5] * 4, 4, [1.0] * 4 + [1.5] * 6, 5)
    # the same level on an anisotropic grid: the leading rule is shared
    assert not smolyak_refines([1.0] * 4 + [1.5] * 4, 4, [1.0] * 8, 4)
    # a higher level that drops mixed terms of the coarse grid
    assert not smolyak_refines([1.0] * 6, 4, [1.0] + [2.0] * 5, 5)
    assert not smolyak_refines([1.0] * 6, 3, [1.0] * 4, 4)  # fewer modes


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


def test_the_default_rule_is_the_deterministic_quadrature():
    res = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=1.0)
    assert res.params["rule"] == "quadrature" and res.error_kind is qd.ErrorKind.REFINEMENT
    again = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=1.0)
    for name in CURVES + ("Gamma", "M_C", "mu", "response", "P", "C_perp"):
        np.testing.assert_array_equal(getattr(again, name), getattr(res, name), err_msg=name)
        np.testing.assert_array_equal(getattr(again, f"{name}_err", 0), getattr(res, f"{name}_err", 0))


_SOLVE_AND_PRINT = textwrap.dedent("""
    import numpy as np, quaddmft as qd
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.0, R=0.01)
    out = []
    for schedule in (qd.FullBatch(), qd.PersistentSGD(0.3, 1 / 0.6)):
        res = qd.solve(problem, schedule, eta=0.2, t_max=2.4, rule=qd.Quadrature(resolution=1))
        out += [res.gen_error, res.M_C, res.train_accuracy, res.C_err]
    print(np.concatenate([a.ravel() for a in out]).tobytes().hex())
""")


def test_bit_for_bit_across_processes_and_thread_counts():
    """Same inputs, identical arrays: in two fresh processes, with one and two numba threads
    (every parallel loop is over independent nodes; the sums over nodes are BLAS calls on one
    thread)."""
    outputs = []
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", _SOLVE_AND_PRINT], env=env, check=True,
                             capture_output=True, text=True)
        outputs.append(run.stdout.strip())
    assert outputs[0] == outputs[1] and len(outputs[0]) > 1000


@pytest.mark.parametrize("alpha, lam, R", [(2.0, 0.0, 1.0), (0.5, 0.1, 1.0), (3.0, 0.3, 0.5)])
def test_square_loss_to_1e10_with_a_tolerance(alpha, lam, R):
    """Square loss on pure noise is exactly solvable (Marchenko-Pastur, docs/theory.md eq. 6.2);
    the process is Gaussian, so the rule is exact up to its KL truncation. Asked for 1e-10, the
    default rule gets C and e to 1e-10 of their scale, and its estimate covers its error up to
    round-off (the sweep's round-off is ~1e-13 of the scale at K = 15, where the estimate of a
    converged ladder also sits)."""
    eta, K = 0.2, 15
    problem = qd.Problem(qd.PureNoise(alpha=alpha, delta=0.5), "square", lam=lam, R=R)
    res = qd.solve(problem, GD, eta=eta, t_max=K * eta, rule=qd.Quadrature(tolerance=1e-10))
    C, e = marchenko_pastur_square_loss(alpha, 0.5, eta, lam, R, K)
    assert np.abs(res.C - C).max() <= 1e-10 * C.max()
    assert np.abs(res.train_loss - e).max() <= 1e-10 * e.max()
    assert np.all(np.abs(res.C - C) <= res.C_err + 1e-12 * C.max())
    assert np.all(np.abs(res.train_loss - e) <= res.train_loss_err + 1e-12 * e.max())
    assert res.C_err.max() <= 1e-10 * C.max()


def _assert_estimate_covers(res, reference, curves=CURVES, slack=1e-13):
    for name in curves:
        error = np.abs(getattr(res, name) - getattr(reference, name))
        estimate = getattr(res, f"{name}_err")
        assert np.all(error <= estimate + slack), (name, float(error.max()), float(estimate.max()))


def test_estimate_bounds_the_error_under_gd():
    """Fig. 1 settings, GD, t <= 4: the estimate of rungs 1 and 2 bounds, at every time, the
    error against rung 4 (itself >= 100 times more accurate than rung 2, see the second part)."""
    reference = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=4.0, rule=qd.Quadrature(resolution=3))
    errors = []
    for resolution in (1, 2):
        res = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=4.0, rule=qd.Quadrature(resolution=resolution))
        _assert_estimate_covers(res, reference)
        errors.append(np.abs(res.gen_error - reference.gen_error).max())
    assert reference.gen_error_err.max() <= errors[1] or errors[1] < 1e-12
    assert errors[1] < errors[0] and errors[0] < 1e-6


def test_rung_2_is_ten_times_finer_than_the_default_and_its_estimate_covers_it():
    """Fig. 1 GD, t <= 10 (K = 50): rung 2 (level 5, 32 h0 nodes, 10 modes) refines every
    component of rung 1, the default: at least 10x below it on every tolerance curve, so its
    estimate |rung 2 - rung 1| is about rung 1's error; it bounds rung 2's error against rung 3
    at every time. At these errors (rung 1: 8.9e-11 in gen_error, 3.0e-9 in m) the fixed point
    must be iterated further than the default 1e-8 relative change (measured: rung 2 at the
    default threshold 4.5e-12 in gen_error but 1.5e-10 in train_loss, 4.6x below rung 1; at
    1e-9, 2.4e-12 and 1.1e-11)."""
    kw = dict(eta=0.2, t_max=10.0)
    tight = dict(fixed_point_tol=1e-3)
    reference = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=3, **tight), **kw)
    default = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(), **kw)
    finer = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=2, **tight), **kw)
    _assert_estimate_covers(finer, reference, curves=("m", "C", "gen_error", "train_loss"))
    for name in ("m", "C", "gen_error", "train_loss"):
        error = [np.abs(getattr(r, name) - getattr(reference, name)).max() for r in (default, finer)]
        assert error[1] <= 0.1 * error[0], (name, error)


def _fine_sweeps(res):
    """Sweeps of the rungs after the first (not their coarse-correction sweeps)."""
    return sum(h["stage"] in ("rung 1", "rung 2") for h in res.history)


def test_coarse_correction_reaches_the_same_fixed_point_in_fewer_fine_sweeps():
    """Fig. 1 GD, t <= 10: rungs 1 and 2 solved by coarse correction against rung 0 have the
    fixed point of the Anderson iteration on their own sweeps (measured 9e-13 apart in
    gen_error; their estimates to 1.8e-10, the residual of rung 1's iterations, both stopped at
    the same relative change), with fewer of their own sweeps (the coarse ones are rung 0's,
    20x cheaper)."""
    kw = dict(eta=0.2, t_max=10.0)
    plain = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=2, coarse_correction=False),
                     **kw)
    corrected = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=2), **kw)  # the default
    for name in ("m", "C", "gen_error", "train_loss"):
        np.testing.assert_allclose(getattr(corrected, name), getattr(plain, name), rtol=0,
                                   atol=1e-10 * max(1.0, np.abs(getattr(plain, name)).max()))
        # |rung 2 - rung 1|: rung 1 carries each iteration's own residual (measured 1.8e-10).
        np.testing.assert_allclose(getattr(corrected, f"{name}_err"), getattr(plain, f"{name}_err"),
                                   rtol=0, atol=1e-9 * max(1.0, np.abs(getattr(plain, name)).max()))
    # rung 2 starts within the threshold of rung 1's fixed point (one sweep): rung 1 is corrected
    assert any(h["stage"] == "rung 1 (coarse correction)" for h in corrected.history)
    assert _fine_sweeps(corrected) < _fine_sweeps(plain), (_fine_sweeps(corrected), _fine_sweeps(plain))


def test_a_rung_whose_coarse_correction_fails_is_solved_by_anderson(monkeypatch):
    """Coarse correction is on by default; where its iteration does not converge (seen near a
    divergence, heavy ball beyond its stability limit: tests/test_models.py) the rung is solved
    by Anderson on its own sweeps from the same start: the arrays of coarse_correction=False,
    bit for bit, and the history says so."""
    import quaddmft._solver as solver

    def fails(*args, history, label, **kwargs):
        history.append({"stage": f"{label} (coarse correction)", "iteration": 1, "change": 1.0})
        raise qd.ConvergenceError("coarse iteration stalled", history=history)

    kw = dict(eta=0.2, t_max=2.0)
    plain = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(coarse_correction=False), **kw)
    monkeypatch.setattr(solver, "coarse_corrected", fails)
    fallback = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(), **kw)
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy", "gen_error_err"):
        assert np.array_equal(getattr(fallback, name), getattr(plain, name)), name
    assert any(h["stage"] == "rung 1 (without correction)" for h in fallback.history)


def test_the_direct_ladder_estimate_covers_its_error():
    """``DIRECT_LADDER`` (rung 0, then the long-horizon rung by coarse correction): at t <= 10
    its estimate |direct - rung 0| covers its error against rung 3 at every time, and the
    rung itself is close to rung 2 (measured 1.4e-8 in gen_error)."""
    kw = dict(eta=0.2, t_max=10.0)
    reference = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=3), **kw)
    direct = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(ladder=DIRECT_LADDER, resolution=1,
                                                          coarse_correction=True), **kw)
    _assert_estimate_covers(direct, reference, curves=("m", "C", "gen_error", "train_loss"))
    assert np.abs(direct.gen_error - reference.gen_error).max() < 1e-7


def test_beyond_the_long_horizon_the_default_rung_is_the_direct_rung():
    """Beyond ``LONG_HORIZON`` steps the built-in modal ladder's rung 1 is ``DIRECT_RUNG``
    (docs/numerics.md section 3); the rest of the ladder still refines it, and nothing changes up
    to ``LONG_HORIZON`` steps. Its accuracy at K = 500 is measured by benchmarks/targets.py."""
    import warnings
    rule = qd.Quadrature()
    assert rule.rungs(TWO_CLUSTER, GD.chain(0.2), LONG_HORIZON) == MODAL_LADDER[:2]
    assert rule.rungs(TWO_CLUSTER, GD.chain(0.2), LONG_HORIZON + 1) == (MODAL_LADDER[0],
                                                                        DIRECT_RUNG)
    assert MODAL_LADDER_LONG[2:] == MODAL_LADDER[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qd.Quadrature(ladder=MODAL_LADDER_LONG).rungs(TWO_CLUSTER, GD.chain(0.2), 500)
    # The cost estimate follows the ladder: fewer grid nodes than MODAL_LADDER's rung 1.
    nodes, sweeps = rule.cost(TWO_CLUSTER, GD.chain(0.2), 500)
    full_nodes, full_sweeps = qd.Quadrature(ladder=MODAL_LADDER[:2]).cost(TWO_CLUSTER,
                                                                           GD.chain(0.2), 500)
    assert nodes < full_nodes and sweeps < full_sweeps


@pytest.mark.slow
def test_beyond_the_long_horizon_the_default_is_close_to_rung_2_and_covered():
    """Fig. 1 GD, t <= 52 (K = 260 > LONG_HORIZON): the default solves DIRECT_RUNG (105 grid
    nodes x 24 h0 nodes) and is within 1e-7 of rung 2 in gen_error (measured 3.8e-8), its
    estimate covering the difference at every time on m, C, gen_error and train_loss (measured
    at least 23x). About 2 min on 2 cores, most of it rung 2."""
    kw = dict(eta=0.2, t_max=52.0)
    reference = qd.solve(TWO_CLUSTER, GD, rule=qd.Quadrature(resolution=2), **kw)
    default = qd.solve(TWO_CLUSTER, GD, **kw)
    fine = [h for h in default.history if h["stage"] == "rung 1"]
    assert fine and all(h["n_nodes"] == DIRECT_RUNG.n_h0 * smolyak_size(
        DIRECT_RUNG.costs(h["n_modes"]), DIRECT_RUNG.level) for h in fine)
    _assert_estimate_covers(default, reference, curves=("m", "C", "gen_error", "train_loss"))
    assert np.abs(default.gen_error - reference.gen_error).max() < 1e-7


def test_estimate_bounds_the_error_of_persistent_sgd_against_exact_enumeration():
    """Persistent-SGD b = 0.3 on a short horizon (K = 5): every selection path is enumerated with
    its exact Markov probability (the rule's modal mode), so the reference is exact in the paths
    and spectral in the Gaussian part. The estimates of rungs 1 and 2 bound the errors, the
    causal mode (Sobol' points, enumerated prefixes of 4 and 5 steps) included."""
    kw = dict(eta=0.2, t_max=1.0)
    reference = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(resolution=3), **kw)
    assert "KL modes" in reference.message
    for resolution in (1, 2):
        res = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(resolution=resolution), **kw)
        _assert_estimate_covers(res, reference, curves=("m", "C", "gen_error", "train_loss"))
    causal = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(resolution=2, max_enumerated_paths=0),
                      **kw)
    assert "Sobol" in causal.message
    _assert_estimate_covers(causal, reference, curves=("m", "C", "gen_error", "train_loss"))


def test_a_fixed_sobol_rung_solves_only_the_rungs_its_estimate_uses():
    """``resolution=3`` on the Sobol' ladder solves rungs 1-3 (rung 0 enters no estimate of
    rung 3), and its arrays are those of the same three rungs solved as a ladder of their own."""
    kw = dict(eta=0.2, t_max=1.0)
    res = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(resolution=3, max_enumerated_paths=0),
                   **kw)
    assert [h["stage"] for h in res.history] == ["rung 1", "rung 2", "rung 3"]
    assert "rung 3 of 3" in res.message
    own = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(
        ladder=PATH_LADDER[1:4], resolution=2, max_enumerated_paths=0), **kw)
    for name in CURVES + tuple(f"{c}_err" for c in CURVES):
        np.testing.assert_array_equal(getattr(res, name), getattr(own, name), err_msg=name)


def test_a_tolerance_stops_the_ladder_early():
    loose = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=2.0, rule=qd.Quadrature(tolerance=1e-3))
    tight = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=2.0, rule=qd.Quadrature(tolerance=1e-9))
    assert "rung 1 of" in loose.message and "rung 1 of" not in tight.message
    for name in ("m", "C", "gen_error", "train_loss"):
        assert getattr(tight, f"{name}_err").max() <= 1e-9 * max(1.0, np.abs(getattr(tight, name)).max())


def test_sgd_limit_exact_with_enumerated_paths():
    """PersistentSGD(b, eta/b) and SGD(b) have the same path law: with every path enumerated and
    the same deterministic Gaussian nodes, the solutions agree to 1e-12."""
    kwargs = dict(eta=0.2, t_max=1.2)
    rule = qd.Quadrature(resolution=1)
    sgd = qd.solve(TWO_CLUSTER, SGD_04, rule=rule, **kwargs)
    psgd = qd.solve(TWO_CLUSTER, qd.PersistentSGD(0.4, 0.2 / 0.4), rule=rule, **kwargs)
    np.testing.assert_allclose(psgd.M_C, sgd.M_C, atol=1e-12)
    np.testing.assert_allclose(psgd.gen_error, sgd.gen_error, atol=1e-12)


def test_conditional_selection_is_unbiased():
    """Replacing s(k) by E[s(k) | s(k-1)] in row k changes no expectation: with every path
    enumerated the kernels are exact either way, so the rows of a random selection agree with
    an enumeration that keeps s(k) (the last selection enumerated too), to round-off."""
    from quaddmft._causal import causal_sweep
    from quaddmft._selection import path_probability
    from quaddmft.rules import NodeSet
    import itertools

    K, eta = 4, 0.2
    chain = PERSISTENT.chain(eta)
    paths = np.array(list(itertools.product((0.0, 1.0), repeat=K + 1)))
    prob = path_probability(chain, paths)
    g = np.random.default_rng(5).standard_normal((6, K + 1))
    g = np.concatenate([g, -g])
    weight, a = tensor_product((np.full(2, 0.5), {"c": np.array([1.0, -1.0]), "y": np.array([1.0, -1.0])}),
                               (prob, {"s": paths}), (np.full(12, 1 / 12), {"g": g}))
    nodes = NodeSet(weight=weight, c=a["c"], y=a["y"], h0=np.zeros(weight.size),
                    h_init=np.ascontiguousarray(a["g"][:, 0]),
                    innovations=np.ascontiguousarray(a["g"][:, 1:]), s=np.ascontiguousarray(a["s"]))
    conditional = causal_sweep(TWO_CLUSTER, chain, eta, K, nodes)
    # The same law declared deterministic-free but with s(k) itself in the rows: a chain whose
    # conditional expectation is never used (all paths enumerated, so E[s(k) f] = sum s(k) f).
    plain = causal_sweep(TWO_CLUSTER, qd.FullBatch().chain(eta), eta, K, nodes)
    for name in ("Gamma", "M_C", "mu", "m", "C", "train_loss"):
        np.testing.assert_allclose(getattr(conditional, name), getattr(plain, name), rtol=0,
                                   atol=1e-13, err_msg=name)


def test_three_cluster_symmetric_state_is_kept_by_the_causal_nodes():
    """Antithetic Sobol' pairs: from m0 = 0 the DMFT of the door model stays at m = 0 under SGD
    with the causal (Sobol') nodes too."""
    problem = qd.Problem(THREE_CLUSTER.mixture, "logistic", lam=0.1, R=0.01)
    res = qd.solve(problem, SGD_04, eta=0.2, t_max=3.0,
                   rule=qd.Quadrature(resolution=1, max_enumerated_paths=0))
    assert "Sobol" in res.message and np.abs(res.m).max() < 1e-14


@pytest.mark.parametrize("kwargs, name", [
    (dict(tolerance=0.0), "tolerance"), (dict(resolution=0), "resolution"),
    (dict(safety=0.5), "safety"), (dict(window=-1), "window"), (dict(ladder=(1, 2)), "ladder"),
    (dict(max_enumerated_paths=-1), "max_enumerated_paths"), (dict(max_iter=0), "max_iter"),
    (dict(coarse_correction="yes"), "coarse_correction"), (dict(coarse_correction=1), "coarse_correction"),
])
def test_bad_quadrature_parameters_are_named(kwargs, name):
    with pytest.raises(qd.ParameterError, match=name):
        qd.Quadrature(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(level=0), "level"), (dict(n_h0=0), "n_h0"), (dict(kl_tol=0.0), "kl_tol"),
    (dict(n_points=100), "n_points"), (dict(max_modes=0), "max_modes"),
    (dict(mode_costs=(0.5, 1.0)), "mode_costs"), (dict(mode_costs=(1.5, 1.0)), "mode_costs"),
    (dict(mode_costs="cheap"), "mode_costs"), (dict(mode_costs=(1.0, float("inf"))), "mode_costs"),
])
def test_bad_resolution_parameters_are_named(kwargs, name):
    with pytest.raises(qd.ParameterError, match=name):
        qd.Resolution(**kwargs)


def test_a_resolution_beyond_the_ladder_is_refused():
    with pytest.raises(qd.ParameterError, match="resolution"):
        qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=1.0, rule=qd.Quadrature(resolution=9))


def test_a_custom_ladder_that_does_not_refine_a_component_warns():
    """A difference of two rungs cannot see the error of what they share (docs/precision.md:
    a modal ladder at level 2 on both rungs underestimated by up to 150x): say so."""
    gd, psgd = qd.FullBatch().chain(0.2), qd.PersistentSGD(0.3, 1 / 0.6).chain(0.2)
    same_level = qd.Quadrature(ladder=(qd.Resolution(level=2, n_h0=8, max_modes=4),
                                       qd.Resolution(level=2, n_h0=16, max_modes=6)))
    with pytest.warns(RuntimeWarning, match="do not refine level"):
        same_level.rungs(TWO_CLUSTER, gd, 10)
    same_points = qd.Quadrature(ladder=(qd.Resolution(n_points=256, n_h0=8),
                                        qd.Resolution(n_points=256, n_h0=16)))
    with pytest.warns(RuntimeWarning, match="do not refine n_points"):
        same_points.rungs(TWO_CLUSTER, psgd, 20)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qd.Quadrature().rungs(TWO_CLUSTER, gd, 10), qd.Quadrature().rungs(TWO_CLUSTER, psgd, 20)
        qd.Quadrature(ladder=(qd.Resolution(level=2, n_h0=8, max_modes=4),
                              qd.Resolution())).rungs(TWO_CLUSTER, gd, 10)
        qd.Quadrature(ladder=MODAL_LADDER).rungs(TWO_CLUSTER, gd, 10)  # the built-in ladder
    # an anisotropic rung at the level of the one before: the leading mode's rule is shared
    shared_leading = qd.Quadrature(ladder=(
        qd.Resolution(level=4, n_h0=8, max_modes=4),
        qd.Resolution(level=4, n_h0=16, max_modes=6, mode_costs=(1.0, 1.5))))
    with pytest.warns(RuntimeWarning, match="do not refine level \\(with mode_costs\\)"):
        shared_leading.rungs(TWO_CLUSTER, gd, 10)


def test_default_rule_solves_the_squared_hinge():
    """The squared hinge's Lambda'' jumps at the margin: the modal fixed point cycled there
    (ConvergenceError at t <= 10 under GD), so the rule takes its causal sweep for such losses.
    The default then solves t <= 10, and its refinement estimate covers the distance to a QMC
    reference (plus three of the reference's standard errors) at every time."""
    problem = dataclasses.replace(TWO_CLUSTER, loss="squared-hinge")
    chain = qd.FullBatch().chain(0.2)
    assert not qd.Quadrature().modal(problem, chain, 50)
    assert qd.Quadrature().modal(TWO_CLUSTER, chain, 50)
    res = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=10.0)
    ref = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=10.0,
                   rule=qd.QMC(n_points=1024, n_h0=8, n_replicates=8, seed=3))
    for name in ("m", "C", "gen_error", "train_loss"):
        gap = np.abs(getattr(res, name) - getattr(ref, name))
        assert np.all(gap <= getattr(res, f"{name}_err") + 3 * getattr(ref, f"{name}_err")), name


def test_estimate_window_grows_with_the_step_index():
    """The estimate is max |rung 1 - rung 0| over +-max(window, ceil(window_fraction k)) steps
    (brute force below): a difference that crosses zero slowly late in the run (here linearly
    through k = 400) keeps an estimate of its value 5% of k away, not the ~0 of +-2 steps."""
    K = 500
    k = np.arange(K + 1)
    base = {name: np.zeros(K + 1) for name in CURVES}
    rung1 = {name: 1e-6 * (k - 400.0) / 100.0 for name in CURVES}
    rule = qd.Quadrature()
    est = rule.estimate([base, rung1], TWO_CLUSTER, qd.FullBatch().chain(0.2), K)["gen_error"]
    half = np.maximum(2, np.ceil(0.05 * k).astype(int))
    diff = np.abs(rung1["gen_error"])
    brute = np.array([diff[max(0, i - h): i + h + 1].max() for i, h in zip(k, half)])
    np.testing.assert_array_equal(est, brute)
    assert est[400] == pytest.approx(1e-6 * 20 / 100)
    fixed = qd.Quadrature(window_fraction=0.0).estimate([base, rung1], TWO_CLUSTER,
                                                         qd.FullBatch().chain(0.2), K)
    assert fixed["gen_error"][400] == pytest.approx(1e-6 * 2 / 100)
    with pytest.raises(qd.ParameterError, match="window_fraction"):
        qd.Quadrature(window_fraction=1.5)
