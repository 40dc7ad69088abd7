"""The coverage benchmark (benchmarks/coverage.py, issue 11) on two tiny settings.

(1) Its comparison flags an underestimate: a curve whose reported error is 10x too small is
covered nowhere and has worst ratio ~10; one whose error lies within the reference's own
uncertainty counts as covered. (2) On GD t <= 4 (K = 20) and SGD b = 0.3 t <= 0.6 (K = 3, every
path enumerated), the default deterministic rule's ``*_err`` covers every time point of every
curve the reference resolves 30x better (the benchmark's criterion), against the benchmark's
reference rung ``Quadrature(resolution=3, fixed_point_tol=1e-4)``. (At t <= 2 the default is
within 1e-12 of it on gen_error: too close for the reference to resolve three curves 30x.)
About 10 s of one core.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import quaddmft as qd
from benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def coverage():
    with benchmark_script("coverage") as module:
        yield module


def _fake(values, errors, kind=qd.ErrorKind.REFINEMENT):
    t = np.arange(len(values), dtype=float)
    return SimpleNamespace(t=t, gen_error=np.asarray(values, float),
                           gen_error_err=np.asarray(errors, float), error_kind=kind)


def test_comparison_flags_an_underestimate(coverage):
    ref = _fake([0.3, 0.2, 0.1], [1e-9, 1e-9, 1e-9])
    under = coverage.compare(_fake([0.3 + 1e-3, 0.2 - 1e-3, 0.1 + 1e-3], [1e-4] * 3), ref, "gen_error")
    assert under["covered"] == 0.0
    assert under["worst_ratio"] == pytest.approx(10.0, rel=1e-3)
    assert under["factor"] > 30
    fair = coverage.compare(_fake([0.3 + 1e-3, 0.2, 0.1 - 5e-4], [2e-3] * 3), ref, "gen_error")
    assert fair["covered"] == 1.0 and fair["worst_ratio"] == pytest.approx(0.5, rel=1e-3)
    # a discrepancy within 3 standard errors of a sampled reference is not held against the rule
    noisy = _fake([0.3, 0.2, 0.1], [1e-3] * 3, kind=qd.ErrorKind.STANDARD_ERROR)
    within = coverage.compare(_fake([0.3 + 2.5e-3, 0.2, 0.1], [1e-6] * 3), noisy, "gen_error")
    assert within["covered"] == 1.0 and within["covered_strict"] < 1.0


@pytest.mark.parametrize("schedule, t_max", [(qd.FullBatch(), 4.0), (qd.SGD(0.3), 0.6)],
                         ids=["gd-t4", "sgd-t0.6-every-path"])
def test_default_rule_covered_on_tiny_settings(coverage, schedule, t_max):
    setting = coverage.Setting("tiny", "", coverage.two(0.1), schedule, t_max, coverage.FINE,
                               [("quadrature default", qd.Quadrature())])
    out = coverage.run_setting(setting, log=lambda text: None)
    conclusive = [r for r in out["rows"] if r["factor"] >= coverage.REQUIRED_FACTOR]
    assert len(conclusive) >= 3, out["rows"]  # m, C, gen_error at least are resolved
    for row in conclusive:
        assert row["covered"] == 1.0, row
        assert row["worst_ratio"] <= 1.0, row
