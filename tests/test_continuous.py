"""The continuous-time limit (docs/theory.md section 9): meshes, variable steps, Richardson.

* the grids of a ladder are nested bit for bit and follow the mesh function (9.2);
* the DMFT with variable steps (9.1) is exact for square loss on pure noise (the product of
  Marchenko-Pastur factors), and equals the uniform solve when the steps are equal;
* Richardson's tableau (9.4) is exact on polynomials in h and reports their orders;
* the continuous-time solve of square loss on pure noise matches the exact gradient flow (9.6) to
  1e-8, with observed orders 1, 2, 3 and an error estimate that bounds the true error;
* on logistic GD the extrapolated order is verified (the second column of the tableau
  converges at order ~2), and a graded mesh gives the same limit as a uniform one;
* an adaptive mesh (eq. 9.8) recovers a known stability profile, never passes the stability
  bound or max_step, stays uniform where nothing may grow, and on logistic GD reaches the limit
  of a finer fixed-mesh ladder within its estimate with fewer steps;
* bad input is refused with a message naming it.
"""

import math

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

import quaddmft as qd
from quaddmft._causal import causal_sweep
from quaddmft._continuous import (ContinuousTime, adapt_mesh, extrapolate, mesh_parameter,
                                  mesh_time, refine_two_time, richardson, stable_steps)
from quaddmft.references import (marchenko_pastur_gradient_flow, marchenko_pastur_square_loss,
                                 marchenko_pastur_variable_steps)

PURE_NOISE = qd.Problem(qd.PureNoise(2.0, 0.5), "square", lam=0.0, R=1.0)
FIG1 = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.0, R=0.01)


# ----------------------------------------------------------------------------- meshes
@pytest.mark.parametrize("growth, max_step", [(None, None), (5.0, None), (2.0, 1.0)])
def test_grids_are_nested_and_follow_the_mesh(growth, max_step):
    time = ContinuousTime(step=0.25, levels=4, growth=growth, max_step=max_step)
    grids = time.grids(60.0)
    for j, grid in enumerate(grids):
        assert grid[0] == 0.0 and grid[-1] == 60.0
        assert np.all(np.diff(grid) > 0)
        assert np.array_equal(grids[-1][:: 2 ** (len(grids) - 1 - j)], grid)
    coarse = np.diff(grids[0])
    assert 0.2 < coarse[0] <= 0.25 * 1.1  # h g(t) at the first step, h adjusted to t_max
    if growth is None:
        np.testing.assert_allclose(coarse, coarse[0], rtol=1e-12)
    elif max_step is None:  # the step grows like h (1 + t / growth)
        mid = 0.5 * (grids[0][1:] + grids[0][:-1])
        np.testing.assert_allclose(coarse / (1 + mid / growth), coarse[0], rtol=0.05)
    else:
        assert coarse.max() <= max_step * (1 + 1e-9) and coarse.max() > 0.9 * max_step


def test_mesh_time_inverts_the_mesh_parameter():
    u = np.linspace(0.0, 400.0, 101)
    for growth, cap in [(10.0, None), (10.0, 5.0), (0.5, 100.0)]:
        t = mesh_time(u, growth, cap)
        np.testing.assert_allclose(mesh_parameter(t, growth, cap), u, rtol=1e-13, atol=1e-12)


def test_refine_two_time_interpolates_to_third_order():
    """Exact on quadratics (the end points use the quadratic), on cubics in the interior."""
    u = np.linspace(0.0, 1.0, 9)
    fine = np.linspace(0.0, 1.0, 17)
    quadratic = lambda a, b: 1 + a * b + a**2 + b**2  # noqa: E731
    cubic = lambda a, b: quadratic(a, b) + a**3 + b**3 - 0.5 * a**2 * b - 0.5 * a * b**2  # noqa: E731
    np.testing.assert_allclose(refine_two_time(quadratic(u[:, None], u[None, :])),
                               quadratic(fine[:, None], fine[None, :]), atol=1e-13)
    inner = slice(2, -2)
    np.testing.assert_allclose(refine_two_time(cubic(u[:, None], u[None, :]))[inner, inner],
                               cubic(fine[inner, None], fine[None, inner]), atol=1e-13)


# ----------------------------------------------------------------------------- Richardson
def test_richardson_is_exact_on_polynomials_and_reports_the_orders():
    x, a1, a2, a3 = 0.7, 0.3, -1.1, 2.0
    values = [np.array([x + a1 * h + a2 * h**2 + a3 * h**3]) for h in 0.02 / 2.0 ** np.arange(5)]
    ex = extrapolate(values)
    assert abs(ex.value[0] - x) < 1e-14
    np.testing.assert_allclose(ex.orders[:2], [1.0, 2.0], atol=0.05)
    np.testing.assert_allclose(ex.weights.sum(), 1.0, atol=1e-14)
    # a pure h^4 error is left by four levels, removed by none
    table = richardson([np.array([h**4]) for h in 0.4 / 2.0 ** np.arange(4)])
    assert abs(table[-1][-1][0]) > 0


# ----------------------------------------------------------------------------- variable steps
def _modal_nodes(problem, chain, K, covariance, rung=1):
    rule = qd.Quadrature(resolution=2)
    return rule.nodes(problem, chain, K, rule.rungs(problem, chain, K)[rung], covariance=covariance)


def test_equal_variable_steps_are_the_uniform_solve():
    """The same nodes (KL coordinates of a fixed C_perp: no causal Cholesky factor, whose columns
    round-off may rotate) through the uniform and the variable-step arithmetic."""
    chain = qd.FullBatch().chain(0.2)
    start = qd.QMC(n_points=32, n_h0=4, n_replicates=2).nodes(FIG1, chain, 40, np.random.default_rng(1))
    nodes = _modal_nodes(FIG1, chain, 40, causal_sweep(FIG1, chain, 0.2, 40, start).C_perp)
    uniform = causal_sweep(FIG1, chain, 0.2, 40, nodes)
    variable = causal_sweep(FIG1, chain, np.full(40, 0.2), 40, nodes)
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy", "Gamma", "M_C", "C_perp"):
        a, b = getattr(uniform, name), getattr(variable, name)
        # R(k, j) eta_j instead of eta R(k, j): round-off
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * max(1.0, np.abs(a).max()), err_msg=name)


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_two_graded_levels_extrapolate_the_exact_products(lam):
    """A continuous solve on two graded levels (eq. 9.1 on each) is 2 X_{h/2} - X_h of the exact
    products prod_j (1 - eta_j (lambda + x))^2 averaged over Marchenko-Pastur."""
    time = ContinuousTime(step=0.1, levels=2, growth=1.0, max_step=0.3)
    coarse, fine = time.grids(6.0)
    problem = qd.Problem(qd.PureNoise(2.0, 0.5), "square", lam=lam, R=1.0)
    res = qd.solve(problem, t_max=6.0, time=time,
                   rule=qd.Quadrature(resolution=1, fixed_point_tol=1e-6))
    C, _ = marchenko_pastur_variable_steps(2.0, 0.5, np.diff(coarse), lam, 1.0)
    C_fine, _ = marchenko_pastur_variable_steps(2.0, 0.5, np.diff(fine), lam, 1.0)
    np.testing.assert_array_equal(res.t, coarse)
    np.testing.assert_allclose(res.C, 2 * C_fine[::2] - C, atol=1e-9)


def test_variable_steps_sweep_matches_the_exact_product():
    """One graded grid (eq. 9.1), iterated to the fixed point in C_perp of the modal nodes (rung 2:
    8 KL modes; the 6 of rung 1 leave 3e-9)."""
    t = ContinuousTime(step=0.1, levels=2, growth=1.0, max_step=0.4).grids(8.0)[1]
    steps = np.diff(t)
    K = steps.size
    chain = qd.FullBatch().chain(0.1)
    start = qd.QMC(n_points=64, n_h0=1, n_replicates=2).nodes(PURE_NOISE, chain, K,
                                                              np.random.default_rng(0))
    sweep = causal_sweep(PURE_NOISE, chain, steps, K, start)
    for _ in range(40):
        previous = sweep.C_perp
        sweep = causal_sweep(PURE_NOISE, chain, steps, K,
                             _modal_nodes(PURE_NOISE, chain, K, previous, rung=2))
        if np.abs(sweep.C_perp - previous).max() < 1e-13:
            break
    C, e = marchenko_pastur_variable_steps(2.0, 0.5, steps, 0.0, 1.0)
    np.testing.assert_allclose(sweep.C, C, atol=1e-9)
    np.testing.assert_allclose(sweep.train_loss, e, atol=1e-9)


# ----------------------------------------------------------------------------- the limit
def test_square_loss_continuous_limit_is_the_gradient_flow():
    """Five uniform levels (K = 20..320) to t = 2: C and e within 1e-8 of eq. 9.6, the observed
    orders 1, 2, 3 (measured 1.017, 2.067, 3.228), and the error estimate above the error."""
    rule = qd.Quadrature(resolution=1, fixed_point_tol=1e-6)
    res = qd.solve(PURE_NOISE, t_max=2.0, time=ContinuousTime(step=0.1, levels=5), rule=rule)
    C, e = marchenko_pastur_gradient_flow(2.0, 0.5, 0.0, 1.0, res.t)
    assert res.error_kind is qd.ErrorKind.EXTRAPOLATION
    assert np.abs(res.C - C).max() < 1e-8
    assert np.abs(res.train_loss - e).max() < 1e-8
    assert np.all(np.abs(res.C - C) <= res.C_err + 1e-14)
    assert np.all(np.abs(res.train_loss - e) <= res.train_loss_err + 1e-14)
    np.testing.assert_allclose(res.params["observed_orders"]["C"], [1.0, 2.0, 3.0], atol=0.3)
    # one level fewer is worse, by about the factor the orders predict
    coarse = qd.solve(PURE_NOISE, t_max=2.0, time=ContinuousTime(step=0.1, levels=4), rule=rule)
    assert np.abs(coarse.C - C).max() > 5 * np.abs(res.C - C).max()


def test_logistic_gd_extrapolated_order_is_verified():
    """Fig. 1 GD to t = 4 on four levels: column 0 of the tableau converges at order ~1 and
    column 1 (the first extrapolation) at order ~2 (measured on t <= 10 with five levels: 1.0,
    2.07, 3.14 for gen_error)."""
    res = qd.solve(FIG1, t_max=4.0, time=ContinuousTime(step=0.2, levels=4),
                   rule=qd.Quadrature(resolution=1, fixed_point_tol=1e-4))
    for name in ("m", "C", "gen_error", "train_loss"):
        first, second = res.params["observed_orders"][name]
        assert 0.85 <= first <= 1.25, (name, first)
        assert 1.7 <= second <= 2.5, (name, second)
    assert res.gen_error_err.max() < 1e-4


def test_graded_mesh_has_the_same_limit():
    """A graded and a uniform ladder to t = 8: the same limit within their error estimates at
    the common end point, and to the cubic interpolation error of the uniform curve between
    (t >= 1, where the curves are smooth on the uniform step)."""
    uniform = qd.solve(FIG1, t_max=8.0, time=ContinuousTime(step=0.2, levels=3),
                       rule=qd.Quadrature(resolution=1))
    graded = qd.solve(FIG1, t_max=8.0, time=ContinuousTime(step=0.2, levels=3, growth=2.0),
                      rule=qd.Quadrature(resolution=1))
    assert graded.t.size < uniform.t.size
    assert abs(graded.gen_error[-1] - uniform.gen_error[-1]) <= (graded.gen_error_err[-1]
                                                                + uniform.gen_error_err[-1])
    late = graded.t >= 1.0
    between = CubicSpline(uniform.t, uniform.gen_error)(graded.t[late])
    assert np.abs(graded.gen_error[late] - between).max() < 2e-5


def test_result_round_trip(tmp_path):
    res = qd.solve(PURE_NOISE, t_max=1.0, time="continuous", rule=qd.Quadrature(resolution=1))
    again = qd.load(res.save(tmp_path / "cont"))
    assert again.params == res.params and again.error_kind is qd.ErrorKind.EXTRAPOLATION
    np.testing.assert_array_equal(again.C, res.C)
    assert res.params["time"] == "continuous" and res.params["levels"] == 3


# ----------------------------------------------------------------------------- adaptive meshes
def _pilot_grid(step, t_max):
    return ContinuousTime(step=step, growth=25 * step).grids(t_max)[0]


@pytest.mark.parametrize("scale", [0.5, 3.0, 40.0])
def test_adapt_mesh_recovers_a_known_stability_profile(scale):
    """With a curvature whose stable steps are exactly step (1 + t/scale) and curves that relax
    fast (the equidistributed steps grow faster than that), the fit is the stability profile
    itself: growth = scale to the resolution of the search (6%), no cap; the fitted steps
    never pass the bound."""
    step, alpha, fraction = 0.4, 2.0, 0.25
    t = _pilot_grid(step, 500.0)
    kappa = (1 + 1 / math.sqrt(alpha)) ** 2
    curvature = 2 * fraction / (kappa * step * (1 + t / scale))
    np.testing.assert_allclose(stable_steps(curvature, 0.0, alpha, fraction), step * (1 + t / scale))
    curves = {"fast": np.exp(-t), "slow": 1.0 + np.log1p(t)}
    fit = adapt_mesh(t, curves, curvature, step=step, lam=0.0, alpha=alpha, stability=fraction)
    assert abs(fit.growth / scale - 1) < 0.07, fit.params()
    assert fit.max_step is None or fit.max_step > 100 * step * t[-1] / scale
    assert np.all(fit.fitted * step <= stable_steps(curvature[1:-1], 0.0, alpha, fraction) * (1 + 1e-9))
    grid = ContinuousTime(step=step, growth=fit.growth).grids(500.0)[0]
    assert grid.size - 1 == fit.steps


def test_adapt_mesh_is_uniform_without_room_and_respects_max_step():
    """Constant curvature at the stability bound (square loss): nothing may grow, the mesh is
    uniform. A curvature that allows growth, with max_step: the cap is never passed."""
    step, t = 0.2, _pilot_grid(0.2, 50.0)
    flat = np.full(t.size, 2 * 0.25 / ((1 + 1 / math.sqrt(2)) ** 2 * step))
    fit = adapt_mesh(t, {"x": np.exp(-t)}, flat, step=step, lam=0.0, alpha=2.0)
    assert fit.growth is None and fit.max_step is None and np.all(fit.fitted == 1.0)
    decaying = flat / (1 + t)
    capped = adapt_mesh(t, {"x": np.exp(-t)}, decaying, step=step, lam=0.0, alpha=2.0,
                        max_step=5 * step)
    assert capped.growth is not None and capped.max_step <= 5 * step * (1 + 1e-12)
    assert np.all(capped.fitted <= 5 * (1 + 1e-12))


def test_a_pilot_too_short_to_adapt_gives_the_uniform_mesh_and_says_so():
    """t = 0.6 at step 0.2: a pilot of 3 steps cannot fit two parameters; the ladder runs on the
    uniform mesh of the given step, and the message and params say why."""
    res = qd.solve(FIG1, t_max=0.6, time=ContinuousTime(step=0.2, growth="adaptive"),
                   rule=qd.Quadrature(resolution=1))
    mesh = res.params["adapted_mesh"]
    assert mesh["growth"] is None and mesh["pilot_steps"] == 3 and res.t.size == 4
    assert "too short to adapt" in res.message
    np.testing.assert_allclose(np.diff(res.t), 0.2, rtol=1e-12)


def test_adaptive_mesh_reaches_the_limit_with_fewer_steps():
    """Fig. 1 GD to t = 20: the adaptive ladder (step 0.4) against a finer fixed ladder (step 0.2,
    growth 10): within the sum of their estimates at t >= 2 (the reference interpolated, cubic)
    and at the end (measured: 0.01-0.09 of it), with half the coarse steps of the fixed mesh of
    the same step (13 against 28; 0.77 s against 1.6 s), a Richardson order still ~1 (0.92),
    and the mesh recorded in the result."""
    rule = qd.Quadrature(resolution=1)
    adaptive = qd.solve(FIG1, t_max=20.0, time=ContinuousTime(step=0.4, growth="adaptive"), rule=rule)
    fixed = qd.solve(FIG1, t_max=20.0, time=ContinuousTime(step=0.4, growth=10.0), rule=rule)
    reference = qd.solve(FIG1, t_max=20.0, time=ContinuousTime(step=0.2, growth=10.0), rule=rule)
    mesh = adaptive.params["adapted_mesh"]
    assert adaptive.params["growth"] == "adaptive" and mesh["steps"] == adaptive.t.size - 1
    assert adaptive.t.size - 1 <= 0.6 * (fixed.t.size - 1)
    assert adaptive.t[-1] == reference.t[-1] == 20.0
    late = adaptive.t >= 2.0  # where a cubic through the reference's grid resolves the curves
    for name in ("m", "C", "gen_error", "train_loss"):
        ours, theirs = getattr(adaptive, name), getattr(reference, name)
        between = CubicSpline(reference.t, theirs)(adaptive.t[late])
        bound = getattr(adaptive, f"{name}_err") + getattr(reference, f"{name}_err").max()
        assert np.all(np.abs(ours[late] - between) <= bound[late]), name
        assert abs(ours[-1] - theirs[-1]) <= bound[-1], name
    (order,) = adaptive.params["observed_orders"]["gen_error"] or [None]
    assert order is None or 0.7 <= order <= 1.4


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    ({"time": "continuous", "eta": 0.2}, "eta is the learning rate"),
    ({"time": "sideways"}, "unknown time 'sideways'"),
    ({"time": 3}, "time must be"),
    ({}, "eta .* is required"),
])
def test_bad_time_arguments(kwargs, match):
    with pytest.raises(qd.ParameterError, match=match):
        qd.solve(FIG1, t_max=1.0, **kwargs)


def test_refused_schedules_and_sizes():
    with pytest.raises(qd.ParameterError, match="classical SGD"):
        qd.solve(FIG1, qd.SGD(0.5), t_max=1.0, time="continuous")
    with pytest.raises(qd.ParameterError, match="graded mesh"):
        qd.solve(FIG1, qd.PersistentSGD(0.3, 2.0), t_max=1.0,
                 time=ContinuousTime(step=0.1, growth=1.0))
    with pytest.raises(qd.ParameterError, match="max_memory"):
        qd.solve(FIG1, t_max=1000.0, time=ContinuousTime(step=0.01, levels=4))
    for kwargs, name in [({"step": 0.0}, "step"), ({"levels": 1}, "levels"),
                         ({"growth": -1.0}, "growth"), ({"step": 0.5, "max_step": 0.1}, "max_step"),
                         ({"growth": "auto"}, "'adaptive'"), ({"stability": 0.0}, "stability"),
                         ({"stability": 1.5}, "stability")]:
        with pytest.raises(qd.ParameterError, match=name):
            ContinuousTime(**kwargs)
    with pytest.raises(qd.ParameterError, match="graded mesh .*'adaptive'"):
        qd.solve(FIG1, qd.PersistentSGD(0.3, 2.0), t_max=1.0,
                 time=ContinuousTime(step=0.1, growth="adaptive"))
    with pytest.raises(qd.ParameterError, match="no grids before its pilot"):
        ContinuousTime(growth="adaptive").grids(10.0)


def test_gradient_flow_reference_is_the_limit_of_the_discrete_one():
    t = np.array([0.0, 0.5, 2.0])
    C, e = marchenko_pastur_gradient_flow(2.0, 0.5, 0.1, 1.0, t)
    for eta in (1e-3, 5e-4):
        K = int(round(2.0 / eta))
        Cd, ed = marchenko_pastur_square_loss(2.0, 0.5, eta, 0.1, 1.0, K)
        idx = np.rint(t / eta).astype(int)
        assert np.abs(Cd[idx] - C).max() < 2 * eta  # first order in eta
    assert math.isclose(C[0], 1.0) and math.isclose(e[0], 0.5)
    with pytest.raises(qd.ParameterError, match="t must"):
        marchenko_pastur_gradient_flow(2.0, 0.5, 0.1, 1.0, [-1.0])
    with pytest.raises(qd.ParameterError, match="steps"):
        marchenko_pastur_variable_steps(2.0, 0.5, [0.1, -0.1], 0.0, 1.0)


# ----------------------------------------------------------------------------- schedules
def test_a_schedule_of_equal_steps_is_the_scalar_step():
    steps = np.full(10, 0.2)
    a = qd.simulate(FIG1, eta=0.2, t_max=2.0, d=100, seeds=2)
    b = qd.simulate(FIG1, eta=steps, d=100, seeds=2)
    np.testing.assert_array_equal(a.C, b.C)
    np.testing.assert_allclose(b.t, a.t, atol=1e-15)
    rule = qd.QMC(n_points=16, n_h0=4, n_replicates=2)
    c, d = qd.solve(FIG1, eta=0.2, t_max=2.0, rule=rule), qd.solve(FIG1, eta=steps, rule=rule)
    np.testing.assert_allclose(d.gen_error, c.gen_error, atol=1e-12)
    assert d.params["eta"] == steps.tolist()


def test_schedule_dmft_matches_the_simulation_of_the_same_schedule():
    """Logistic GD on a graded schedule (eq. 9.1, steps 0.1 to 1.2, t <= 20) against d = 2000
    simulations with the same steps: within 4 standard errors plus the finite-d allowance 4/d of
    tests/test_dmft_vs_simulator.py."""
    steps = np.diff(ContinuousTime(step=0.2, levels=2, growth=2.0).grids(20.0)[1])
    dmft = qd.solve(FIG1, eta=steps, rule=qd.Quadrature(resolution=1))
    sim = qd.simulate(FIG1, eta=steps, d=2000, seeds=6, seed=1)
    np.testing.assert_allclose(sim.t, dmft.t, rtol=1e-14)
    for name in ("gen_error", "m", "C"):
        theory, measured = getattr(dmft, name), getattr(sim, name)
        sigma = np.hypot(getattr(sim, f"{name}_err"), getattr(dmft, f"{name}_err"))
        allowance = 4.0 / 2000 * (1.0 if name == "gen_error" else np.abs(theory))
        assert np.all(np.abs(theory - measured) <= 4 * sigma + allowance), name


@pytest.mark.parametrize("eta, t_max, match", [
    ([0.1, -0.1], None, "positive steps"),
    (np.ones((2, 2)), None, "1-D array"),
    ([0.1, 0.2], 1.0, "must equal the sum"),
])
def test_bad_schedules_are_refused(eta, t_max, match):
    with pytest.raises(qd.ParameterError, match=match):
        qd.solve(FIG1, eta=eta, t_max=t_max)
    with pytest.raises(qd.ParameterError, match=match):
        qd.simulate(FIG1, eta=eta, t_max=t_max, d=10, seeds=2)


def test_schedules_need_a_deterministic_selection():
    with pytest.raises(qd.ParameterError, match="deterministic selection"):
        qd.solve(FIG1, qd.SGD(0.5), eta=[0.1, 0.2])


def test_every_level_is_checked_against_max_memory():
    """The resource estimate of ``solve`` (``_resources.check_solve``) is applied to every level of
    the ladder before any runs: a limit between the estimates of the coarse (K = 50) and the
    finest (K = 200) level refuses the solve, naming max_memory and the finest level's K."""
    from quaddmft._solver import estimate
    rule = qd.Quadrature(resolution=1)
    coarse = estimate(FIG1, eta=0.2, t_max=10.0, rule=rule).bytes
    finest = estimate(FIG1, eta=0.05, t_max=10.0, rule=rule).bytes
    assert coarse < finest
    with pytest.raises(qd.ParameterError, match=r"max_memory.*|K = 200"):
        qd.solve(FIG1, t_max=10.0, time=ContinuousTime(step=0.2, levels=3), rule=rule,
                 max_memory=0.5 * (coarse + finest))
    try:
        qd.solve(FIG1, t_max=10.0, time=ContinuousTime(step=0.2, levels=3), rule=rule,
                 max_memory=0.5 * (coarse + finest))
    except qd.ParameterError as exc:
        assert "max_memory" in str(exc) and "K = 200" in str(exc)


# ----------------------------------------------------------------------------- combinations
LINEAR = qd.Problem(qd.TeacherStudent(2.0, teacher="linear", noise=0.1), "square", lam=0.1,
                    R=0.25)


@pytest.mark.parametrize("kwargs, problem, match", [
    ({"momentum": qd.HeavyBall(0.5)}, FIG1, "time='continuous' does not support momentum"),
    ({}, qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=0.01, temperature=0.1),
     "time='continuous' does not support Langevin noise"),
    ({}, qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=1.0, constraint=qd.Spherical()),
     "time='continuous' does not support the spherical constraint"),
])
def test_continuous_time_refuses_the_models_it_does_not_cover(kwargs, problem, match):
    with pytest.raises(qd.ParameterError, match=match):
        qd.solve(problem, t_max=1.0, time="continuous", **kwargs)


@pytest.mark.parametrize("kwargs, problem, match", [
    ({"momentum": qd.Nesterov(0.5)}, FIG1, "schedule .*with momentum"),
    ({}, qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=0.01, temperature=0.1),
     "schedule .*with temperature"),
    ({}, qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=1.0, constraint=qd.Spherical()),
     "schedule .*with constraint = spherical"),
])
def test_schedules_refuse_momentum_langevin_and_the_sphere(kwargs, problem, match):
    with pytest.raises(qd.ParameterError, match=match):
        qd.solve(problem, eta=[0.1, 0.2], **kwargs)
    with pytest.raises(qd.ParameterError, match=match):
        qd.simulate(problem, eta=[0.1, 0.2], d=10, seeds=2, **kwargs)


def test_teacher_student_schedule_of_equal_steps_is_the_scalar_step():
    """Variable steps need nothing of the data model: on teacher-student data a schedule of
    equal steps is the scalar step (solve to round-off, simulate bit for bit), and a graded
    schedule of the linear teacher matches the simulation of the same steps."""
    rule = qd.Quadrature(resolution=1)
    steps = np.full(10, 0.2)
    a, b = qd.solve(LINEAR, eta=0.2, t_max=2.0, rule=rule), qd.solve(LINEAR, eta=steps, rule=rule)
    for name in ("m", "C", "gen_error", "train_loss"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-12, atol=1e-14)
    s1 = qd.simulate(LINEAR, eta=0.2, t_max=2.0, d=200, seeds=2)
    s2 = qd.simulate(LINEAR, eta=steps, d=200, seeds=2)
    np.testing.assert_array_equal(s1.C, s2.C)
    graded = np.diff(ContinuousTime(step=0.2, levels=2, growth=2.0).grids(6.0)[1])
    dmft = qd.solve(LINEAR, eta=graded, rule=rule)
    sim = qd.simulate(LINEAR, eta=graded, d=2000, seeds=4, seed=3)
    for name in ("gen_error", "m", "C"):
        theory, measured = getattr(dmft, name), getattr(sim, name)
        sigma = np.hypot(getattr(sim, f"{name}_err"), getattr(dmft, f"{name}_err"))
        assert np.all(np.abs(theory - measured) <= 4 * sigma + 4.0 / 2000 * (1 + np.abs(theory))), name


def test_a_schedule_that_diverges_returns_a_diverged_result():
    """Main's divergence handling on variable steps: square loss on pure noise is stable at
    eta = 0.2 and blows up at eta = 1.5 (> 2 / x+ = 0.69); a schedule of 10 steps of 0.2, then
    steps of 1.5, is solved and simulated up to the step before the blow-up (status 'diverged',
    a RuntimeWarning, the curves finite and on the schedule's times)."""
    steps = np.concatenate([np.full(10, 0.2), np.full(40, 1.5)])
    t = np.concatenate([[0.0], np.cumsum(steps)])
    with pytest.warns(RuntimeWarning, match="diverged"):
        dmft = qd.solve(PURE_NOISE, eta=steps, rule=qd.Quadrature(resolution=1))
    assert dmft.status is qd.Status.DIVERGED and 12 <= dmft.t.size <= 30
    np.testing.assert_array_equal(dmft.t, t[: dmft.t.size])
    assert np.all(np.isfinite(dmft.C)) and "diverged at step" in dmft.message
    with pytest.warns(RuntimeWarning, match="diverged"):
        sim = qd.simulate(PURE_NOISE, eta=steps, d=300, seeds=2)
    assert sim.status is qd.Status.DIVERGED and 12 <= sim.t.size <= 30
    np.testing.assert_array_equal(sim.t, t[: sim.t.size])
    assert abs(sim.t.size - dmft.t.size) <= 3
    # The exact products of the schedule: the blow-up the solve stopped before is the dynamics',
    # and the curves up to it are within the rule's own error estimate (measured: at most 3% of
    # it; the modes of rung 1 resolve C_perp only roughly once it grows, estimate up to ~1e4).
    C_exact = marchenko_pastur_variable_steps(2.0, 0.5, steps, 0.0, 1.0)[0]
    assert np.all(np.abs(dmft.C - C_exact[: dmft.t.size]) <= dmft.C_err + 1e-12)
    assert C_exact[dmft.t.size] > 1e5 * C_exact[10]


def test_a_coarse_rung_skipped_after_a_divergence_keeps_the_ladder_aligned(monkeypatch):
    """Main's skip of a diverging coarse rung inside the continuous ladder: rung 0 of every
    level made to diverge (as a coarse node set that blows up where the dynamics does not),
    the levels extrapolate rungs 1 and 2 by their index, and the limit still matches the exact
    gradient flow within its error estimate."""
    import quaddmft._solver as solver
    real = solver._rung

    def rung(rule, problem, chain, eta, K, index, *args, **kwargs):
        if index == 0:
            raise qd.DivergenceError(3, "|w|^2/d grew from 1 to 1e7 (injected)")
        return real(rule, problem, chain, eta, K, index, *args, **kwargs)
    monkeypatch.setattr(solver, "_rung", rung)
    res = qd.solve(PURE_NOISE, t_max=1.0, time=ContinuousTime(step=0.1, levels=3),
                   rule=qd.Quadrature(resolution=2, fixed_point_tol=1e-6))
    C, e = marchenko_pastur_gradient_flow(2.0, 0.5, 0.0, 1.0, res.t)
    assert "skipped" in res.message
    assert np.all(np.abs(res.C - C) <= res.C_err + 1e-12) and np.abs(res.C - C).max() < 1e-4


@pytest.mark.slow
def test_adaptive_mesh_at_a_long_horizon_agrees_with_the_fixed_one():
    """t = 1000, where the stability bound sets the late steps (up to 0.25 of the explicit limit):
    the adaptive ladder (step 0.4) and the fixed graded one (growth 10) agree within the sum of
    their estimates at every time t >= 5 (the fixed curve interpolated, cubic: before t ~ 4 its
    steps of ~0.5 do not resolve gen_error's curvature, and the interpolation alone is ~1e-4 off)
    and at t = 1000, with at most 0.7x the coarse steps (measured: 74 against 116 steps, 26 s
    against 63 s of CPU; gaps at most 0.041 of the bound)."""
    rule = qd.Quadrature(resolution=1)
    adaptive = qd.solve(FIG1, t_max=1000.0, time=ContinuousTime(step=0.4, growth="adaptive"),
                        rule=rule)
    fixed = qd.solve(FIG1, t_max=1000.0, time=ContinuousTime(step=0.4, growth=10.0), rule=rule)
    assert adaptive.t.size - 1 <= 0.7 * (fixed.t.size - 1)
    late = adaptive.t >= 5.0
    for name in ("m", "C", "gen_error", "train_loss"):
        ours, theirs = getattr(adaptive, name), getattr(fixed, name)
        between = CubicSpline(fixed.t, theirs)(adaptive.t[late])
        bound = (getattr(adaptive, f"{name}_err")
                 + np.interp(adaptive.t, fixed.t, getattr(fixed, f"{name}_err")))
        assert np.all(np.abs(ours[late] - between) <= bound[late]), name
        assert abs(ours[-1] - theirs[-1]) <= bound[-1], name
