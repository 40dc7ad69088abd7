"""The causal DMFT solver against exact solutions, limits and a numpy re-implementation of its sweep.

The contract every averaging rule keeps (layout, reproducibility, b = 1, symmetries, exact
square loss) is in ``test_rule_contract.py``; the numba kernels against their twins in
``test_kernels.py``.
"""

import math

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._causal import causal_sweep
from quaddmft._inputs import horizon
from quaddmft._kernels import (StepModel, StepState, SweepBuffers, cholesky_jitter,
                               reference_step)
from quaddmft._observables import interpolated_accuracy
from quaddmft._response import ResponseOptions
from quaddmft._selection import Chain
from quaddmft._weights import WeightSide
from quaddmft.references import marchenko_pastur_square_loss
from catalogue import GD, PERSISTENT, SGD_04, SMALL_QMC, TWO_CLUSTER, TWO_MIXTURE


@pytest.mark.parametrize("alpha, lam, R", [(2.0, 0.0, 1.0), (0.5, 0.0, 1.0), (3.0, 0.3, 0.5)])
def test_square_loss_pure_noise_matches_marchenko_pastur(alpha, lam, R):
    """b = 1 square loss on pure noise: the exact MP values, within the reported error bar,
    and that error bar <= 1e-3 relative at default settings."""
    eta, K = 0.2, 10
    problem = qd.Problem(qd.PureNoise(alpha=alpha, delta=0.5), "square", lam=lam, R=R)
    res = qd.solve(problem, qd.FullBatch(), eta=eta, t_max=K * eta)
    C_exact, e_exact = marchenko_pastur_square_loss(alpha, 0.5, eta, lam, R, K)
    assert np.all(res.C_err <= 1e-3 * C_exact)
    assert np.all(res.train_loss_err <= 1e-3 * e_exact)
    # 5 standard errors, plus a few ulps for k = 0 where the error is exactly 0.
    assert np.all(np.abs(res.C - C_exact) <= 5 * res.C_err + 1e-12)
    assert np.all(np.abs(res.train_loss - e_exact) <= 5 * res.train_loss_err + 1e-12)


def test_check_values_of_theory_section_6():
    C, e = marchenko_pastur_square_loss(2.0, 0.5, 0.2, 0.0, 1.0, 5)
    np.testing.assert_allclose([C[1], e[1], C[5], e[5]], [0.66, 0.255, 0.250440, 0.050981], atol=5e-7)


def test_persistent_with_tau_eta_over_b_is_sgd():
    b, eta = 0.3, 0.2
    sgd = qd.solve(TWO_CLUSTER, qd.SGD(b), eta=eta, t_max=3.0, rule=SMALL_QMC)
    psgd = qd.solve(TWO_CLUSTER, qd.PersistentSGD(b, eta / b), eta=eta, t_max=3.0, rule=SMALL_QMC)
    tol = 3 * np.hypot(sgd.gen_error_err, psgd.gen_error_err) + 1e-12
    assert np.all(np.abs(sgd.gen_error - psgd.gen_error) <= tol)
    # Same uniforms map to the same paths (q = 0), so the agreement is in fact much closer.
    np.testing.assert_allclose(psgd.gen_error, sgd.gen_error, atol=1e-10)


def test_persistent_sgd_differs_from_gd():
    """Guard against a selection law that is silently ignored."""
    gd = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=2.0, rule=SMALL_QMC)
    psgd = qd.solve(TWO_CLUSTER, PERSISTENT, eta=0.2, t_max=2.0, rule=SMALL_QMC)
    assert np.max(np.abs(gd.gen_error - psgd.gen_error)) > 10 * psgd.gen_error_err.max()


@pytest.mark.parametrize("mixture, loss, chain", [
    (TWO_MIXTURE, qd.Logistic(), Chain(0.3, 0.12, 0.72)),
    (qd.ThreeCluster(alpha=3.0, delta=0.1, L=0.7), qd.Logistic(), Chain(1.0, 1.0, 1.0)),
    (TWO_MIXTURE, qd.Square(), Chain(0.5, 0.5, 0.5)),
])
def test_numba_sweep_matches_numpy_twin(mixture, loss, chain):
    problem = qd.Problem(mixture, loss, lam=0.1, R=0.3, m0=0.05)
    eta, K = 0.25, 6
    nodes = qd.QMC(n_points=16, n_h0=3, n_replicates=2).nodes(problem, chain, K, np.random.default_rng(1))
    fast = causal_sweep(problem, chain, eta, K, nodes)

    # The same sweep with the numpy twin of the per-node kernel and a numpy Cholesky; with a
    # random selection, s(k) of row k replaced by its conditional expectation given s(k-1).
    alpha, delta = mixture.alpha, mixture.delta
    N = nodes.size
    weights = WeightSide(K, eta, problem.lam, problem.m0, problem.R)
    model = StepModel(loss.code, mixture.activation_code, mixture.L, delta, eta)
    buffers, rows = SweepBuffers.zeros(N, K), []
    g, a = buffers.grad, buffers.curv
    M_C, Gamma = np.zeros((K + 1, K + 1)), np.zeros((K + 1, K + 1))
    accuracy = []
    for k in range(K + 1):
        noise_row = np.zeros(K)
        if k:
            scale = np.maximum.accumulate(np.diag(M_C)[:k])
            jitter = [cholesky_jitter(j, scale[j]) for j in range(k)]
            noise_row[:k] = np.linalg.cholesky(M_C[:k, :k] + np.diag(jitter))[k - 1]
        newest_sd = math.sqrt(delta) * (eta * noise_row[k - 1] if k else math.sqrt(problem.R))
        state = StepState(weights.m[k], weights.P[k], math.sqrt(problem.R), newest_sd)
        value, rbar = reference_step(k, loss, mixture, model, state, weights.R[k], noise_row, nodes,
                                     buffers, rows)
        p = np.ones(N) if chain.deterministic else (
            np.full(N, chain.b) if k == 0 else np.where(nodes.s[:, k - 1] > 0.5, chain.p_stay, chain.p_on))
        s_row = nodes.s[:, k] if chain.deterministic else p  # s(k), or E[s(k) | s(k-1)]
        Gamma[k, : k + 1] = alpha * delta * (nodes.weight * s_row * buffers.d2) @ rows[k]
        row = (nodes.weight * s_row * buffers.d1) @ np.column_stack([g[:, :k], buffers.d1])
        M_C[k, : k + 1] = M_C[: k + 1, k] = alpha * delta * row
        mu = alpha * (nodes.weight * s_row * buffers.d1) @ (nodes.c + math.sqrt(delta) * nodes.h0)
        accuracy.append(interpolated_accuracy(nodes, rbar, newest_sd, mixture))
        if k < K:
            weights.advance(k, Gamma[k, : k + 1], mu)
    np.testing.assert_allclose(fast.Gamma, Gamma, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.M_C, M_C, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.m, weights.m, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.train_accuracy, accuracy, rtol=1e-10, atol=1e-13)


def test_square_loss_beyond_stability_returns_a_diverged_result():
    # x+ = 0.5 (1 + sqrt 2)^2 = 2.91; eta > 2/x+ = 0.69 makes |1 - eta x| > 1: |w|^2/d grows
    # like (1 - eta x+)^(2k) = 11.4^k, past 1e6 times its start within 6 steps.
    problem = qd.Problem(qd.PureNoise(alpha=2.0, delta=0.5), "square", R=1.0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = qd.solve(problem, qd.FullBatch(), eta=1.5, t_max=400 * 1.5,
                       rule=qd.QMC(n_points=16, n_h0=1, n_replicates=2))
    assert res.status is qd.Status.DIVERGED and "grew from" in res.message
    assert 3 <= res.t.size <= 8 and np.all(np.isfinite(res.C)) and res.C[-1] < 1e6 * res.C[0]


def _diverging_rungs(monkeypatch, diverging):
    """Make the rungs whose index is in ``diverging`` raise a DivergenceError at step 3, as a coarse
    node set that blows up where the dynamics does not (validation/report_notes.md)."""
    import quaddmft._solver as solver
    real = solver._rung

    def rung(rule, problem, chain, eta, K, index, *args, **kwargs):
        if index in diverging and K >= 3:
            raise qd.DivergenceError(3, "|w|^2/d grew from 1 to 1e7 (injected)")
        return real(rule, problem, chain, eta, K, index, *args, **kwargs)
    monkeypatch.setattr(solver, "_rung", rung)


def test_a_coarse_rung_that_diverges_is_skipped_and_the_finer_rungs_decide(monkeypatch):
    ladder = tuple(qd.Resolution(n_points=2**j, n_h0=4) for j in (5, 6, 7))
    kwargs = dict(eta=0.2, t_max=2.0)
    finer = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(ladder=ladder[1:], resolution=1),
                     **kwargs)
    _diverging_rungs(monkeypatch, {0})
    res = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(ladder=ladder, resolution=2),
                   **kwargs)
    assert res.status is qd.Status.SUCCESS and "diverged at step k = 3 and was skipped" in res.message
    assert res.t.size == finer.t.size
    for name in ("gen_error", "C", "gen_error_err", "C_err"):  # rungs 1-2, exactly as a 2-rung ladder
        np.testing.assert_array_equal(getattr(res, name), getattr(finer, name))


# re-solved on K = 2 steps, every path enumerated: the Sobol' ladder is then used as a modal one
@pytest.mark.filterwarnings("ignore:Quadrature. the ladder's rungs")
def test_a_divergence_of_the_finest_rung_is_the_runs(monkeypatch):
    ladder = tuple(qd.Resolution(n_points=2**j, n_h0=4) for j in (5, 6))
    _diverging_rungs(monkeypatch, {1})
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(ladder=ladder, resolution=1),
                       eta=0.2, t_max=2.0)
    assert res.status is qd.Status.DIVERGED and res.t.size == 3  # steps 0..2 re-solved


@pytest.mark.filterwarnings("ignore:Quadrature. the ladder's rungs")
def test_a_divergence_of_the_finest_rung_is_the_runs_even_after_two_solved_rungs(monkeypatch):
    ladder = tuple(qd.Resolution(n_points=2**j, n_h0=4) for j in (5, 6, 7))
    _diverging_rungs(monkeypatch, {2})
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = qd.solve(TWO_CLUSTER, PERSISTENT, rule=qd.Quadrature(ladder=ladder, resolution=2),
                       eta=0.2, t_max=2.0)
    assert res.status is qd.Status.DIVERGED and res.t.size == 3  # steps 0..2 re-solved


# Classical SGD b = 0.5 (Fig. 1 setting): on a finite node set the rows of eq. 3.12 do not
# make M_C a Gram matrix, and a small set turns it indefinite (measured: 64 Sobol' points at
# t = 5.6, 256 at t = 14, 1024 at t = 45; 4096 stay positive definite to t = 50; the points,
# hence the times, change with the horizon: Sobol' dimension 2K + 2).
UNRESOLVED_SGD = dict(eta=0.2, t_max=20.0)
FIG1 = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)


def _sobol(*sizes):
    return tuple(qd.Resolution(n_points=n, n_h0=4) for n in sizes)


def test_a_rung_nothing_can_replace_is_solved_on_and_said_unreliable():
    """A fixed resolution whose rungs both lose M_C's positivity: no spare is allowed, so the
    sweeps go on (the column zeroed, as before the check) and the message and a warning say so."""
    with pytest.warns(RuntimeWarning, match="turned indefinite from grid index"):
        res = qd.solve(FIG1, qd.SGD(0.5), rule=qd.Quadrature(ladder=_sobol(16, 32), resolution=1),
                       **UNRESOLVED_SGD)
    assert res.status is qd.Status.SUCCESS and res.t[-1] == pytest.approx(20.0)
    assert "rung(s) 0, 1" in res.message and "use more points" in res.message
    assert all(np.isfinite(getattr(res, name)).all() for name in ("gen_error", "C", "C_err"))


def test_a_sampled_rule_says_when_its_replicates_lose_positivity():
    with pytest.warns(RuntimeWarning, match="replicates turned indefinite"):
        res = qd.solve(FIG1, qd.SGD(0.5), rule=qd.QMC(n_points=16, n_h0=4, n_replicates=2),
                       **UNRESOLVED_SGD)
    assert res.status is qd.Status.SUCCESS and "use more points" in res.message


def test_the_default_ladder_replaces_unresolving_rungs_by_finer_spares():
    """Rungs 0 and 1 (16, 32 points) fail; the standard rung is 2, so spare rung 3 is solved and
    the estimate is the difference of rungs 2 and 3, exactly as a ladder of those two."""
    ladder = _sobol(16, 32, 1024, 2048, 4096)
    res = qd.solve(FIG1, qd.SGD(0.5), rule=qd.Quadrature(ladder=ladder), **UNRESOLVED_SGD)
    two = qd.solve(FIG1, qd.SGD(0.5), rule=qd.Quadrature(ladder=ladder[2:4], resolution=1),
                   **UNRESOLVED_SGD)
    assert res.status is qd.Status.SUCCESS and "could not resolve the selection" in res.message
    assert "rungs solved: [2, 3]" in res.message and res.t[-1] == pytest.approx(20.0)
    for name in ("gen_error", "C", "gen_error_err", "C_err"):
        np.testing.assert_array_equal(getattr(res, name), getattr(two, name))
    # A fixed resolution gets the rungs it asked for (no spare): rung 0 is skipped (rungs 1-2
    # remain), rung 1 is then needed for the estimate and is solved on tolerantly, said unreliable.
    with pytest.warns(RuntimeWarning, match="turned indefinite"):
        fixed = qd.solve(FIG1, qd.SGD(0.5), rule=qd.Quadrature(ladder=ladder, resolution=2),
                         **UNRESOLVED_SGD)
    assert fixed.status is qd.Status.SUCCESS and "rung(s) 1 turned" in fixed.message


def test_full_batch_gd_never_reports_an_indefinite_noise_covariance():
    """Under GD the rows are a Gram matrix: its pivots stay at round-off (the check's threshold is
    1e-8 of the scale), even on the longest horizon of the golden cases."""
    res = qd.solve(TWO_CLUSTER, GD, eta=0.2, t_max=20.0,
                   rule=qd.Quadrature(ladder=_sobol(16, 32), resolution=1))
    assert res.status is qd.Status.SUCCESS


@pytest.mark.parametrize("kwargs, name", [
    (dict(eta=0.0, t_max=1.0), "eta"),
    (dict(eta=-0.1, t_max=1.0), "eta"),
    (dict(eta=float("nan"), t_max=1.0), "eta"),
    (dict(eta=0.2, t_max=0.0), "t_max"),
    (dict(eta=0.2, t_max=0.1), "t_max"),
])
def test_bad_solver_input_is_named(kwargs, name):
    problem = qd.Problem(TWO_MIXTURE, "logistic")
    with pytest.raises(qd.ParameterError, match=name):
        qd.solve(problem, GD, rule=SMALL_QMC, **kwargs)


@pytest.mark.parametrize("build, name", [
    (lambda: qd.TwoCluster(alpha=0.0, delta=0.5), "alpha"),
    (lambda: qd.TwoCluster(alpha=2.0, delta=-1.0), "delta"),
    (lambda: qd.ThreeCluster(alpha=2.0, delta=0.5, L=0.0), "L"),
    (lambda: qd.ThreeCluster(alpha=float("inf"), delta=0.5, L=0.7), "alpha"),
    (lambda: qd.SGD(b=0.0), "b"),
    (lambda: qd.SGD(b=1.5), "b"),
    (lambda: qd.PersistentSGD(b=0.3, tau=0.0), "tau"),
    (lambda: qd.PersistentSGD(b=0.3, tau=1.0, law="fancy"), "law"),
    (lambda: qd.PersistentSGD(b=0.1, tau=1 / 0.6).chain(0.2), "tau"),
    (lambda: qd.Problem(TWO_MIXTURE, "nope"), "loss"),
    (lambda: qd.Problem(TWO_MIXTURE, "logistic", lam=-1.0), "lam"),
    (lambda: qd.Problem(TWO_MIXTURE, "logistic", R=-0.1), "R"),
    (lambda: qd.QMC(n_points=100), "n_points"),
    (lambda: qd.QMC(n_replicates=1), "n_replicates"),
    (lambda: qd.MonteCarlo(n_samples=0), "n_samples"),
])
def test_bad_problem_input_is_named(build, name):
    with pytest.raises(qd.ParameterError, match=name):
        build()


def test_unknown_loss_lists_valid_names():
    with pytest.raises(qd.ParameterError, match="logistic.*square"):
        qd.Problem(TWO_MIXTURE, "hinge")


def test_exact_persistent_law_accepts_what_linear_refuses():
    chain = qd.PersistentSGD(0.1, 1 / 0.6, law=qd.ExactLaw()).chain(0.2)
    assert 0 < chain.p_on < 1 and 0 < chain.p_stay < 1
    np.testing.assert_allclose(chain.marginals(30), 0.1, atol=1e-14)


def test_result_save_load_round_trip(tmp_path):
    res = qd.solve(TWO_CLUSTER, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=SMALL_QMC)
    back = qd.load(res.save(tmp_path / "res"))
    assert isinstance(back, qd.DMFTResult)
    for name in ("t", "m", "C", "gen_error", "Gamma", "M_C", "response", "C_perp", "gen_error_err"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.params == res.params and back.status == res.status


def test_interpolated_accuracy_removes_the_gauss_hermite_bias_in_h0():
    """Three-cluster GD: M_C is nearly singular, so the Rao-Blackwellised accuracy is a 0/1 step
    in h0 and a 6-node Gauss-Hermite average of it was off by 5e-3 at t = 10 (0.9555 vs 0.9612,
    error bars 7e-4). Integrated over the interpolant in h0, 6 and 24 nodes must agree within
    their error bars, and with plain Monte Carlo (which samples h0)."""
    problem = qd.Problem(qd.ThreeCluster(2.0, 0.05, 0.7), "logistic", lam=0.0, R=1.0, m0=0.3)
    kw = dict(eta=0.2, t_max=6.0)
    coarse = qd.solve(problem, rule=qd.QMC(n_points=128, n_h0=6, n_replicates=4), **kw)
    fine = qd.solve(problem, rule=qd.QMC(n_points=128, n_h0=24, n_replicates=4), **kw)
    mc = qd.solve(problem, rule=qd.MonteCarlo(n_samples=8192, n_replicates=4), **kw)
    for other in (fine, mc):
        gap = np.abs(coarse.train_accuracy - other.train_accuracy)[5:]
        allowed = 4 * np.hypot(coarse.train_accuracy_err, other.train_accuracy_err)[5:] + 2e-4
        assert np.all(gap <= allowed), (gap.max(), other.params["rule"])


@pytest.mark.parametrize("schedule", [GD, SGD_04], ids=["gd", "sgd"])
def test_blocked_response_gives_the_same_solution(schedule):
    """Whole sweeps with the blocked response forced from k = 2 with small blocks (many block
    boundaries; low-rank under GD), against the default options (per node up to k = 256), over
    the same nodes, for each replicate of the rule. The summation order differs, and the
    dynamics amplifies round-off (~1e-10 relative by K = 60 here), hence the tolerance. (128
    points: 32 leave the selection unresolved, M_C indefinite, at K = 52.)"""
    problem = qd.Problem(TWO_MIXTURE, "logistic", lam=0.05, R=0.5)
    rule = qd.QMC(n_points=128, n_h0=4, n_replicates=2)
    eta = 0.2
    K, chain = horizon(eta, 12.0), schedule.chain(eta)
    defaults = ResponseOptions()
    assert K < min(defaults.blocked_from, defaults.low_rank_from)  # default: per node throughout
    for rng in rule.parts(problem, chain, K):
        nodes = rule.nodes(problem, chain, K, rng)
        plain = causal_sweep(problem, chain, eta, K, nodes)
        blocked = causal_sweep(problem, chain, eta, K, nodes,
                               response=ResponseOptions(blocked_from=2, block=7))
        for name in ("Gamma", "M_C", "m", "C", "train_loss", "train_accuracy"):
            scale = np.abs(getattr(plain, name)).max()
            np.testing.assert_allclose(getattr(blocked, name), getattr(plain, name), rtol=0,
                                       atol=1e-8 * scale, err_msg=name)


def test_a_sweep_beyond_the_memory_limit_is_refused_before_allocating():
    """The (K+1)^2 kernels count too: 2 nodes but K = 20000 need ~21 GiB of kernel matrices,
    refused against max_memory before anything is allocated."""
    with pytest.raises(qd.ParameterError, match=r"K = 20000 steps.*max_memory"):
        qd.solve(TWO_CLUSTER, eta=0.01, t_max=200.0, rule=qd.MonteCarlo(n_samples=2, n_replicates=2),
                 max_memory=16 * 2**30)
    with pytest.raises(qd.ParameterError, match="max_memory"):
        qd.solve(TWO_CLUSTER, eta=0.2, t_max=2.0, max_memory=2**20)  # 1 MiB: too little


def test_coarse_correction_converges_to_the_fine_fixed_point():
    """``_fixed_point.coarse_corrected`` on linear maps: the fine map x -> A x + b and a coarse
    one with a perturbed Jacobian and offset. The result is the fine fixed point (not the
    coarse one), in a few fine evaluations: the iteration contracts by about
    |(I - A_c)^-1 (A - A_c)| (measured 10 evaluations to 1e-12), where Picard on the fine map
    alone (contraction 0.9) needs ~260."""
    from quaddmft._fixed_point import coarse_corrected

    rng = np.random.default_rng(3)
    n = 12
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = q @ np.diag(np.linspace(-0.9, 0.9, n)) @ q.T
    b = rng.standard_normal(n)
    A_c, b_c = A + 0.02 * rng.standard_normal((n, n)) / np.sqrt(n), b + 0.1 * rng.standard_normal(n)
    exact = np.linalg.solve(np.eye(n) - A, b)

    def evaluator(M, v):
        def evaluate(x):
            g = M @ x + v
            return g, np.abs(g - x).max() / np.abs(g).max(), g, {}
        return evaluate

    history = []
    x = coarse_corrected(evaluator(A, b), evaluator(A_c, b_c), np.zeros(n), tol=1e-12,
                         max_iter=20, depth=5, history=history, label="fine", coarse_label="coarse")
    np.testing.assert_allclose(x, exact, rtol=0, atol=1e-10 * np.abs(exact).max())
    fine = [h for h in history if h["stage"] == "fine"]
    assert len(fine) <= 12 and len(history) > len(fine)
    with pytest.raises(qd.ConvergenceError):
        coarse_corrected(evaluator(A, b), evaluator(A_c, b_c), np.zeros(n), tol=1e-12,
                         max_iter=2, depth=5, history=[], label="fine", coarse_label="coarse")
