"""The causal DMFT solver against exact solutions, limits and its own numpy twin."""

import math

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._exact import first_step_gen_error, marchenko_pastur_square_loss
from quaddmft._selection import Chain
from quaddmft._averaging import interpolated_accuracy
from quaddmft._solver import causal_sweep
from quaddmft._sweep import cholesky_append_row, cholesky_jitter, reference_step
from quaddmft._weights import WeightSide

TWO = qd.TwoCluster(alpha=2.0, delta=0.5)
SMALL_QMC = qd.QMC(n_points=128, n_h0=4, n_replicates=4)


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


def test_first_gd_step_from_zero_is_bayes_optimal():
    """R = 0: r(0) = 0 at every node, mu(0) is linear in (c, h0) (summed exactly, Gauss-Hermite
    exact) and M_C(0, 0) constant, so QMC gets the first step exactly: no sampling is involved."""
    problem = qd.Problem(TWO, "logistic", lam=0.0, R=0.0)
    res = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=0.2, rule=SMALL_QMC)
    assert abs(res.gen_error[1] - 0.10295) < 1e-5
    assert abs(res.gen_error[1] - first_step_gen_error(2.0, 0.5)) < 1e-9
    assert res.gen_error_err[1] < 1e-12


def test_persistent_with_b_one_is_full_batch():
    problem = qd.Problem(TWO, "logistic", R=0.01)
    gd = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=2.0, rule=SMALL_QMC)
    for tau in (0.05, 1.0, 7.0):
        psgd = qd.solve(problem, qd.PersistentSGD(1.0, tau), eta=0.2, t_max=2.0, rule=SMALL_QMC)
        for name in ("m", "C", "gen_error", "train_loss", "Gamma", "M_C"):
            np.testing.assert_array_equal(getattr(psgd, name), getattr(gd, name))


def test_persistent_with_tau_eta_over_b_is_sgd():
    problem = qd.Problem(TWO, "logistic", R=0.01)
    b, eta = 0.3, 0.2
    sgd = qd.solve(problem, qd.SGD(b), eta=eta, t_max=3.0, rule=SMALL_QMC)
    psgd = qd.solve(problem, qd.PersistentSGD(b, eta / b), eta=eta, t_max=3.0, rule=SMALL_QMC)
    tol = 3 * np.hypot(sgd.gen_error_err, psgd.gen_error_err) + 1e-12
    assert np.all(np.abs(sgd.gen_error - psgd.gen_error) <= tol)
    # Same uniforms map to the same paths (q = 0), so the agreement is in fact much closer.
    np.testing.assert_allclose(psgd.gen_error, sgd.gen_error, atol=1e-10)


def test_persistent_sgd_differs_from_gd():
    """Guard against a selection law that is silently ignored."""
    problem = qd.Problem(TWO, "logistic", R=0.01)
    gd = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=2.0, rule=SMALL_QMC)
    psgd = qd.solve(problem, qd.PersistentSGD(0.3, 1 / 0.6), eta=0.2, t_max=2.0, rule=SMALL_QMC)
    assert np.max(np.abs(gd.gen_error - psgd.gen_error)) > 10 * psgd.gen_error_err.max()


@pytest.mark.parametrize("mixture, loss, chain", [
    (TWO, qd.Logistic(), Chain(0.3, 0.12, 0.72)),
    (qd.ThreeCluster(alpha=3.0, delta=0.1, L=0.7), qd.Logistic(), Chain(1.0, 1.0, 1.0)),
    (TWO, qd.Square(), Chain(0.5, 0.5, 0.5)),
])
def test_numba_sweep_matches_numpy_twin(mixture, loss, chain):
    problem = qd.Problem(mixture, loss, lam=0.1, R=0.3, m0=0.05)
    eta, K = 0.25, 6
    nodes = qd.QMC(n_points=16, n_h0=3, n_replicates=2).nodes(problem, chain, K, np.random.default_rng(1))
    fast = causal_sweep(problem, chain, eta, K, nodes)

    # The same sweep with the numpy twin of the per-node kernel and a numpy Cholesky.
    alpha, delta = mixture.alpha, mixture.delta
    N = nodes.size
    weights = WeightSide(K, eta, problem.lam, problem.m0, problem.R)
    xi, g, a, rows = np.zeros((N, K)), np.zeros((N, K + 1)), np.zeros((N, K + 1)), []
    M_C, Gamma = np.zeros((K + 1, K + 1)), np.zeros((K + 1, K + 1))
    accuracy = []
    for k in range(K + 1):
        noise_row = np.zeros(K)
        if k:
            scale = np.maximum.accumulate(np.diag(M_C)[:k])
            jitter = [cholesky_jitter(j, scale[j]) for j in range(k)]
            noise_row[:k] = np.linalg.cholesky(M_C[:k, :k] + np.diag(jitter))[k - 1]
        newest_sd = math.sqrt(delta) * (eta * noise_row[k - 1] if k else math.sqrt(problem.R))
        value, rbar = reference_step(k, loss, mixture, delta, eta, weights.m[k], weights.P[k],
                                           math.sqrt(problem.R), weights.R[k], noise_row, newest_sd,
                                           nodes, xi, g, a, rows)
        Gamma[k, : k + 1] = alpha * delta * (nodes.weight * a[:, k]) @ rows[k]
        M_C[k, : k + 1] = M_C[: k + 1, k] = alpha * delta * (nodes.weight * g[:, k]) @ g[:, : k + 1]
        mu = alpha * (nodes.weight * g[:, k]) @ (nodes.c + math.sqrt(delta) * nodes.h0)
        accuracy.append(interpolated_accuracy(nodes, rbar, newest_sd, mixture))
        if k < K:
            weights.advance(k, Gamma[k, : k + 1], mu)
    np.testing.assert_allclose(fast.Gamma, Gamma, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.M_C, M_C, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.m, weights.m, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast.train_accuracy, accuracy, rtol=1e-10, atol=1e-13)


def test_square_loss_beyond_stability_raises_divergence():
    # x+ = 0.5 (1 + sqrt 2)^2 = 2.91; eta > 2/x+ = 0.69 makes |1 - eta x| > 1.
    problem = qd.Problem(qd.PureNoise(alpha=2.0, delta=0.5), "square", R=1.0)
    with pytest.raises(qd.DivergenceError) as info:
        qd.solve(problem, qd.FullBatch(), eta=1.5, t_max=400 * 1.5, rule=qd.QMC(n_points=16, n_h0=1, n_replicates=2))
    assert info.value.step > 0
    assert "blows up" in info.value.reason


@pytest.mark.parametrize("kwargs, name", [
    (dict(eta=0.0, t_max=1.0), "eta"),
    (dict(eta=-0.1, t_max=1.0), "eta"),
    (dict(eta=float("nan"), t_max=1.0), "eta"),
    (dict(eta=0.2, t_max=0.0), "t_max"),
    (dict(eta=0.2, t_max=0.1), "t_max"),
])
def test_bad_solver_input_is_named(kwargs, name):
    problem = qd.Problem(TWO, "logistic")
    with pytest.raises(qd.ParameterError, match=name):
        qd.solve(problem, qd.FullBatch(), rule=SMALL_QMC, **kwargs)


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
    (lambda: qd.Problem(TWO, "nope"), "loss"),
    (lambda: qd.Problem(TWO, "logistic", lam=-1.0), "lam"),
    (lambda: qd.Problem(TWO, "logistic", R=-0.1), "R"),
    (lambda: qd.QMC(n_points=100), "n_points"),
    (lambda: qd.QMC(n_replicates=1), "n_replicates"),
    (lambda: qd.MonteCarlo(n_samples=0), "n_samples"),
])
def test_bad_problem_input_is_named(build, name):
    with pytest.raises(qd.ParameterError, match=name):
        build()


def test_unknown_loss_lists_valid_names():
    with pytest.raises(qd.ParameterError, match="logistic.*square"):
        qd.Problem(TWO, "hinge")


def test_exact_persistent_law_accepts_what_linear_refuses():
    chain = qd.PersistentSGD(0.1, 1 / 0.6, law="exact").chain(0.2)
    assert 0 < chain.p_on < 1 and 0 < chain.p_stay < 1
    np.testing.assert_allclose(chain.marginals(30), 0.1, atol=1e-14)


def test_result_save_load_round_trip(tmp_path):
    problem = qd.Problem(TWO, "logistic", R=0.01)
    res = qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=SMALL_QMC)
    back = qd.load(res.save(tmp_path / "res"))
    assert isinstance(back, qd.DMFTResult)
    for name in ("t", "m", "C", "gen_error", "Gamma", "M_C", "R", "C_perp", "gen_error_err"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.params == res.params and back.status == res.status


def test_same_seed_same_result_and_seed_matters():
    problem = qd.Problem(TWO, "logistic", R=0.1)
    one = qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=qd.QMC(n_points=32, n_h0=2, n_replicates=2, seed=3))
    two = qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=qd.QMC(n_points=32, n_h0=2, n_replicates=2, seed=3))
    other = qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=qd.QMC(n_points=32, n_h0=2, n_replicates=2, seed=4))
    np.testing.assert_array_equal(one.gen_error, two.gen_error)
    assert not np.array_equal(one.gen_error, other.gen_error)


def test_three_cluster_symmetric_state_is_not_kicked_by_the_rule():
    """w -> -w symmetry: from m0 = 0 the DMFT stays at m = 0 (antithetic pairs make the QMC node
    set symmetric), and m0 -> -m0 only flips the sign of m."""
    mixture = qd.ThreeCluster(alpha=3.0, delta=0.1, L=0.7)
    rule = qd.QMC(n_points=32, n_h0=4, n_replicates=2)
    flat = qd.solve(qd.Problem(mixture, "logistic", R=0.01), qd.FullBatch(), eta=0.1, t_max=4.0, rule=rule)
    assert np.abs(flat.m).max() < 1e-14
    np.testing.assert_allclose(flat.gen_error, 0.5, atol=1e-12)
    up = qd.solve(qd.Problem(mixture, "logistic", R=0.01, m0=0.01), qd.FullBatch(), eta=0.1, t_max=1.5, rule=rule)
    down = qd.solve(qd.Problem(mixture, "logistic", R=0.01, m0=-0.01), qd.FullBatch(), eta=0.1, t_max=1.5, rule=rule)
    # Exact in exact arithmetic; the escape from m = 0 is unstable and amplifies round-off
    # (different summation order) by ~4x per step, so compare before it reaches 1e-8.
    np.testing.assert_allclose(down.m, -up.m, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(down.gen_error, up.gen_error, rtol=1e-8)


def _gram_of_smooth_gradients(K, N=5000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.05, 1.0, K)
    modes = np.stack([np.sin((j + 1) * t) / (j + 1) ** 3 for j in range(4)])
    X = np.tanh(3 * rng.standard_normal((N, 4)) @ modes + 0.1 * np.outer(rng.standard_normal(N), t**2))
    return X.T @ X / N


def _causal_factor(M, jitter=cholesky_jitter):
    chol, added = np.zeros_like(M), np.zeros(M.shape[0])
    scale = np.maximum.accumulate(np.diag(M))
    for j in range(M.shape[0]):
        added[j] = jitter(j, scale[j])
        cholesky_append_row(chol, M, j, added[j])
    return chol, added


@pytest.mark.parametrize("K", [120, 400])
def test_causal_cholesky_is_accurate_on_a_rank_deficient_gram_matrix(K):
    """M_C of full-batch GD is the Gram matrix of slowly varying per-node gradients: numerically
    rank-deficient. Unpivoted Cholesky of such a matrix is not backward stable; with the jitter D
    the factor must give L L^T = M + D to round-off, so xi has the covariance M_C up to a white
    noise of relative variance <= 100 (j + 1) eps <= 1e-11 per step here."""
    M = _gram_of_smooth_gradients(K)
    scale = np.diag(M).max()
    assert np.linalg.eigvalsh(M)[0] < 1e-13 * scale  # the hard case is exercised
    plain, _ = _causal_factor(M, lambda j, s: 0.0)
    assert np.abs(plain @ plain.T - M).max() > 1e-3 * scale  # ... and breaks the plain factor
    chol, added = _causal_factor(M)
    assert added.max() <= 1e-11 * scale
    assert np.abs(chol @ chol.T - M - np.diag(added)).max() < 1e-13 * scale


def test_causal_cholesky_of_a_well_conditioned_matrix_is_the_plain_one():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((60, 200))
    M = A @ A.T / 200
    chol, _ = _causal_factor(M)
    np.testing.assert_allclose(chol, np.linalg.cholesky(M), rtol=0, atol=1e-11)


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


def _per_node_and_blocked_response(R, a, k):
    import quaddmft._sweep as sweep_module

    N = a.shape[0]
    R_T = np.ascontiguousarray(R.T)
    per_node, blocked = np.zeros((N, k + 1)), np.zeros((N, k + 1))
    args = (k, 0, 0, 0.0, 0.5, 0.2, 0.3, 1.0, 1.0, R_T, np.zeros(k), 0.0, np.ones(N), np.ones(N),
            np.zeros(N), np.zeros(N), np.zeros((N, k)), np.ones((N, k + 1)), np.zeros((N, k)),
            np.zeros((N, k + 1)), a.copy())
    out = (np.empty(N), np.empty(N))
    sweep_module.effective_step(*args, per_node, *out, True)
    blocks = sweep_module.ResponseBlocks(k, sweep_module.RESPONSE_BLOCK)
    for j in range(k + 1):
        blocks.add_row(R, j)
    sweep_module.response_rows(k, 0.2, 0.5, R, R_T, a, blocked, blocks)
    return per_node, blocked, blocks


def test_blocked_response_rows_equal_the_per_node_substitution():
    """One step, same inputs: the blocked response solves the same triangular systems. A random
    R is incompressible (every block dense), a smooth one low-rank; both must agree."""
    rng = np.random.default_rng(3)
    N, k = 50, 200
    a = rng.random((N, k + 1)) * (rng.random((N, k + 1)) < 0.6)  # zeros: unselected steps
    j, l = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    smooth = np.tril(np.exp(-0.01 * (j - l)) * (1 + 0.3 * np.sin(0.02 * l)), -1)
    for R, dense in ((np.tril(0.5 + 0.5 * rng.random((k + 1, k + 1)), -1), True), (smooth, False)):
        per_node, blocked, blocks = _per_node_and_blocked_response(R, a, k)
        if dense:  # a block with more rows than the rank cap cannot be compressed
            B = blocks.block
            assert all((rank < 0) == (k - (c + 1) * B + 1 > blocks.max_rank)
                       for c, rank in enumerate(blocks.rank[: blocks.n_closed]))
        else:
            closed = blocks.rank[: blocks.n_closed]
            assert closed.max() <= 12 and np.all(closed >= 0)
        assert np.abs(per_node[:, :100]).max() > 1e-3  # long-range entries are not negligible
        np.testing.assert_allclose(blocked, per_node, rtol=1e-12, atol=1e-14 * np.abs(per_node).max())


@pytest.mark.parametrize("schedule", [qd.FullBatch(), qd.SGD(0.4)])
def test_blocked_response_gives_the_same_solution(monkeypatch, schedule):
    """Whole solves with the blocked response forced from k = 2 with small blocks (many block
    boundaries; low-rank under GD). The summation order differs, and the dynamics amplifies
    round-off (~1e-10 relative by K = 60 here), hence the tolerance."""
    import quaddmft._sweep as sweep_module

    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.05, R=0.5)
    rule = qd.QMC(n_points=32, n_h0=4, n_replicates=2)
    plain = qd.solve(problem, schedule, eta=0.2, t_max=12.0, rule=rule)
    monkeypatch.setattr(sweep_module, "BLOCKED_RESPONSE_FROM", 2)
    monkeypatch.setattr(sweep_module, "RESPONSE_BLOCK", 7)
    blocked = qd.solve(problem, schedule, eta=0.2, t_max=12.0, rule=rule)
    for name in ("Gamma", "M_C", "m", "C", "train_loss", "train_accuracy"):
        scale = np.abs(getattr(plain, name)).max()
        np.testing.assert_allclose(getattr(blocked, name), getattr(plain, name), rtol=0,
                                   atol=1e-8 * scale, err_msg=name)


def test_a_sweep_beyond_the_memory_limit_is_refused_before_allocating():
    """The (K+1)^2 kernels count too: 2 nodes but K = 20000 need ~19 GiB of kernel matrices."""
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.0, R=0.01)
    with pytest.raises(qd.ParameterError, match=r"\(K\+1\)\^2 kernels"):
        qd.solve(problem, eta=0.01, t_max=200.0, rule=qd.MonteCarlo(n_samples=2, n_replicates=2))
