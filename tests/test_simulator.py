"""Tests of the finite-d simulator (quaddmft._simulator) against exact results and its own laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erfc

import quaddmft as qd
from quaddmft import _simulator as sim
from quaddmft._errors import ParameterError
from quaddmft._problem import ThreeCluster, TwoCluster
from catalogue import GD, PERSISTENT, PURE_NOISE, SGD_04, TWO_CLUSTER, TWO_MIXTURE

ETA = 0.2


def two_cluster(loss="logistic", **kw):
    return qd.Problem(TWO_MIXTURE, loss, **kw)


def three_cluster(loss="logistic", **kw):
    return qd.Problem(ThreeCluster(alpha=2.0, delta=0.3, L=0.7), loss, **kw)


def seed_path(problem, schedule, *, K, d, seed=0, index=0, test_points=0):
    """Per-seed path of simulate(..., seed=seed), run number ``index``."""
    seed_seq = sim.seed_sequences(seed, index + 1)[index]
    return sim.simulate_seed(problem, schedule.chain(ETA), eta=ETA, K=K, d=d,
                             seed_seq=seed_seq, test_points=test_points)


def assert_paths_equal(a, b):
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy", "gen_error_empirical"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# 1. The update direction is the gradient of the training loss (paper eqs. 5, 7). ----------------

@pytest.mark.parametrize("problem", [
    two_cluster("logistic", lam=0.3),
    two_cluster("square", lam=0.3),
    two_cluster("squared-hinge", lam=0.3),
    three_cluster("logistic", lam=0.3),
    three_cluster("square", lam=0.3),
], ids=["two-logistic", "two-square", "two-hinge2", "three-door-logistic", "three-door-square"])
def test_gradient_is_finite_difference_of_training_loss(problem):
    d = 30
    rng = np.random.default_rng(1)
    X, y, _ = sim.make_dataset(problem, d, rng)
    w = rng.standard_normal(d)
    s = (rng.random(X.shape[0]) < 0.5).astype(float)
    # With selection s the step descends H restricted to the selected samples.
    active = s > 0.5
    h = 1e-5
    fd = np.empty(d)
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        fd[i] = (sim.training_loss(w + e, X[active], y[active], problem)
                 - sim.training_loss(w - e, X[active], y[active], problem)) / (2 * h)
    g = sim.gradient(w, X, y, s, problem)
    assert np.linalg.norm(g - fd) / np.linalg.norm(g) < 1e-6
    # s = 1 everywhere: the full gradient; precomputed r gives the same result.
    full = sim.gradient(w, X, y, np.ones(X.shape[0]), problem)
    fd_full = np.array([(sim.training_loss(w + h * e, X, y, problem)
                         - sim.training_loss(w - h * e, X, y, problem)) / (2 * h)
                        for e in np.eye(d)])
    assert np.linalg.norm(full - fd_full) / np.linalg.norm(full) < 1e-6
    r = X @ w / math.sqrt(d)
    np.testing.assert_array_equal(sim.gradient(w, X, y, s, problem, r=r), g)


def test_dataset_statistics():
    problem = qd.Problem(ThreeCluster(alpha=3.0, delta=0.3, L=0.7), "logistic")
    d = 200
    X, y, c = sim.make_dataset(problem, d, np.random.default_rng(0))
    assert X.shape == (600, d) and y.shape == c.shape == (600,)
    np.testing.assert_array_equal(y, np.where(c == 0.0, -1.0, 1.0))
    # x.v/sqrt(d) = c + sqrt(Delta) h0 and the noise orthogonal to v has variance Delta.
    proj = X.sum(axis=1) / math.sqrt(d)
    h0 = (proj - c) / math.sqrt(0.3)
    assert abs(h0.mean()) < 4 / math.sqrt(600) and abs(h0.var() - 1) < 0.2
    noise = X - c[:, None] / math.sqrt(d)
    assert abs(noise.var() - 0.3) < 0.01
    assert abs(np.mean(c == 0) - 0.5) < 4 * math.sqrt(0.25 / 600)


# 2., 3. Equalities of schedules on the same seed. -------------------------------------------------

@pytest.mark.parametrize("same_as_gd", [qd.PersistentSGD(b=1.0, tau=0.37), qd.SGD(b=1.0),
                                        qd.PersistentSGD(b=1.0, tau=0.01, law=qd.ExactLaw())],
                         ids=["persistent-b1", "sgd-b1", "persistent-exact-b1"])
def test_batch_one_is_full_batch_exactly(same_as_gd):
    problem = TWO_CLUSTER
    gd = seed_path(problem, GD, K=20, d=50, index=1, test_points=50)
    other = seed_path(problem, same_as_gd, K=20, d=50, index=1, test_points=50)
    assert_paths_equal(gd, other)
    a = qd.simulate(problem, GD, eta=ETA, t_max=4.0, d=50, seeds=2)
    b = qd.simulate(problem, same_as_gd, eta=ETA, t_max=4.0, d=50, seeds=2)
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy", "C_err"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_persistent_with_tau_eta_over_b_is_sgd():
    b = 0.3
    problem = TWO_CLUSTER
    persistent = qd.PersistentSGD(b=b, tau=ETA / b)
    chain = persistent.chain(ETA)
    assert chain.q == pytest.approx(0.0, abs=1e-15)
    sgd_path = seed_path(problem, qd.SGD(b), K=30, d=60)
    pers_path = seed_path(problem, persistent, K=30, d=60)
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy"):
        np.testing.assert_allclose(getattr(pers_path, name), getattr(sgd_path, name),
                                   rtol=0, atol=1e-12, err_msg=name)
    # ... and the selection does matter: SGD(b) is not gradient descent on the same data.
    gd_path = seed_path(problem, GD, K=30, d=60)
    assert np.max(np.abs(gd_path.m - sgd_path.m)) > 1e-3
    # The dataset and w(0) come from streams of their own: identical at k = 0 across schedules.
    assert gd_path.C[0] == sgd_path.C[0] and gd_path.train_loss[0] == sgd_path.train_loss[0]


# 4. Reproducibility. ---------------------------------------------------------------------------

def test_same_seed_identical_different_seed_differs():
    problem = three_cluster(lam=0.1, R=0.2, m0=0.05)
    schedule = qd.PersistentSGD(b=0.4, tau=1.0)
    kw = dict(eta=ETA, t_max=3.0, d=40, seeds=3, test_points=100)
    a = qd.simulate(problem, schedule, seed=5, **kw)
    b = qd.simulate(problem, schedule, seed=5, **kw)
    c = qd.simulate(problem, schedule, seed=6, **kw)
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy", "gen_error_empirical",
                 "m_err", "C_err", "gen_error_err", "train_loss_err", "train_accuracy_err",
                 "gen_error_empirical_err"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.C, c.C)
    assert not np.array_equal(a.m, c.m)
    # Runs inside one simulate call are independent draws, not copies.
    p0 = seed_path(problem, schedule, K=15, d=40, seed=5, index=0)
    p1 = seed_path(problem, schedule, K=15, d=40, seed=5, index=1)
    assert not np.array_equal(p0.C, p1.C)
    # The per-seed path does not depend on how many test points are drawn beside it.
    p0_test = seed_path(problem, schedule, K=15, d=40, seed=5, index=0, test_points=30)
    np.testing.assert_array_equal(p0.C, p0_test.C)


# 5. The selection law the simulator draws. -----------------------------------------------------

@pytest.mark.parametrize("schedule", [PERSISTENT,
                                      qd.PersistentSGD(b=0.1, tau=1 / 0.6, law=qd.ExactLaw()),
                                      qd.SGD(b=0.3)],
                         ids=["persistent-linear", "persistent-exact", "sgd"])
def test_selection_law_statistics(schedule):
    chain = schedule.chain(ETA)
    n, K = 40000, 12
    s = sim._selection_paths(chain, n, K, np.random.default_rng(3))
    assert s.shape == (n, K + 1) and set(np.unique(s)) <= {0.0, 1.0}
    b = chain.b
    freq = s.mean(axis=0)
    assert np.all(np.abs(freq - b) < 4.5 * math.sqrt(b * (1 - b) / n))
    products = s[:, :, None] * s[:, None, :]
    empirical = products.mean(axis=0)
    sem = products.std(axis=0, ddof=1) / math.sqrt(n)
    exact = chain.correlation(K)
    lags = np.abs(np.subtract.outer(np.arange(K + 1), np.arange(K + 1)))
    np.testing.assert_allclose(exact, b**2 + b * (1 - b) * chain.q**lags, rtol=0, atol=1e-12)
    assert np.all(np.abs(empirical - exact) <= 4.5 * sem + 1e-12)


# 6., 7. Exact references (THEORY section 6). ----------------------------------------------------

def test_square_loss_pure_noise_matches_marchenko_pastur():
    # E (1/d) tr f(X^T X/d) of a real Wishart matrix is its Marchenko-Pastur value plus O(1/d);
    # e.g. E C(1) = R [1 - 2 eta alpha Delta + eta^2 Delta^2 (alpha^2 + alpha + alpha/d)] exactly,
    # a bias of R eta^2 Delta^2 alpha/d = 2e-5 at d = 1000, and the leading bias of e(1) is
    # -R eta Delta^2 alpha/d. Measured at d = 50 over 4000 seeds, every bias here was below
    # 0.15/d, so 1/d bounds the finite-d terms with ample room; 4 sem covers the sampling.
    d = 1000
    problem = PURE_NOISE
    res = qd.simulate(problem, GD, eta=ETA, t_max=1.0, d=d, seeds=16, seed=11)
    allowance = 1.0 / d
    for k, C_ref, e_ref in [(1, 0.66, 0.255), (5, 0.250440, 0.050981)]:
        assert abs(res.C[k] - C_ref) < 4 * res.C_err[k] + allowance, (k, res.C[k], res.C_err[k])
        assert abs(res.train_loss[k] - e_ref) < 4 * res.train_loss_err[k] + allowance, (
            k, res.train_loss[k], res.train_loss_err[k])
    assert abs(res.C[0] - 1.0) < 4 * res.C_err[0] + allowance
    np.testing.assert_array_equal(res.gen_error, 0.25)  # y = 0: eq. 23 gives 1/4 for every w


def test_first_gd_step_from_zero_is_bayes_optimal():
    # From w = 0 the first logistic GD step is the Hebbian estimator; its error is the
    # Bayes-optimal one. gen_error(m, C) is smooth in (m, C), whose fluctuations have variance
    # O(1/d): finite-d bias O(1/d), allowed as 1/d; sampling within 4 sem.
    d = 2000
    alpha, delta = 2.0, 0.5
    problem = qd.Problem(TwoCluster(alpha=alpha, delta=delta), "logistic", lam=0.0, R=0.0)
    res = qd.simulate(problem, GD, eta=ETA, t_max=ETA, d=d, seeds=6, seed=2)
    ref = 0.5 * erfc(math.sqrt(alpha / (2 * delta * (alpha + delta))))
    assert ref == pytest.approx(0.10295, abs=5e-6)
    assert abs(res.gen_error[1] - ref) < 4 * res.gen_error_err[1] + 1.0 / d
    assert res.gen_error[0] == 0.5  # w = 0
    # m(1) = eta alpha / 2, C(1) = (eta/2)^2 (alpha^2 + alpha Delta) in expectation.
    assert abs(res.m[1] - ETA * alpha / 2) < 4 * res.m_err[1] + 1.0 / d
    assert abs(res.C[1] - (ETA / 2) ** 2 * (alpha**2 + alpha * delta)) < 4 * res.C_err[1] + 1.0 / d


@pytest.mark.parametrize("schedule", [GD, SGD_04, qd.PersistentSGD(0.4, tau=1.0)],
                         ids=["gd", "sgd", "persistent"])
def test_square_loss_replay_is_exact(schedule):
    # With the square loss and linear phi each step is the affine map
    #   w <- w - eta [lam w + X^T diag(s(k)) (X w / sqrt(d) - y) / sqrt(d)],
    # replayed here with dense matrices on the seed's own data, w(0) and selection paths:
    # checks, without statistics, that step k uses s(k) and the recorded curves are those of w(k).
    d, K, lam, R, m0 = 25, 12, 0.2, 0.7, 0.3
    problem = qd.Problem(TWO_MIXTURE, "square", lam=lam, R=R, m0=m0)
    seed_seq = sim.seed_sequences(9, 1)[0]
    path = sim.simulate_seed(problem, schedule.chain(ETA), eta=ETA, K=K, d=d, seed_seq=seed_seq)
    X, y, _ = sim.make_dataset(problem, d, sim._child(seed_seq, sim._STREAM_DATA))
    w = m0 + math.sqrt(R) * sim._child(seed_seq, sim._STREAM_INIT).standard_normal(d)
    s = sim._selection_paths(schedule.chain(ETA), X.shape[0], K,
                             sim._child(seed_seq, sim._STREAM_SELECTION))
    for k in range(K + 1):
        r = X @ w / math.sqrt(d)
        assert path.m[k] == pytest.approx(w.mean(), rel=1e-12, abs=1e-14)
        assert path.C[k] == pytest.approx(w @ w / d, rel=1e-12)
        assert path.train_loss[k] == pytest.approx(0.5 * np.sum((y - r) ** 2) / d, rel=1e-12)
        assert path.train_accuracy[k] == np.mean(y * r > 0)
        selected = X * s[:, k][:, None]
        w = w - ETA * (lam * w + selected.T @ (X @ w) / d - selected.T @ y / math.sqrt(d))
    if not isinstance(schedule, qd.FullBatch):
        assert 0 < s.mean() < 1


@pytest.mark.parametrize("problem", [TWO_CLUSTER, three_cluster(R=0.5, m0=0.3)],
                         ids=["two", "three-door"])
def test_empirical_test_error_matches_closed_form(problem):
    res = qd.simulate(problem, qd.SGD(0.5), eta=ETA, t_max=2.0, d=100, seeds=8, seed=4,
                      test_points=4000)
    assert res.gen_error_empirical.shape == res.gen_error.shape
    # Both estimate the same mean test error; their sems bound the difference conservatively.
    tol = 4 * np.hypot(res.gen_error_err, res.gen_error_empirical_err) + 1e-3
    assert np.all(np.abs(res.gen_error_empirical - res.gen_error) < tol)
    no_test = qd.simulate(problem, qd.SGD(0.5), eta=ETA, t_max=0.4, d=20, seeds=2)
    assert no_test.gen_error_empirical.shape == (0,) == no_test.gen_error_empirical_err.shape


# Result object, divergence, progress. -----------------------------------------------------------

def test_result_layout_and_round_trip(tmp_path, capsys):
    problem = TWO_CLUSTER
    schedule = PERSISTENT
    res = qd.simulate(problem, schedule, eta=ETA, t_max=1.0 + 1e-12, d=30, seeds=3, progress=True)
    assert "seed 3/3" in capsys.readouterr().err
    K = 5
    np.testing.assert_allclose(res.t, ETA * np.arange(K + 1))
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy"):
        assert getattr(res, name).shape == (K + 1,)
        assert getattr(res, f"{name}_err").shape == (K + 1,)
    p = res.params
    assert (p["d"], p["seeds"], p["seed"], p["test_points"], p["K"]) == (30, 3, 0, 0, K)
    assert p["schedule"] == "persistent" and p["b"] == 0.3 and p["model"] == "two"
    assert "linear" in p["law_note"]
    assert res.wall_time > 0 and res.status == "success"
    back = qd.load(res.save(tmp_path / "sim"))
    for name in ("t", "m", "C_err", "gen_error_empirical"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.params == res.params
    # The per-seed paths are what simulate averages.
    paths = [sim.simulate_seed(problem, schedule.chain(ETA), eta=ETA, K=K, d=30, seed_seq=ss)
             for ss in sim.seed_sequences(0, 3)]
    stack = np.stack([q.C for q in paths])
    np.testing.assert_allclose(res.C, stack.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(res.C_err, stack.std(axis=0, ddof=1) / math.sqrt(3), rtol=1e-12)


def test_divergence_is_reported():
    # Square-loss GD is unstable once eta x_+ > 2 (x_+ = Delta (1 + sqrt(alpha))^2 ~ 2.9): the
    # run stops at the relative criterion, every seed cut there, status "diverged".
    problem = PURE_NOISE
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = qd.simulate(problem, GD, eta=3.0, t_max=3.0 * 2000, d=20, seeds=2)
    assert res.status is qd.Status.DIVERGED and 2 <= res.t.size <= 2000
    assert np.all(np.isfinite(res.C)) and res.C_err.shape == res.t.shape


# 8. Bad input. ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    (dict(eta=0.0), "eta"), (dict(eta=-0.1), "eta"), (dict(eta=float("nan")), "eta"),
    (dict(t_max=0.0), "t_max"), (dict(t_max=-1.0), "t_max"), (dict(t_max=0.1), "t_max"),
    (dict(d=0), "d"), (dict(d=2.5), "d"), (dict(seeds=1), "seeds"), (dict(seed=-1), "seed"),
    (dict(test_points=-1), "test_points"),
])
def test_bad_input_names_the_parameter(kwargs, name):
    args = dict(eta=ETA, t_max=1.0, d=10, seeds=2)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=rf"\b{name}\b"):
        qd.simulate(two_cluster(), GD, **args)


def test_bad_objects_and_tiny_dataset():
    with pytest.raises(ParameterError, match="problem"):
        qd.simulate("two", GD, eta=ETA, t_max=1.0, d=10)
    with pytest.raises(ParameterError, match="schedule"):
        qd.simulate(two_cluster(), "gd", eta=ETA, t_max=1.0, d=10)
    with pytest.raises(ParameterError, match="tau"):  # invalid linear Persistent-SGD law
        qd.simulate(two_cluster(), qd.PersistentSGD(b=0.1, tau=1 / 0.6), eta=ETA, t_max=1.0, d=10)
    small = qd.Problem(TwoCluster(alpha=0.1, delta=0.5), "logistic")
    with pytest.raises(ParameterError, match=r"\bd\b"):
        qd.simulate(small, GD, eta=ETA, t_max=1.0, d=2)
