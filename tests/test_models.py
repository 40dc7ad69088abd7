"""Teacher-student data, momentum, Langevin noise and the spherical constraint (docs/theory.md
section 8): exact solutions, limits, equivalences, the Gibbs measure and fluctuation-dissipation.

Exact statements are checked to round-off with the test-local Gaussian-exact rule
``LabelSigmaPoints`` (``property_rules``: sigma points over the Gaussian path, two Gauss-Hermite
nodes per label variable; every kernel of the square loss on a linear teacher is a quadratic
form, so the rule is exact); the default ``Quadrature`` rule within its own error estimate.
Parameters are drawn with hypothesis (``quaddmft.testing``), horizons kept short.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quaddmft as qd
from quaddmft._observables import CURVES, KERNELS
from quaddmft._problem import Clusters, Mixture
from quaddmft._simulator import seed_sequences, simulate_seed
from quaddmft.references import langevin_stationary, linear_dynamics, ridge_regression
from catalogue import SMALL_QMC, TWO_CLUSTER
from property_rules import LabelSigmaPoints
from strategies import alphas, init_variances, lams, mixtures, schedules, stable_step_sizes

EXACT = LabelSigmaPoints()
MOMENTA = {"gd": (None, {}), "heavy-ball": (qd.HeavyBall(0.6), {"beta": 0.6}),
           "nesterov": (qd.Nesterov(0.6), {"beta": 0.6, "nesterov": True})}


def assert_same_solution(a, b, atol, names=CURVES + KERNELS):
    scale = max(1.0, max(float(np.max(np.abs(getattr(a, n)))) for n in names))
    for name in names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol * scale,
                                   err_msg=name)


def teacher_student(alpha, noise, lam, R, m0=0.0, **kw):
    return qd.Problem(qd.TeacherStudent(alpha, "linear", noise=noise), "square", lam=lam, R=R,
                      m0=m0, **kw)


def _exact(problem, eta, K, momentum_kw, spherical=False):
    return linear_dynamics(problem.alpha, eta, K, noise=problem.mixture.noise, lam=problem.lam,
                           R=problem.R, m0=problem.m0, temperature=problem.temperature,
                           spherical=spherical, **momentum_kw)


# ------------------------------------------------------------------ exact linear dynamics (8.12)
@settings(max_examples=6)
@pytest.mark.parametrize("momentum_name", sorted(MOMENTA))
@given(alpha=alphas(), noise=st.floats(0.0, 1.0), lam=lams(), R=init_variances(),
       m0=st.floats(-0.5, 0.5), T=st.sampled_from([0.0, 0.3]), K=st.integers(4, 10),
       data=st.data())
def test_linear_teacher_dynamics_is_the_exact_spectral_solution(momentum_name, alpha, noise, lam,
                                                                R, m0, T, K, data):
    """Heavy ball, Nesterov and GD, with and without Langevin noise, square loss on a linear
    teacher: the DMFT equals the Marchenko-Pastur solution (8.12) to round-off (1e-10 asked)."""
    problem = teacher_student(alpha, noise, lam, R, m0, temperature=T)
    eta = data.draw(stable_step_sizes(problem))
    momentum, kw = MOMENTA[momentum_name]
    res = qd.solve(problem, eta=eta, t_max=K * eta, rule=EXACT, momentum=momentum)
    m, C, e = _exact(problem, eta, K, kw)
    for name, exact in (("m", m), ("C", C), ("train_loss", e)):
        np.testing.assert_allclose(getattr(res, name), exact, rtol=0,
                                   atol=1e-10 * max(1.0, np.abs(exact).max()), err_msg=name)


@pytest.mark.parametrize("momentum_name", ["heavy-ball", "nesterov"])
def test_momentum_with_the_default_rule_is_exact_within_its_estimate(momentum_name):
    """The default Quadrature rule (two rungs) on the same problem: within its own refinement
    estimate of the exact solution, and close in absolute terms."""
    problem = teacher_student(2.0, 0.1, 0.1, 0.5, 0.2)
    momentum, kw = MOMENTA[momentum_name]
    res = qd.solve(problem, eta=0.2, t_max=3.0, rule=qd.Quadrature(resolution=1), momentum=momentum)
    m, C, e = _exact(problem, 0.2, 15, kw)
    for name, exact in (("m", m), ("C", C), ("train_loss", e)):
        error = np.abs(getattr(res, name) - exact)
        assert np.all(error <= getattr(res, f"{name}_err") + 1e-12), name
        assert error.max() < 1e-3, name


def test_spherical_linear_dynamics_is_exact():
    """The spherical projection (8.9), with Langevin noise, against (8.12) with its normalisation."""
    problem = teacher_student(1.5, 0.2, 0.0, 0.64, 0.6, temperature=0.2, constraint=qd.Spherical())
    res = qd.solve(problem, eta=0.2, t_max=2.4, rule=EXACT)
    m, C, e = _exact(problem, 0.2, 12, {}, spherical=True)
    np.testing.assert_allclose(res.m, m, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.train_loss, e, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.C, 1.0, rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------------- limits
def _short_runs():
    problems_ = st.one_of(
        mixtures(("two", "noise")).flatmap(lambda mix: st.builds(
            qd.Problem, st.just(mix), st.sampled_from(["logistic", "square"]), lam=lams(),
            R=init_variances())),
        st.builds(qd.TeacherStudent, alphas(), st.sampled_from(["linear", "sign"]),
                  st.floats(0.0, 0.5), st.sampled_from([0.0, 0.1])).map(
            lambda ts: qd.Problem(ts, "square" if ts.teacher.name == "linear" else "logistic",
                                  lam=0.1, R=0.3)),
    )
    return problems_


@settings(max_examples=8)
@given(problem=_short_runs(), K=st.integers(2, 6), data=st.data())
def test_beta_zero_is_plain_gradient_descent(problem, K, data):
    """HeavyBall(0) and Nesterov(0) are plain (S)GD to machine precision, for every schedule."""
    eta = data.draw(stable_step_sizes(problem))
    schedule = data.draw(schedules(eta))
    plain = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC)
    for momentum in (qd.HeavyBall(0.0), qd.Nesterov(0.0)):
        res = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC, momentum=momentum)
        assert_same_solution(plain, res, atol=1e-12)
    if np.ptp(plain.C) > 1e-6:  # (pure noise with a margin loss does not move at all)
        moving = qd.solve(problem, schedule, eta=eta, t_max=K * eta, rule=SMALL_QMC,
                          momentum=qd.HeavyBall(0.5))
        assert np.abs(moving.C - plain.C).max() > 1e-8  # ... and beta does something


@settings(max_examples=5)
@given(problem=_short_runs(), K=st.integers(2, 5), data=st.data())
def test_beta_zero_and_zero_temperature_in_the_simulator(problem, K, data):
    """Simulator, path by path: beta = 0 is plain (S)GD to machine precision; T = 0 draws no
    noise (bit for bit); T > 0 moves the path."""
    eta = data.draw(stable_step_sizes(problem))
    chain = data.draw(schedules(eta)).chain(eta)
    for seed_seq in seed_sequences(5, 2):
        run = dict(eta=eta, K=K, d=60, seed_seq=seed_seq)
        plain = simulate_seed(problem, chain, **run)
        cold = simulate_seed(dataclasses.replace(problem, temperature=0.0), chain, **run)
        warm = simulate_seed(dataclasses.replace(problem, temperature=0.1), chain, **run)
        for name in CURVES:
            np.testing.assert_array_equal(getattr(cold, name), getattr(plain, name))
        assert np.abs(warm.C - plain.C).max() > 1e-6
        for momentum in (qd.HeavyBall(0.0), qd.Nesterov(0.0)):
            other = simulate_seed(problem, chain, momentum=momentum, **run)
            for name in CURVES:
                np.testing.assert_allclose(getattr(other, name), getattr(plain, name), rtol=1e-12,
                                           atol=1e-13, err_msg=name)


def test_zero_temperature_is_no_noise_and_small_temperature_is_continuous():
    """T = 0 is the noiseless solve bit for bit; the Langevin term (8.8) is linear in T (a
    T = 1e-9 solve differs by O(T), a T = 0.1 solve by O(1)). A sampled rule, whose nodes do not
    depend on T (Quadrature changes its rungs under noise: docs/theory.md section 8.3)."""
    rule = SMALL_QMC
    base = qd.solve(TWO_CLUSTER, qd.SGD(0.5), eta=0.2, t_max=1.0, rule=rule)
    zero = qd.solve(dataclasses.replace(TWO_CLUSTER, temperature=0.0), qd.SGD(0.5), eta=0.2,
                    t_max=1.0, rule=rule)
    for name in CURVES + KERNELS:
        np.testing.assert_array_equal(getattr(zero, name), getattr(base, name), err_msg=name)
    tiny = qd.solve(dataclasses.replace(TWO_CLUSTER, temperature=1e-9), qd.SGD(0.5), eta=0.2,
                    t_max=1.0, rule=rule)
    warm = qd.solve(dataclasses.replace(TWO_CLUSTER, temperature=0.1), qd.SGD(0.5), eta=0.2,
                    t_max=1.0, rule=rule)
    assert np.abs(tiny.C - base.C).max() < 1e-8
    assert np.abs(warm.C - base.C).max() > 1e-2


@pytest.mark.parametrize("problem", [
    qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=1.0, constraint=qd.Spherical()),
    qd.Problem(qd.TeacherStudent(2.0, "sign", noise=0.1), "logistic", R=0.75, m0=0.5,
               constraint=qd.Spherical(), temperature=0.05),
    qd.Problem(qd.ThreeCluster(3.0, 0.05, 0.7), "logistic", R=1.0, constraint=qd.Spherical()),
], ids=["two-cluster", "teacher-student-langevin", "three-cluster"])
@pytest.mark.parametrize("schedule", [qd.FullBatch(), qd.SGD(0.4)], ids=["gd", "sgd"])
def test_spherical_constraint_keeps_the_norm_exactly(problem, schedule):
    """C(t) = 1 at every step, in the DMFT and at finite d, to round-off (8.9)."""
    res = qd.solve(problem, schedule, eta=0.2, t_max=1.2, rule=qd.Quadrature(resolution=1))
    np.testing.assert_allclose(res.C, 1.0, rtol=0, atol=1e-13)
    assert np.abs(np.diff(res.m)).max() > 1e-4 or problem.mixture.w_sign_symmetric
    sim = qd.simulate(problem, schedule, eta=0.2, t_max=1.2, d=300, seeds=2)
    np.testing.assert_allclose(sim.C, 1.0, rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------ equivalences
@dataclasses.dataclass(frozen=True)
class CoinLabels(Mixture):
    """Both centres at c = 0, labels +-1 with probability 1/2, independent of x."""

    name = "coin"
    title = "coin labels"

    def clusters(self):
        return Clusters(np.array([0.0, 0.0]), np.array([1.0, -1.0]), np.array([0.5, 0.5]))

    def gen_error(self, m, C):
        return np.full(np.broadcast(np.asarray(m), np.asarray(C)).shape, 0.5)


@pytest.mark.parametrize("schedule", [qd.FullBatch(), qd.SGD(0.5)], ids=["gd", "sgd"])
def test_sign_teacher_with_flip_one_half_is_the_coin_label_mixture(schedule):
    """(8.11): TeacherStudent(sign, flip = 1/2) and the mixture {c = 0, y = +-1}, Delta = 1,
    describe the same data; their DMFTs (logistic loss, ridge) agree within the two rules'
    error estimates, though the node sets differ (label groups on half-normal h0 rules versus
    clusters on Gauss-Hermite h0)."""
    kw = dict(lam=0.2, R=0.3, m0=0.1)
    rule = qd.Quadrature(resolution=1)
    ts = qd.solve(qd.Problem(qd.TeacherStudent(2.0, "sign", flip=0.5), "logistic", **kw),
                  schedule, eta=0.2, t_max=1.2, rule=rule)
    mix = qd.solve(qd.Problem(CoinLabels(2.0, 1.0), "logistic", **kw), schedule, eta=0.2,
                   t_max=1.2, rule=rule)
    for name in ("m", "C", "train_loss", "train_accuracy"):
        diff = np.abs(getattr(ts, name) - getattr(mix, name))
        allowed = 3 * np.hypot(getattr(ts, f"{name}_err"), getattr(mix, f"{name}_err")) + 1e-10
        assert np.all(diff <= allowed), (name, diff.max(), allowed.min())
    np.testing.assert_allclose(ts.gen_error, 0.5, atol=1e-15)
    assert np.abs(ts.m - ts.m[0]).max() > 1e-3  # the ridge pulls m down: not a static check


def test_zero_teacher_is_pure_noise():
    """(8.11): a teacher f = 0 is PureNoise(alpha, 1): square loss, equal to round-off."""
    zero = qd.TeacherStudent(2.0, qd.Teacher(lambda u: 0.0 * u, "zero"))
    kw = dict(lam=0.1, R=0.7)
    a = qd.solve(qd.Problem(zero, "square", **kw), eta=0.2, t_max=2.0, rule=EXACT)
    b = qd.solve(qd.Problem(qd.PureNoise(2.0, 1.0), "square", **kw), eta=0.2, t_max=2.0, rule=EXACT)
    assert_same_solution(a, b, atol=1e-12, names=("m", "C", "train_loss", "M_C", "Gamma"))


# ------------------------------------------------------------- Gibbs measure and the FDR (8.13)
@pytest.mark.parametrize("eta", [0.2, 0.1])
def test_stationary_langevin_is_the_discrete_gibbs_state(eta):
    """Full-batch Langevin GD on ridge square loss (linear teacher): at long times the DMFT's
    C_perp(k+s, k) and R(k+s, k) equal the exact discrete stationary state (8.13) to 1e-9; it
    differs from the Gibbs measure's (the ridge posterior, T (A + lam)^-1) at O(eta)."""
    alpha, noise, lam, T = 2.0, 0.2, 1.0, 0.3
    problem = teacher_student(alpha, noise, lam, 0.5, temperature=T)
    K = int(round(24.0 / eta))
    res = qd.solve(problem, eta=eta, t_max=K * eta, rule=EXACT)
    m_ridge, C_ridge, _ = ridge_regression(alpha, noise, lam)
    lags = np.arange(0, int(round(2.0 / eta)))
    k0 = K - lags.size
    ref = langevin_stationary(alpha, 1.0, lam, eta, T, lags)
    C_dmft = res.C_perp[k0 + lags, k0] - (C_ridge - m_ridge**2)
    np.testing.assert_allclose(res.m[-1], m_ridge, atol=1e-9)
    np.testing.assert_allclose(C_dmft, ref["C"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.response[k0 + lags[1:], k0], ref["R"][1:], rtol=0, atol=1e-9)
    # The Gibbs measure: O(eta) away (the factor 1/(1 - eta z / 2) of (8.13)).
    gap = np.abs(C_dmft[0] - ref["C_gibbs"][0])
    assert 0.1 * eta * T < gap < 2.0 * eta * T


def test_stationary_gibbs_gap_is_first_order_in_eta():
    gaps = [abs(langevin_stationary(2.0, 1.0, 1.0, eta, 0.3, [0])["C"][0]
                - langevin_stationary(2.0, 1.0, 1.0, eta, 0.3, [0])["C_gibbs"][0])
            for eta in (0.1, 0.05, 0.025)]
    ratios = [a / b for a, b in zip(gaps, gaps[1:])]
    assert all(1.8 < r < 2.2 for r in ratios), ratios


def _fdr_violation(res, eta, T, t0, span):
    """max_s |R(k0+s, k0) + [C_perp(k0+s+1, k0) - C_perp(k0+s-1, k0)] / (2 eta T)| / R(k0+1, k0)
    over 1 <= s < span / eta: the central-difference form of (8.10), exact for the linear AR(1)."""
    k0, s = int(round(t0 / eta)), np.arange(1, int(round(span / eta)))
    C, R = res.C_perp, res.response
    return float(np.max(np.abs(R[k0 + s, k0] + (C[k0 + s + 1, k0] - C[k0 + s - 1, k0])
                               / (2 * eta * T))) / R[k0 + 1, k0])


def test_fluctuation_dissipation_exact_for_the_linear_dynamics():
    problem = teacher_student(2.0, 0.2, 1.0, 0.5, temperature=0.3)
    res = qd.solve(problem, eta=0.1, t_max=24.0, rule=EXACT)
    assert _fdr_violation(res, 0.1, 0.3, t0=20.0, span=2.0) < 1e-9
    assert _fdr_violation(res, 0.1, 0.3, t0=0.3, span=2.0) > 1e-2  # out of equilibrium


def test_fluctuation_dissipation_at_stationarity_of_a_convex_logistic_problem():
    """Two-cluster logistic loss with ridge (strictly convex) under Langevin GD, default rule:
    in the stationary regime R(t+s, t) = -(1/T) dC(t+s, t)/ds (8.10) to within 1% (measured
    1e-3, the rule's own error; the discrete dynamics' violation is smaller), while early, far
    from equilibrium, it fails by O(1)."""
    T, eta = 0.1, 0.2
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.5, R=0.01, temperature=T)
    res = qd.solve(problem, eta=eta, t_max=16.0, rule=qd.Quadrature(resolution=1))
    assert _fdr_violation(res, eta, T, t0=12.0, span=3.0) < 1e-2
    assert _fdr_violation(res, eta, T, t0=0.4, span=3.0) > 1e-1


# --------------------------------------------------------------------- references and refusals
def test_ridge_regression_is_the_long_time_limit_of_gd():
    m, C, e = linear_dynamics(2.0, 0.2, 800, noise=0.3, lam=0.3, R=0.5)
    m_r, C_r, err = ridge_regression(2.0, 0.3, 0.3)
    assert abs(m[-1] - m_r) < 1e-12 and abs(C[-1] - C_r) < 1e-12
    ts = qd.TeacherStudent(2.0, "linear", noise=0.3)
    assert abs(ts.gen_error(m_r, C_r) - err) < 1e-12
    assert ts.bayes_optimal_error() == pytest.approx(ridge_regression(2.0, 0.3, 0.3)[2])


def test_closed_form_errors_match_sampling():
    """(8.3)-(8.4) against fresh samples of (8.1) at given (m, C)."""
    m, C = 0.6, 0.9
    for ts in (qd.TeacherStudent(2.0, "sign", noise=0.3, flip=0.1),
               qd.TeacherStudent(2.0, "linear", noise=0.3, flip=0.2),
               qd.TeacherStudent(2.0, qd.Teacher(np.tanh, "tanh"), noise=0.2),
               qd.TeacherStudent(2.0, qd.Teacher(np.sign, "sgn", classification=True), noise=0.2)):
        _, y, h0 = ts.sample_effective(400_000, np.random.default_rng(4))
        r = m * h0 + math.sqrt(C - m * m) * np.random.default_rng(3).standard_normal(h0.size)
        empirical = ts.empirical_error(y, r)
        assert abs(empirical - float(ts.gen_error(m, C))) < 5e-3 * max(1.0, empirical), ts


@pytest.mark.parametrize("momentum", [qd.HeavyBall(0.5), qd.Nesterov(0.2)])
def test_momentum_with_the_spherical_constraint_is_refused_naming_both(momentum):
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=1.0, constraint=qd.Spherical())
    for run in (lambda: qd.solve(problem, eta=0.2, t_max=0.4, momentum=momentum),
                lambda: qd.simulate(problem, eta=0.2, t_max=0.4, d=50, momentum=momentum)):
        with pytest.raises(qd.ParameterError, match=r"momentum.*spherical"):
            run()


@pytest.mark.parametrize("build, match", [
    (lambda: qd.Problem(qd.TwoCluster(2, 0.5), lam=0.1, R=1.0, constraint=qd.Spherical()), "lam"),
    (lambda: qd.Problem(qd.TwoCluster(2, 0.5), R=0.5, constraint=qd.Spherical()), "m0\\^2 \\+ R"),
    (lambda: qd.Problem(qd.TwoCluster(2, 0.5), temperature=-1.0), "temperature"),
    (lambda: qd.Problem(qd.TwoCluster(2, 0.5), constraint="cube"), "constraint"),
    (lambda: qd.HeavyBall(1.0), "beta"),
    (lambda: qd.Nesterov(-0.1), "beta"),
    (lambda: qd.TeacherStudent(2.0, "cubic"), "teacher"),
    (lambda: qd.TeacherStudent(2.0, noise=-0.1), "noise"),
    (lambda: qd.TeacherStudent(2.0, flip=0.6), "flip"),
    (lambda: qd.TeacherStudent(2.0).clusters(), "label_factor"),
    (lambda: qd.solve(TWO_CLUSTER, eta=0.2, t_max=0.4, momentum="heavy-ball"), "momentum"),
])
def test_bad_input_is_refused_by_name(build, match):
    with pytest.raises(qd.ParameterError, match=match):
        build()


def test_divergence_under_momentum_is_detected_by_solver_and_simulator():
    """Main's divergence detection with momentum: heavy ball (beta = 0.5) on square loss is stable
    at eta = 0.5 and blows up at eta = 0.8; solve and simulate both return a 'diverged' result cut
    before the step, with a RuntimeWarning, instead of raising."""
    problem = qd.Problem(qd.TeacherStudent(2.0, teacher="linear", noise=0.1), "square", lam=0.0,
                         R=0.25)
    stable = qd.solve(problem, qd.FullBatch(), eta=0.5, t_max=20.0, momentum=qd.HeavyBall(0.5))
    assert stable.status is qd.Status.SUCCESS and stable.t.size == 41
    with pytest.warns(RuntimeWarning, match="diverged"):
        dmft = qd.solve(problem, qd.FullBatch(), eta=0.8, t_max=32.0, momentum=qd.HeavyBall(0.5))
    assert dmft.status is qd.Status.DIVERGED and 2 <= dmft.t.size < 41
    assert np.all(np.isfinite(dmft.C)) and "diverged at step" in dmft.message
    with pytest.warns(RuntimeWarning, match="diverged"):
        sim = qd.simulate(problem, qd.FullBatch(), eta=0.8, t_max=32.0, d=300, seeds=2,
                          momentum=qd.HeavyBall(0.5))
    assert sim.status is qd.Status.DIVERGED and 2 <= sim.t.size < 41
    # The same blow-up: the simulation's divergence step is within a few steps of the DMFT's.
    assert abs(sim.t.size - dmft.t.size) <= 3


def test_resource_estimate_of_the_new_models():
    """Main's estimate before each solve: the rules' cost counts teacher-student label groups
    (the node set they build, not the mixtures' clusters), Langevin noise adds its two
    (K+1)^2 matrices per sweep, momentum adds nothing of note, and max_memory refuses by name."""
    from quaddmft._solver import estimate

    teacher = qd.Problem(qd.TeacherStudent(2.0, teacher="sign", noise=0.1, flip=0.05), "logistic")
    chain, K = qd.SGD(0.5).chain(0.2), 10
    for rule in (qd.QMC(n_points=16, n_h0=4, n_replicates=2), qd.Quadrature(resolution=1)):
        nodes = (rule.nodes(teacher, chain, K, np.random.default_rng(0))
                 if isinstance(rule, qd.QMC) else rule.nodes(teacher, chain, K, rule.rungs(teacher, chain, K)[-1]))
        assert rule.cost(teacher, chain, K)[0] == nodes.size
    rule = qd.QMC(n_points=16, n_h0=4, n_replicates=2)
    cold = estimate(teacher, qd.SGD(0.5), eta=0.2, t_max=2.0, rule=rule)
    hot = estimate(dataclasses.replace(teacher, temperature=0.1), qd.SGD(0.5), eta=0.2, t_max=2.0,
                   rule=rule)
    assert hot.bytes - cold.bytes == 2 * 8.0 * (K + 1) ** 2
    moving = estimate(teacher, qd.SGD(0.5), eta=0.2, t_max=2.0, rule=rule, momentum=qd.Nesterov(0.5))
    assert moving.bytes == cold.bytes
    with pytest.raises(qd.ParameterError, match="max_memory"):
        qd.solve(teacher, qd.SGD(0.5), eta=0.2, t_max=2.0, rule=rule, momentum=qd.Nesterov(0.5),
                 max_memory=1000.0)
    with pytest.raises(qd.ParameterError, match="max_memory"):
        qd.simulate(dataclasses.replace(teacher, temperature=0.1), qd.SGD(0.5), eta=0.2, t_max=2.0,
                    d=100, momentum=qd.Nesterov(0.5), max_memory=1000.0)
