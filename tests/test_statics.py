"""quaddmft.statics: the replica saddle point of ridge logistic ERM, checked two independent ways.

1. Direct minimisation at finite d (L-BFGS on the simulator's datasets): the overlaps m, q and
   the test error of the minimiser agree with the saddle point within 4 standard errors over
   seeds plus an O(1/d) allowance (coefficient 4, as for the DMFT-vs-simulator tests).
2. The late-time state of the DMFT of full-batch GD with lambda > 0 (strictly convex training
   loss): the dynamics reaches a fixed point (the kernels stop changing) whose test error equals
   the saddle point's within the DMFT's own error bar.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quaddmft as qd
from quaddmft import statics
from quaddmft.references import bayes_optimal_error
from strategies import alphas, deltas

FINITE_D_COEFFICIENT = 4.0


def check_against_minimisation(alpha, delta, lam, d, seeds):
    sp = statics.saddle_point(alpha, delta, lam)
    runs = [statics.direct_minimisation(alpha, delta, lam, d=d, seed=s) for s in range(seeds)]
    for name in ("m", "q", "gen_error", "train_loss"):
        values = np.array([getattr(r, name) for r in runs])
        sem = values.std(ddof=1) / math.sqrt(seeds)
        theory = getattr(sp, name)
        allowance = FINITE_D_COEFFICIENT / d * (1.0 if name == "gen_error" else abs(theory))
        assert abs(values.mean() - theory) <= 4 * sem + allowance, (
            name, theory, values.mean(), sem, allowance)


@pytest.mark.parametrize("alpha, delta, lam", [(2.0, 0.5, 0.5), (0.7, 1.0, 0.1), (3.0, 0.3, 1.0)])
def test_saddle_point_matches_direct_minimisation(alpha, delta, lam):
    check_against_minimisation(alpha, delta, lam, d=600, seeds=6)


@pytest.mark.slow
@settings(max_examples=15)
@given(alpha=alphas(0.3, 4.0), delta=deltas(0.1, 2.0), lam=st.floats(0.05, 2.0))
def test_saddle_point_matches_direct_minimisation_deep(alpha, delta, lam):
    check_against_minimisation(alpha, delta, lam, d=1000, seeds=8)


@given(alpha=alphas(0.3, 4.0), delta=deltas(0.1, 2.0), lam=st.floats(0.05, 2.0))
def test_saddle_point_is_a_fixed_point_and_sane(alpha, delta, lam):
    sp = statics.saddle_point(alpha, delta, lam)
    assert sp.residual < 1e-12
    assert sp.m > 0 and sp.q >= sp.m**2 and sp.V > 0
    assert 0 < sp.gen_error < 0.5
    # Never better than Bayes-optimal (the first GD step from w = 0, THEORY section 6).
    assert sp.gen_error >= bayes_optimal_error(alpha, delta) - 1e-12
    # A stronger ridge shrinks the weights.
    assert statics.saddle_point(alpha, delta, 2 * lam).q < sp.q


def test_saddle_point_reduces_to_hebbian_at_large_ridge():
    """lambda -> infinity: w ~ (1/lambda) sum_mu y_mu x_mu l'(0) ... the Hebbian (Bayes) direction."""
    alpha, delta = 2.0, 0.5
    sp = statics.saddle_point(alpha, delta, 1e4)
    assert abs(sp.gen_error - bayes_optimal_error(alpha, delta)) < 1e-6


@pytest.mark.parametrize("kwargs, name", [
    (dict(alpha=-1.0, delta=0.5, lam=1.0), "alpha"), (dict(alpha=2.0, delta=0.0, lam=1.0), "delta"),
    (dict(alpha=2.0, delta=0.5, lam=0.0), "lam"), (dict(alpha=2.0, delta=0.5, lam=1.0, loss="square"), "loss"),
    (dict(alpha=2.0, delta=0.5, lam=1.0, loss="hinge"), "loss"),
])
def test_statics_bad_input(kwargs, name):
    with pytest.raises(qd.ParameterError, match=name):
        statics.saddle_point(**kwargs)


def check_late_time_is_statics(alpha, delta, lam, t_max, rule):
    """GD (b = 1) with lambda > 0 on the logistic two-cluster problem: fixed point = ERM."""
    problem = qd.Problem(qd.TwoCluster(alpha, delta), "logistic", lam=lam, R=0.1)
    res = qd.solve(problem, eta=0.2, t_max=t_max, rule=rule)
    K = res.t.size - 1
    # The kernels have stopped changing: last increments tiny against the values.
    for series in (res.m, res.C, np.diag(res.Gamma), np.diag(res.M_C), res.mu):
        assert abs(series[K] - series[K - 1]) <= 1e-6 * max(abs(series[K]), 1e-3), series[-3:]
    sp = statics.saddle_point(alpha, delta, lam)
    assert abs(res.gen_error[K] - sp.gen_error) <= 4 * res.gen_error_err[K] + 1e-6, (
        res.gen_error[K], res.gen_error_err[K], sp.gen_error)
    for name, value in (("m", sp.m), ("C", sp.q), ("train_loss", sp.train_loss)):
        assert abs(getattr(res, name)[K] - value) <= 4 * getattr(res, f"{name}_err")[K] + 1e-6 * abs(value), (
            name, getattr(res, name)[K], getattr(res, f"{name}_err")[K], value)


def test_late_time_gd_with_ridge_is_the_erm_minimiser():
    check_late_time_is_statics(3.0, 0.3, 1.0, 15.0, qd.QMC(n_points=32, n_h0=6, n_replicates=8, seed=0))


@pytest.mark.slow
@settings(max_examples=6)
@given(alpha=alphas(0.5, 3.0), delta=deltas(0.2, 1.0), lam=st.floats(0.5, 1.5))
def test_late_time_gd_with_ridge_is_the_erm_minimiser_deep(alpha, delta, lam):
    check_late_time_is_statics(alpha, delta, lam, 25.0, qd.QMC(n_points=128, n_h0=8, n_replicates=8, seed=0))
