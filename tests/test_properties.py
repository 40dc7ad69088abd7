"""Property-based tests: limits, invariants and exact solutions of the DMFT and the simulator.

Every property is checked over hypothesis-drawn valid parameters (``quaddmft.testing``) with short
horizons. Exact statements are checked to round-off with deterministic test-local rules
(``property_rules``); statistical ones within the reported error bars (derandomized profile "ci";
``HYPOTHESIS_PROFILE=deep`` explores more). Long variants are marked ``slow``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quaddmft as qd
from quaddmft._observables import CURVES, KERNELS
from quaddmft._simulator import _selection_paths, seed_sequences, simulate_seed
from quaddmft.references import bayes_optimal_error, marchenko_pastur_square_loss
from catalogue import SMALL_QMC, TWO_CLUSTER
from property_rules import PathEnumeration, Relabelled, SigmaPoints, all_paths
from strategies import (
    alphas, batch_fractions, deltas, door_widths, horizons, init_variances, invalid_reals, lams,
    mixtures, problems, schedules, stability_limit, stable_step_sizes,
)


def assert_finite(res):
    """No NaN or inf in any array of a result."""
    for name, value in vars(res).items():
        if isinstance(value, np.ndarray):
            assert np.all(np.isfinite(value)), f"{name} has non-finite entries"


def assert_same_solution(a, b, atol=1e-12, names=CURVES + KERNELS):
    """Equal up to round-off, measured against the largest entry of the solution (a quantity
    that vanishes by cancellation, such as mu at m = 0, carries the round-off of its summands)."""
    scale = max(1.0, max(float(np.max(np.abs(getattr(a, name)))) for name in names))
    for name in names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol * scale,
                                   err_msg=name)


def sup_distance(a, b, names=("m", "C", "train_loss")):
    return max(float(np.max(np.abs(getattr(a, n) - getattr(b, n)))) for n in names)


@st.composite
def short_runs(draw, mixture=None, loss=None, K=horizons(3, 8)):
    problem = draw(problems(mixture=mixture, loss=loss))
    eta = draw(stable_step_sizes(problem))
    return problem, eta, draw(K)


# --------------------------------------------------------------------------- gradient-flow limit
@given(run=short_runs(), tau=st.floats(1e-3, 10.0))
def test_batch_one_is_full_batch_to_machine_precision(run, tau):
    problem, eta, K = run
    gd = qd.solve(problem, qd.FullBatch(), eta=eta, t_max=K * eta, rule=SMALL_QMC)
    assert_finite(gd)
    for schedule in (qd.SGD(1.0), qd.PersistentSGD(1.0, tau), qd.PersistentSGD(1.0, tau, law=qd.ExactLaw())):
        other = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC)
        assert_same_solution(gd, other, atol=1e-15)


@given(run=short_runs(K=horizons(2, 6)), tau=st.floats(1e-3, 10.0))
def test_simulator_batch_one_is_full_batch_path_by_path(run, tau):
    problem, eta, K = run
    d = 80
    for seed_seq in seed_sequences(11, 2):
        paths = [simulate_seed(problem, s.chain(eta), eta=eta, K=K, d=d, seed_seq=seed_seq)
                 for s in (qd.FullBatch(), qd.SGD(1.0), qd.PersistentSGD(1.0, tau))]
        for other in paths[1:]:
            for name in CURVES:
                np.testing.assert_array_equal(getattr(paths[0], name), getattr(other, name))


# --------------------------------------------------------------------------------- SGD limit
@given(run=short_runs(mixture=mixtures(("two", "three")), K=horizons(2, 5)), b=batch_fractions())
def test_persistent_at_tau_eta_over_b_equals_sgd_exactly(run, b):
    """PersistentSGD(b, eta/b) has q = 0: the same path law as SGD(b); exact s-path enumeration."""
    problem, eta, K = run
    rule = PathEnumeration(n_gauss=4, n_h0=2)
    sgd = qd.solve(problem, qd.SGD(b), eta=eta, t_max=K * eta, rule=rule)
    psgd = qd.solve(problem, qd.PersistentSGD(b, eta / b), eta=eta, t_max=K * eta, rule=rule)
    assert_finite(sgd)
    assert_same_solution(sgd, psgd, atol=1e-12)
    # ... and not by accident: a persistent chain (q > 0) differs.
    slow = qd.solve(problem, qd.PersistentSGD(b, 4 * eta / b), eta=eta, t_max=K * eta, rule=rule)
    assert sup_distance(slow, sgd, ("C", "train_loss")) > 1e-9


@settings(max_examples=8)
@given(run=short_runs(mixture=mixtures(("two",)), loss=st.just("logistic"), K=horizons(3, 6)),
       b=batch_fractions())
def test_persistent_at_tau_eta_over_b_equals_sgd_in_law_with_sampling(run, b):
    """Independent QMC randomisations of the two schedules agree within 5 combined standard errors
    (16 replicates each, so the error estimates themselves are reliable)."""
    problem, eta, K = run
    rule_a = qd.QMC(n_points=32, n_h0=4, n_replicates=16, seed=1)
    rule_b = qd.QMC(n_points=32, n_h0=4, n_replicates=16, seed=2)
    sgd = qd.solve(problem, qd.SGD(b), eta=eta, t_max=K * eta, rule=rule_a)
    psgd = qd.solve(problem, qd.PersistentSGD(b, eta / b), eta=eta, t_max=K * eta, rule=rule_b)
    for name in CURVES:
        sigma = np.hypot(getattr(sgd, f"{name}_err"), getattr(psgd, f"{name}_err"))
        diff = np.abs(getattr(sgd, name) - getattr(psgd, name))
        assert np.all(diff <= 5 * sigma + 1e-13), (name, diff, sigma)


@given(run=short_runs(mixture=mixtures(("two", "three")), K=horizons(3, 5)), b=batch_fractions())
def test_persistent_approaches_sgd_monotonically_as_tau_decreases(run, b):
    """D(tau) = sup_t (|m - m_SGD| + |C - C_SGD| + |e - e_SGD|) decreases as tau -> eta/b.

    tau = eta / (b (1 - q)) with q (the one-step autocorrelation of s) = 0.8, 0.4, 0.2, 0.1, 0.05.
    """
    problem, eta, K = run
    rule = PathEnumeration(n_gauss=4, n_h0=2)
    sgd = qd.solve(problem, qd.SGD(b), eta=eta, t_max=K * eta, rule=rule)
    distances = []
    for q in (0.8, 0.4, 0.2, 0.1, 0.05):
        res = qd.solve(problem, qd.PersistentSGD(b, eta / (b * (1 - q))), eta=eta, t_max=K * eta, rule=rule)
        distances.append(sup_distance(res, sgd))
    assert all(later < earlier for earlier, later in zip(distances, distances[1:])), distances


# ---------------------------------------------------------------------- continuous-time limit
def continuous_time_order(problem, schedule_at, etas, t_grid, rule):
    """Observed order p = log2(|X(h) - X(h/2)| / |X(h/2) - X(h/4)|), X = (m, C, e, eps) on t_grid."""
    curves, noise = [], 0.0
    for eta in etas:
        res = qd.solve(problem, schedule_at(eta), eta=eta, t_max=t_grid[-1], rule=rule)
        assert_finite(res)
        idx = np.rint(np.asarray(t_grid) / eta).astype(int)
        np.testing.assert_allclose(res.t[idx], t_grid, atol=1e-12)
        names = ("m", "C", "train_loss", "gen_error")
        curves.append(np.concatenate([getattr(res, n)[idx] for n in names]))
        noise = max(noise, max(float(np.max(getattr(res, f"{n}_err")[idx])) for n in names))
    e1 = np.max(np.abs(curves[0] - curves[1]))
    e2 = np.max(np.abs(curves[1] - curves[2]))
    # The order is only measurable if the rule's error is far below the differences.
    assert e2 >= 10 * noise, f"averaging error {noise:.2g} too large against {e2:.2g}"
    return math.log2(e1 / e2), e1, e2


@settings(max_examples=3)
@given(problem=problems(mixture=st.builds(qd.TwoCluster, alphas(0.5, 3.0), deltas(0.2, 1.0)),
                        loss=st.just("logistic"), lam=lams(0.0, 0.5), R=init_variances(0.1, 1.0)))
def test_continuous_time_limit_is_first_order(problem):
    """GD at eta, eta/2, eta/4 up to t = 10 eta: the discretisation error halves with eta.

    The second-order term shifts the observed order by O(eta) (measured 1.08-1.13 at alpha = 2,
    Delta = 0.5, lambda = 0.1, R = 0.5; 1.06-1.10 at alpha = Delta = 1, R = 1), far from 2 (a second-order scheme) or 0 (no limit);
    the QMC error (~3e-5) must be small against the differences (~3e-3), which is checked.
    No deep variant yet: wider ranges need more nodes than CI affords to keep the QMC error 10
    times below the differences (at alpha = 2.7, Delta = 1, R = 1 it is 1/9.7 with 1024 x 6 x 4
    nodes), and over 10 coarse steps the training loss can be pre-asymptotic (alpha = 4,
    Delta = 1.7, R = 1.3: order 0.64; 0.91-1.05 over 40 steps)."""
    rule = qd.QMC(n_points=1024, n_h0=6, n_replicates=4, seed=0)  # 128 points: error ~ differences
    # Asymptotic regime: the largest step is a tenth of the stability limit (the first failing
    # draw, eta = 0.2 at 0.4 of the limit, showed an observed order 0.74: pre-asymptotic).
    eta = min(0.2, 0.1 * stability_limit(problem))
    order, e1, e2 = continuous_time_order(problem, lambda eta: qd.FullBatch(), (eta, eta / 2, eta / 4),
                                          [2 * eta, 4 * eta, 6 * eta, 8 * eta, 10 * eta], rule)
    assert 0.8 <= order <= 1.3, (order, e1, e2)


# ---------------------------------------------------------------------------- selection law
@given(b=batch_fractions(), data=st.data(), K=st.integers(1, 7))
def test_selection_law_exact(b, data, K):
    eta = data.draw(st.floats(0.01, 0.5))
    schedule = data.draw(schedules(eta, kinds=("sgd", "persistent", "persistent-exact")).filter(
        lambda s: True).map(lambda s: s))
    chain = schedule.chain(eta)
    b = chain.b
    paths = all_paths(K)
    w = qd._selection.path_probability(chain, paths)
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-14)
    np.testing.assert_allclose(w @ paths, b, atol=1e-13)  # P(s(k) = 1) = b at every step
    lag = np.abs(np.subtract.outer(np.arange(K + 1), np.arange(K + 1)))
    expected = b**2 + b * (1 - b) * chain.q**lag
    np.testing.assert_allclose((paths * w[:, None]).T @ paths, expected, atol=1e-13)
    np.testing.assert_allclose(chain.correlation(K), expected, atol=1e-13)
    np.testing.assert_allclose(chain.marginals(K), b, atol=1e-13)
    if isinstance(schedule, qd.PersistentSGD) and schedule.law == qd.LinearLaw():
        np.testing.assert_allclose(chain.q, 1 - eta / (b * schedule.tau), atol=1e-14)
    elif isinstance(schedule, qd.SGD):
        assert chain.q == 0.0


@given(b=batch_fractions(), data=st.data())
def test_selection_law_statistics_of_sampled_paths(b, data):
    """The simulator's selection paths (the uniforms -> paths map it shares with the solver) have
    the law of section 5: P(s(k) = 1) = b and <s(k) s(k+l)> = b^2 + b (1-b) q^l, within 5 s.e."""
    eta = 0.1
    schedule = data.draw(schedules(eta, kinds=("sgd", "persistent", "persistent-exact")))
    chain = schedule.chain(eta)
    n, K = 20000, 6
    s = _selection_paths(chain, n, K, np.random.default_rng(data.draw(st.integers(0, 1000))))
    b = chain.b
    for k in range(K + 1):
        assert abs(s[:, k].mean() - b) <= 5 * math.sqrt(b * (1 - b) / n)
    for lag in (1, 2, 3):
        prod = s[:, :-lag] * s[:, lag:]
        expected = b**2 + b * (1 - b) * chain.q**lag
        # expected = 0 (p_stay = 0 at the linear law's boundary tau = eta (1-b)/b, odd lags): exact.
        sd = math.sqrt(max(expected * (1 - expected), 0.0) / n)
        assert np.all(np.abs(prod.mean(axis=0) - expected) <= 5 * sd + 1e-12), (lag, prod.mean(axis=0), expected)


# ------------------------------------------------------------------- square loss is exact (MP)
@st.composite
def mp_cases(draw):
    alpha = draw(st.one_of(st.floats(0.2, 0.7), st.floats(1.4, 4.0)))
    delta, lam, R = draw(deltas()), draw(lams()), draw(init_variances())
    top = lam + delta * (1 + math.sqrt(alpha)) ** 2
    eta = draw(st.floats(0.05, 1.9)) / top  # within stability: |1 - eta (lam + x)| < 1
    # K <= 12: beyond, round-off amplification in the sweep reaches 1e-9 of the initial scale
    # for some (rotated) exact node sets -- see the report of issue 5.
    return alpha, delta, lam, R, eta, draw(st.integers(1, 12))


@given(case=mp_cases())
def test_square_loss_pure_noise_is_marchenko_pastur_exactly(case):
    alpha, delta, lam, R, eta, K = case
    problem = qd.Problem(qd.PureNoise(alpha, delta), "square", lam=lam, R=R)
    res = qd.solve(problem, eta=eta, t_max=K * eta, rule=SigmaPoints())
    C, e = marchenko_pastur_square_loss(alpha, delta, eta, lam, R, K)
    # Round-off is relative to the initial scale (the loss decays by cancellation).
    np.testing.assert_allclose(res.C, C, rtol=1e-10, atol=1e-12 * C[0])
    np.testing.assert_allclose(res.train_loss, e, rtol=1e-10, atol=1e-12 * e[0])
    np.testing.assert_allclose(res.m, 0.0, rtol=0, atol=1e-14 * math.sqrt(R))


@settings(max_examples=5)
@given(case=mp_cases())
def test_square_loss_pure_noise_qmc_within_error_bars(case):
    alpha, delta, lam, R, eta, K = case
    problem = qd.Problem(qd.PureNoise(alpha, delta), "square", lam=lam, R=R)
    res = qd.solve(problem, eta=eta, t_max=K * eta, rule=qd.QMC(n_points=64, n_h0=4, n_replicates=16))
    C, e = marchenko_pastur_square_loss(alpha, delta, eta, lam, R, K)
    assert np.all(np.abs(res.C - C) <= 5 * res.C_err + 1e-12 * R)
    assert np.all(np.abs(res.train_loss - e) <= 5 * res.train_loss_err + 1e-12 * R)


# -------------------------------------------------------------------------------- symmetries
@given(run=short_runs(mixture=mixtures(("three",)), K=horizons(2, 4)), m0=st.floats(0.01, 0.5),
       b=st.one_of(st.just(1.0), batch_fractions()))
def test_three_cluster_invariant_under_m0_sign(run, m0, b):
    problem, eta, K = run
    schedule = qd.FullBatch() if b == 1.0 else qd.SGD(b)
    rule = PathEnumeration(n_gauss=4, n_h0=3, full_clusters=True)  # antithetic: symmetric nodes
    plus = qd.solve(qd.Problem(problem.mixture, problem.loss, problem.lam, problem.R, m0),
                    schedule, eta=eta, t_max=K * eta, rule=rule)
    minus = qd.solve(qd.Problem(problem.mixture, problem.loss, problem.lam, problem.R, -m0),
                     schedule, eta=eta, t_max=K * eta, rule=rule)
    for name in ("m", "mu"):  # odd under w -> -w
        scale = max(1.0, float(np.max(np.abs(getattr(plus, name)))))
        np.testing.assert_allclose(getattr(minus, name), -getattr(plus, name), rtol=0,
                                   atol=1e-12 * scale, err_msg=name)
    assert_same_solution(plus, minus, names=("C", "gen_error", "train_loss", "train_accuracy",
                                             "Gamma", "M_C", "response", "P", "C_perp"))


@given(m=st.floats(0.0, 10.0), C=st.floats(1e-6, 100.0), delta=deltas())
def test_two_cluster_gen_error_range(m, C, delta):
    mixture = qd.TwoCluster(2.0, delta)
    eps = float(mixture.gen_error(m, C))
    assert 0.0 <= eps <= 0.5
    assert float(mixture.gen_error(0.0, C)) == 0.5
    assert abs(float(mixture.gen_error(-m, C)) - (1.0 - eps)) < 1e-14  # c -> -c swaps right and wrong
    if m > 1e-6 * math.sqrt(delta * C):  # resolvable in double precision
        assert eps < 0.5


@given(run=short_runs(mixture=mixtures(("two", "three")), K=horizons(2, 6)),
       schedule_kind=st.sampled_from(["gd", "sgd"]), b=batch_fractions())
def test_relabelling_clusters_changes_nothing(run, schedule_kind, b):
    problem, eta, K = run
    schedule = qd.FullBatch() if schedule_kind == "gd" else qd.SGD(b)
    problem = qd.Problem(problem.mixture, problem.loss, problem.lam, problem.R, m0=0.1)
    a = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC)
    mirrored = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=Relabelled(SMALL_QMC))
    assert_same_solution(a, mirrored, atol=1e-12)


# -------------------------------------------------------------------------------- first step
@given(alpha=alphas(0.05, 20.0), delta=deltas(0.05, 5.0), eta=st.floats(0.01, 2.0),
       loss=st.sampled_from(["logistic", "square", "squared-hinge"]))
def test_first_gd_step_from_zero_is_bayes_optimal(alpha, delta, eta, loss):
    """R = 0: r(0) = 0 at every node, mu(0) is linear in (c, h0) (summed exactly, Gauss-Hermite
    exact) and M_C(0, 0) constant, so QMC gets the first step exactly: no sampling is involved
    (every replicate agrees: no error bar)."""
    problem = qd.Problem(qd.TwoCluster(alpha, delta), loss, lam=0.0, R=0.0)
    res = qd.solve(problem, eta=eta, t_max=eta, rule=SMALL_QMC)
    np.testing.assert_allclose(res.gen_error[1], bayes_optimal_error(alpha, delta), rtol=1e-12)
    assert res.gen_error_err[1] < 1e-12
    np.testing.assert_allclose(res.m[1], eta * alpha * abs(qd.Logistic().terms(1.0, 0.0)[1])
                               * (2.0 if loss != "logistic" else 1.0), rtol=1e-12)


# ---------------------------------------------------------------------------- monotonicity
@st.composite
def gd_descent_cases(draw):
    problem = draw(problems(mixture=mixtures(("two",)), loss=st.sampled_from(["logistic", "squared-hinge"])))
    eta = draw(st.floats(0.05, 0.5)) * stability_limit(problem)
    return problem, eta, draw(horizons(3, 15))


@given(case=gd_descent_cases())
def test_gd_training_objective_is_non_increasing(case):
    """Small-eta GD decreases H/d = e + lam C/2: in the simulator path by path (descent lemma,
    eta < 2/Lipschitz), and in the DMFT."""
    problem, eta, K = case
    sim = qd.simulate(problem, eta=eta, t_max=K * eta, d=200, seeds=2, seed=5)
    objective = sim.train_loss + 0.5 * problem.lam * sim.C
    assert np.all(np.diff(objective) <= 1e-14 * objective[:-1]), np.diff(objective)
    res = qd.solve(problem, eta=eta, t_max=K * eta, rule=SMALL_QMC)
    objective = res.train_loss + 0.5 * problem.lam * res.C
    assert np.all(np.diff(objective) <= 0.0), np.diff(objective)


# ---------------------------------------------------------------------- simulator versus DMFT
FINITE_D_COEFFICIENT = 4.0  # as in test_dmft_vs_simulator: O(1/d) self-averaging bias


def check_dmft_against_simulation(problem, schedule, eta, K, d, seeds):
    # n_h0 = 8: with 4 Gauss-Hermite nodes for h0 the training accuracy at small Delta is biased
    # by 7e-3, invisibly to the replicate spread (see the report of issue 5).
    dmft = qd.solve(problem, schedule, eta=eta, t_max=K * eta,
                    rule=qd.QMC(n_points=64, n_h0=8, n_replicates=8, seed=0))
    sim = qd.simulate(problem, schedule, eta=eta, t_max=K * eta, d=d, seeds=seeds, seed=1)
    assert_finite(dmft)
    assert_finite(sim)
    for name, relative in {"gen_error": False, "train_accuracy": False, "train_loss": True,
                           "m": True, "C": True}.items():
        theory, measured = getattr(dmft, name), getattr(sim, name)
        sigma = np.hypot(getattr(sim, f"{name}_err"), getattr(dmft, f"{name}_err"))
        allowance = FINITE_D_COEFFICIENT / d * (np.abs(theory) if relative else 1.0)
        assert np.all(np.abs(theory - measured) <= 4 * sigma + allowance), (
            name, theory, measured, sigma)


@st.composite
def dmft_sim_cases(draw):
    problem = draw(problems(mixture=mixtures(("two",)), loss=losses_convex()))
    eta = draw(stable_step_sizes(problem))
    schedule = draw(schedules(eta))
    return problem, schedule, eta, draw(horizons(3, 10))


def losses_convex():
    return st.sampled_from(["logistic", "square", "squared-hinge"])


@settings(max_examples=6)
@given(case=dmft_sim_cases())
def test_dmft_within_simulation_error_bars(case):
    problem, schedule, eta, K = case
    check_dmft_against_simulation(problem, schedule, eta, K, d=500, seeds=8)


@pytest.mark.slow
@settings(max_examples=40)
@given(case=dmft_sim_cases())
def test_dmft_within_simulation_error_bars_deep(case):
    problem, schedule, eta, K = case
    check_dmft_against_simulation(problem, schedule, eta, K, d=1000, seeds=12)


# -------------------------------------------------------------------------------- bad input
BAD_INPUT = {
    "alpha": (lambda v: qd.TwoCluster(v, 0.5), dict(low=0.0)),
    "delta": (lambda v: qd.TwoCluster(2.0, v), dict(low=0.0)),
    "L": (lambda v: qd.ThreeCluster(2.0, 0.5, v), dict(low=0.0)),
    "lam": (lambda v: qd.Problem(qd.TwoCluster(2.0, 0.5), lam=v), dict(low=0.0, low_open=False)),
    "R": (lambda v: qd.Problem(qd.TwoCluster(2.0, 0.5), R=v), dict(low=0.0, low_open=False)),
    "m0": (lambda v: qd.Problem(qd.TwoCluster(2.0, 0.5), m0=v), dict(low=None)),
    "b": (lambda v: qd.SGD(v), dict(low=0.0, high=1.0, high_open=False)),
    "tau": (lambda v: qd.PersistentSGD(0.5, v), dict(low=0.0)),
    "eta": (lambda v: qd.solve(TWO_CLUSTER, eta=v, t_max=1.0, rule=SMALL_QMC), dict(low=0.0)),
    "t_max": (lambda v: qd.solve(TWO_CLUSTER, eta=0.2, t_max=v, rule=SMALL_QMC), dict(low=0.0)),
}


@given(name=st.sampled_from(sorted(BAD_INPUT)), data=st.data())
def test_invalid_parameter_raises_parameter_error_naming_it(name, data):
    build, interval = BAD_INPUT[name]
    value = data.draw(invalid_reals(**interval))
    with pytest.raises(qd.ParameterError, match=rf"\b{name}\b"):
        build(value)


@given(b=batch_fractions(), eta=st.floats(0.05, 1.0), shrink=st.floats(0.01, 0.99))
def test_linear_law_refuses_too_small_tau(b, eta, shrink):
    tau = shrink * eta * max(1.0, (1.0 - b) / b)
    with pytest.raises(qd.ParameterError, match="tau"):
        qd.PersistentSGD(b, tau).chain(eta)
    qd.PersistentSGD(b, tau, law=qd.ExactLaw()).chain(eta)  # always valid


@given(alpha=st.one_of(st.floats(0.2, 0.7), st.floats(1.4, 4.0)), delta=deltas(), lam=lams(0.0, 0.5),
       factor=st.floats(4.0, 20.0))
def test_divergence_beyond_stability_returns_a_diverged_result(alpha, delta, lam, factor):
    """Square loss on pure noise with eta = factor * 2 / (lam + x_+): |w|^2 grows geometrically."""
    problem = qd.Problem(qd.PureNoise(alpha, delta), "square", lam=lam, R=1.0)
    eta = factor * 2.0 / (lam + delta * (1 + math.sqrt(alpha)) ** 2)
    for run in (lambda: qd.solve(problem, eta=eta, t_max=150 * eta,
                                 rule=qd.QMC(n_points=8, n_h0=1, n_replicates=2)),
                lambda: qd.simulate(problem, eta=eta, t_max=400 * eta, d=50, seeds=2)):
        with pytest.warns(RuntimeWarning, match="diverged"):
            res = run()
        assert res.status is qd.Status.DIVERGED and "diverged at step k = " in res.message
        assert 2 <= res.t.size <= 150 and np.all(np.isfinite(res.C))


@given(run=short_runs(), data=st.data())
def test_no_nan_reaches_a_result(run, data):
    problem, eta, K = run
    schedule = data.draw(schedules(eta))
    assert_finite(qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC))
    assert_finite(qd.simulate(problem, schedule, eta=eta, t_max=K * eta, d=60, seeds=2))
