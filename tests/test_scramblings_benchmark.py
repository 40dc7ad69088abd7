"""The pieces of benchmarks/scramblings.py (the default rule's error over scramblings).

(1) Its first-order split of gen_error's error into an m part and a C part adds up to the
actual change of gen_error for small changes of m and C, and a change of C that cancels the
change of m to first order shows as correlation -1. (2) Its spread of sup errors, against a
reference that is the solve itself minus known offsets, gives back those offsets. (3) Its mean
of rungs r, r-1, r-2 weighs them 1 : 2^-1.4 : 2^-2.8. About 5 s.
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
    row, signed = scramblings.spread(ref, "weighted", 1, 1)
    assert signed["gen_error"].shape == (1, solved.t.size)
    assert row["gen_error_below_1e-5"] == 1
    for c in scramblings.CURVES:
        assert row[c]["max_sup"] == pytest.approx(np.abs(offset[c]).max(), rel=1e-6)
        assert row[c]["rms"] == pytest.approx(np.sqrt(np.mean(offset[c] ** 2)), rel=1e-6)


def test_the_combination_of_rungs_weighs_them_as_stated(scramblings):
    weights = scramblings.COMBINATION_WEIGHTS
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert weights[1] / weights[0] == pytest.approx(2.0**-1.4) and weights[2] / weights[1] == pytest.approx(2.0**-1.4)
    rng = np.random.default_rng(2)
    x = {c: rng.standard_normal((3, 11)) for c in scramblings.CURVES}
    zero = {c: np.zeros((3, 11)) for c in scramblings.CURVES}
    # only rung r - 1 in error: the combination carries its weight of it
    row = scramblings.combined({4: zero, 3: x, 2: zero}, 4)
    for c in scramblings.CURVES:
        assert row[c]["rms"] == pytest.approx(weights[1] * np.sqrt(np.mean(x[c] ** 2)), rel=1e-12)
    # every rung with the same errors: the combination has them too
    same = scramblings.combined({4: x, 3: x, 2: x}, 4)
    assert same["gen_error"]["max_sup"] == pytest.approx(np.abs(x["gen_error"]).max(axis=1).max(), rel=1e-12)
