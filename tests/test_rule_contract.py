"""The contract of every averaging rule in ``quaddmft.RULES``, on the catalogue's small instances.

Whatever the rule, ``solve`` returns a result of the documented layout (finite arrays, (K+1,)
curves, (K+1, K+1) kernels, non-negative error estimates of the rule's ``error_kind``), is
reproducible bit for bit, records the rule so that ``rule_from_params`` rebuilds it, and honours
the exact statements every rule must get exactly: b = 1 is full-batch GD, and the square loss on
pure noise is the Marchenko-Pastur solution (to 1e-8 for the deterministic rule, within 5 of
their own standard errors for the sampling ones). The w -> -w symmetry of the three-cluster model
is asserted for the rules whose node sets are symmetric (``catalogue.SIGN_SYMMETRIC_RULES``).

Short horizons (K <= 15) and small rules: the whole file takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._observables import CURVES, KERNELS
from quaddmft.references import marchenko_pastur_square_loss
from quaddmft.rules import RefinedRule, SampledRule
from catalogue import (GD, PURE_NOISE, SELECTION_PROCESSES, SIGN_SYMMETRIC_RULES, SMALL_RULES,
                       THREE_CLUSTER, TWO_CLUSTER)

ETA, K = 0.2, 6
_SOLVED: dict = {}


def solve(rule_name, schedule_name, problem=TWO_CLUSTER):
    """A fresh solve of the catalogue's setting (t_max = K eta)."""
    return qd.solve(problem, SELECTION_PROCESSES[schedule_name], eta=ETA, t_max=K * ETA,
                    rule=SMALL_RULES[rule_name])


def solved(rule_name, schedule_name):
    """``solve`` on the two-cluster problem, computed once per module."""
    key = (rule_name, schedule_name)
    if key not in _SOLVED:
        _SOLVED[key] = solve(rule_name, schedule_name)
    return _SOLVED[key]


def arrays(result) -> dict:
    return {k: v for k, v in vars(result).items() if isinstance(v, np.ndarray)}


def test_catalogue_has_a_small_instance_of_every_registered_rule():
    assert sorted(SMALL_RULES) == sorted(qd.RULES)
    for name, rule in SMALL_RULES.items():
        assert type(rule) is qd.RULES[name]
    assert SIGN_SYMMETRIC_RULES <= set(SMALL_RULES)


def test_result_layout(rule_name, small_rule, schedule_name):
    res = solved(rule_name, schedule_name)
    assert res.success and res.status == "success"
    assert res.error_kind == type(small_rule).error_kind.value
    assert isinstance(res.error_kind, qd.ErrorKind)
    np.testing.assert_allclose(res.t, ETA * np.arange(K + 1), rtol=1e-15)
    for name in CURVES:
        assert getattr(res, name).shape == (K + 1,), name
        err = getattr(res, f"{name}_err")
        assert err.shape == (K + 1,), name
        assert np.all(err >= 0.0), name
    for name in KERNELS:
        expected = (K + 1,) if name in ("mu", "P") else (K + 1, K + 1)
        assert getattr(res, name).shape == expected, name
    for name, value in arrays(res).items():
        assert np.all(np.isfinite(value)), name
    # Only the refined rules keep a history of their sweeps (one entry per sweep).
    assert bool(res.history) == isinstance(small_rule, RefinedRule)


def test_solve_is_reproducible_bit_for_bit(rule_name, small_rule, schedule_name):
    first, again = solved(rule_name, schedule_name), solve(rule_name, schedule_name)
    for name, value in arrays(first).items():
        np.testing.assert_array_equal(getattr(again, name), value, err_msg=name)
    assert again.params == first.params and again.message == first.message
    if isinstance(small_rule, SampledRule):  # ... and the seed is what fixes it
        other = qd.solve(TWO_CLUSTER, SELECTION_PROCESSES[schedule_name], eta=ETA, t_max=K * ETA,
                         rule=dataclasses.replace(small_rule, seed=small_rule.seed + 1))
        assert not np.array_equal(other.gen_error, first.gen_error)


def test_params_rebuild_the_rule(rule_name, small_rule):
    params = solved(rule_name, "persistent").params
    assert qd.rule_from_params(params) == small_rule
    assert qd.rule_from_params(json.loads(json.dumps(params))) == small_rule  # as the CLI stores it


@pytest.mark.parametrize("other", [
    qd.SGD(1.0), qd.PersistentSGD(1.0, 0.05), qd.PersistentSGD(1.0, 7.0),
    qd.PersistentSGD(1.0, 0.05, law=qd.ExactLaw()),
], ids=["sgd", "persistent-short-tau", "persistent-long-tau", "persistent-exact"])
def test_batch_fraction_one_is_full_batch_exactly(rule_name, small_rule, other):
    """b = 1 selects every sample at every step, whatever tau and the law: the same solve as
    FullBatch(), bit for bit (every array, error estimates included)."""
    gd = solved(rule_name, "gd")
    res = qd.solve(TWO_CLUSTER, other, eta=ETA, t_max=K * ETA, rule=small_rule)
    for name, value in arrays(gd).items():
        np.testing.assert_array_equal(getattr(res, name), value, err_msg=name)


def _three_cluster(m0):
    return dataclasses.replace(THREE_CLUSTER, m0=m0, m0_d=None)


def test_three_cluster_symmetric_state_is_not_kicked_by_the_rule(rule_name, small_rule):
    """The door model is symmetric under w -> -w: from m0 = 0 the DMFT stays at m = 0, and
    m0 -> -m0 only flips the sign of m. Exact for node sets that are symmetric themselves (QMC:
    antithetic pairs with the symmetric Gauss-Hermite rule in h0; Quadrature: symmetric sparse
    grids). Plain Monte Carlo samples are not symmetric and leave m = 0 at once; that is asserted
    too, so that ``SIGN_SYMMETRIC_RULES`` stays true (and shows the check can fail)."""
    flat = qd.solve(_three_cluster(0.0), GD, eta=0.1, t_max=4.0, rule=small_rule)
    if rule_name not in SIGN_SYMMETRIC_RULES:
        assert np.abs(flat.m).max() > 1e-6, "symmetric after all: add it to SIGN_SYMMETRIC_RULES"
        return
    assert np.abs(flat.m).max() < 1e-14
    np.testing.assert_allclose(flat.gen_error, 0.5, atol=1e-12)
    # Stochastic schedules too: the two nodes of a symmetric pair share their selection path.
    for schedule in (SELECTION_PROCESSES["sgd"], SELECTION_PROCESSES["persistent"]):
        res = qd.solve(_three_cluster(0.0), schedule, eta=0.1, t_max=0.5, rule=small_rule)
        assert np.abs(res.m).max() < 1e-14, schedule
    up = qd.solve(_three_cluster(0.01), GD, eta=0.1, t_max=1.5, rule=small_rule)
    down = qd.solve(_three_cluster(-0.01), GD, eta=0.1, t_max=1.5, rule=small_rule)
    # Exact in exact arithmetic; the escape from m = 0 is unstable and amplifies round-off
    # (different summation order) by ~4x per step, so compare before it reaches 1e-8.
    np.testing.assert_allclose(down.m, -up.m, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(down.gen_error, up.gen_error, rtol=1e-8)


@pytest.mark.parametrize("alpha, lam, R", [(2.0, 0.0, 1.0), (0.5, 0.1, 1.0), (3.0, 0.3, 0.5)])
def test_square_loss_on_pure_noise_is_marchenko_pastur(rule_name, small_rule, alpha, lam, R):
    """Full-batch GD with the square loss on pure noise: the process is Gaussian and the exact
    solution is the Marchenko-Pastur one (``references.marchenko_pastur_square_loss``). The
    deterministic rule is exact up to its KL truncation, within its own estimate (its 1e-10 at
    a tight tolerance is in test_quadrature.py); a sampling rule is
    within 5 of its own standard errors (16 replicates, so that the error bar is itself reliable;
    plus round-off at k = 0, where the error bar of C is exactly 0)."""
    eta, K_mp = 0.2, 15
    problem = dataclasses.replace(PURE_NOISE, mixture=qd.PureNoise(alpha, PURE_NOISE.delta),
                                  lam=lam, R=R)
    rule = small_rule
    if isinstance(rule, SampledRule):
        rule = dataclasses.replace(rule, n_replicates=16)
    res = qd.solve(problem, GD, eta=eta, t_max=K_mp * eta, rule=rule)
    C, e = marchenko_pastur_square_loss(alpha, problem.delta, eta, lam, R, K_mp)
    assert res.success
    if isinstance(small_rule, SampledRule):
        assert np.all(np.abs(res.C - C) <= 5 * res.C_err + 1e-12 * C[0])
        assert np.all(np.abs(res.train_loss - e) <= 5 * res.train_loss_err + 1e-12 * e[0])
    else:
        # A refined rule: exact up to its KL truncation, which its own estimate covers (plus
        # round-off), and small at any rung: at rung 1 (at most 6 KL modes) within 1e-6 of the
        # initial scale C(0) = R, e(0).
        assert np.all(np.abs(res.C - C) <= res.C_err + 1e-12 * C[0])
        assert np.all(np.abs(res.train_loss - e) <= res.train_loss_err + 1e-12 * e[0])
        np.testing.assert_allclose(res.C, C, rtol=0, atol=1e-6 * C[0])
        np.testing.assert_allclose(res.train_loss, e, rtol=0, atol=1e-6 * e[0])
        assert res.history
    # Centred data from m0 = 0: m = 0 for ever. Exactly for the rules that drop h0 when it
    # cannot enter (``Problem.h0_enters``; their m_err is 0), within the error bars for the
    # others (Monte Carlo samples h0, and its sample mean moves m).
    assert np.all(np.abs(res.m) <= 5 * res.m_err)
