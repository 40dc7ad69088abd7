"""Reference errors (Bayes-optimal two-cluster, three-cluster oracle) and the finite-d DMFT start."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import quaddmft as qd
from catalogue import THREE_MIXTURE

def test_bayes_optimal_value_of_theory_section_6():
    assert qd.bayes_optimal_error(2.0, 0.5) == pytest.approx(0.10295, abs=5e-6)


@given(st.floats(0.05, 20.0), st.floats(0.05, 5.0))
def test_bayes_optimal_is_the_hebbian_first_gd_step(alpha, delta):
    # One GD step from w = 0: m = eta alpha/2, C = (eta/2)^2 (alpha^2 + alpha Delta) (THEORY 6).
    eta = 0.2
    m, C = eta * alpha / 2, (eta / 2) ** 2 * (alpha**2 + alpha * delta)
    eps = qd.TwoCluster(alpha, delta).gen_error(m, C)
    assert qd.bayes_optimal_error(alpha, delta) == pytest.approx(float(eps), rel=1e-12)


def test_bayes_optimal_limits_and_input_checks():
    assert qd.bayes_optimal_error(0.0, 0.5) == 0.5
    assert qd.bayes_optimal_error(1e9, 0.5) == pytest.approx(0.5 * math.erfc(1.0), rel=1e-6)
    with pytest.raises(qd.ParameterError, match="delta"):
        qd.bayes_optimal_error(2.0, 0.0)
    with pytest.raises(qd.ParameterError, match="alpha"):
        qd.bayes_optimal_error(-1.0, 0.5)


@pytest.mark.parametrize("delta", [0.01, 0.05, 0.1, 0.5, 2.0])
@pytest.mark.parametrize("L", [0.3, 0.7, 2.0])
def test_oracle_is_the_minimum_over_the_norm_along_v(delta, L):
    three = qd.ThreeCluster(alpha=2.0, delta=delta, L=L)
    res = minimize_scalar(lambda m: float(three.gen_error(m, m * m)),
                          bounds=(1e-3 * L, 1e3 * L), method="bounded",
                          options={"xatol": 1e-12 * L})
    assert qd.oracle_error(delta) == pytest.approx(res.fun, rel=1e-8, abs=1e-14)
    assert L / res.x == pytest.approx(qd.oracle_threshold(delta), rel=1e-4)


@given(st.floats(0.01, 3.0), st.floats(0.1, 2.0), st.floats(-3.0, 3.0), st.floats(0.0, 5.0))
def test_oracle_bounds_every_classifier(delta, L, m, c_perp):
    eps = qd.ThreeCluster(alpha=2.0, delta=delta, L=L).gen_error(m, m * m + c_perp)
    assert float(eps) >= qd.oracle_error(delta) - 1e-12


def test_oracle_values_and_small_delta():
    assert qd.oracle_error(0.05) == pytest.approx(0.0177566, abs=1e-7)
    assert qd.oracle_threshold(1e-4) == pytest.approx(0.5 + 1e-4 * math.log(2.0), rel=1e-9)
    assert 0.0 <= qd.oracle_error(1e-4) < 1e-100
    assert qd.oracle_error(1e6) == pytest.approx(0.5, abs=1e-3)  # no signal: best is a coin flip
    with pytest.raises(qd.ParameterError, match="delta"):
        qd.oracle_error(-0.1)


def test_finite_d_start():
    three = qd.ThreeCluster(alpha=2.0, delta=0.05, L=0.7)
    p = qd.Problem(three, R=1.0, m0=qd.FiniteDStart(500))
    assert p.m0 == pytest.approx(math.sqrt(2.0 / (math.pi * 500)), rel=1e-15)
    assert p.m0 == qd.finite_d_m0(1.0, 500)
    assert p.params()["m0_d"] == 500 and p.params()["m0"] == p.m0
    assert dataclasses.replace(p, lam=0.1).m0 == p.m0  # a resolved start round-trips
    random_start = dataclasses.replace(p, m0=0.0, m0_d=None)
    assert random_start.m0 == 0.0 and "m0_d" not in random_start.params()
    assert "m0_d" not in qd.Problem(three, m0=0.2).params()
    # The older spelling still gives the same problem, with a warning.
    with pytest.warns(DeprecationWarning, match="FiniteDStart"):
        old = qd.Problem(three, R=1.0, m0="finite-d", m0_d=500)
    assert old == p


@pytest.mark.parametrize("build, match", [
    (lambda: qd.FiniteDStart(0), r"\bd\b"),
    (lambda: qd.FiniteDStart(10.5), r"\bd\b"),
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0=qd.FiniteDStart(100), m0_d=200), "disagree"),
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0="finite", m0_d=100), "FiniteDStart"),
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0=0.3, m0_d=100), "sqrt"),
    # the older spelling
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0="finite-d"), "needs m0_d"),
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0="finite-d", m0_d=0), "m0_d"),
    (lambda: qd.Problem(THREE_MIXTURE, R=1.0, m0="finite-d", m0_d=10.5), "m0_d"),
])
def test_finite_d_start_bad_input(build, match):
    with pytest.raises(qd.ParameterError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the older spelling warns first
        build()


def test_finite_d_start_moves_the_three_cluster_dmft_off_the_plateau():
    three = qd.ThreeCluster(alpha=2.0, delta=0.05, L=0.7)
    rule = qd.QMC(n_points=16, n_h0=2, n_replicates=2)
    res = qd.solve(qd.Problem(three, R=1.0, m0=qd.FiniteDStart(500)), eta=0.2, t_max=6.0, rule=rule)
    assert res.params["m0"] == qd.finite_d_m0(1.0, 500) or res.m[0] == qd.finite_d_m0(1.0, 500)
    assert np.all(np.isfinite(res.m)) and res.m[-1] > 10 * res.m[0]
    assert res.gen_error[-1] < 0.4
