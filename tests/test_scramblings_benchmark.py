"""The pieces of benchmarks/scramblings.py (the default rule's error over scramblings).

(1) Its first-order split of gen_error's error into an m part and a C part adds up to the
actual change of gen_error for small changes of m and C, and a change of C that cancels the
change of m to first order shows as correlation -1. (2) Its spread of sup errors, against a
reference that is the solve itself minus known offsets, gives back those offsets. About 5 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import benchmark_script


@pytest.fixture(scope="module")
def scramblings():
    with benchmark_script("scramblings") as module:
        yield module


def test_the_split_adds_up_to_the_change_of_gen_error(scramblings):
    mixture = scramblings.PROBLEM.mixture
    m = np.linspace(0.1, 2.0, 40)
    C = m**2 + np.linspace(0.5, 3.0, 40)
    rng = np.random.default_rng(0)
    dm, dC = 1e-6 * rng.standard_normal(40), 1e-6 * rng.standard_normal(40)
    split = scramblings.split_gen_error(m, C, dm, dC)
    actual = mixture.gen_error(m + dm, C + dC) - mixture.gen_error(m, C)
    assert split["sum"] == pytest.approx(np.sqrt(np.mean(actual**2)), rel=1e-4)
    # dC along the level set of gen_error (a dm + b dC = 0): the parts cancel exactly
    h = 1e-6
    a = (mixture.gen_error(m + h, C) - mixture.gen_error(m - h, C)) / (2 * h)
    b = (mixture.gen_error(m, C + h) - mixture.gen_error(m, C - h)) / (2 * h)
    level = scramblings.split_gen_error(m, C, dm, -a * dm / b)
    assert level["correlation"] == pytest.approx(-1.0, abs=1e-9)
    assert level["sum"] < 1e-9 * level["m_part"]


def test_the_spread_measures_the_difference_with_the_reference(scramblings):
    solved = scramblings.solve(scramblings.qd.Quadrature(resolution=1, seed=0))
    rng = np.random.default_rng(1)
    offset = {c: 1e-7 * rng.standard_normal(solved.t.size) for c in scramblings.CURVES}
    ref = {c: getattr(solved, c) - offset[c] for c in scramblings.CURVES}
    row = scramblings.spread(ref, "weighted", 1, 1)
    assert row["gen_error_below_1e-5"] == 1
    for c in scramblings.CURVES:
        assert row[c]["max_sup"] == pytest.approx(np.abs(offset[c]).max(), rel=1e-6)
        assert row[c]["rms"] == pytest.approx(np.sqrt(np.mean(offset[c] ** 2)), rel=1e-6)
