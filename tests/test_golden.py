"""Recorded outputs of representative solves and simulations (``golden_cases.py``) still come out.

Guards refactorings: every array of every case must equal the recorded one to 1e-12 of the
array's largest entry (in practice bitwise where the arithmetic order is unchanged).
"""

import numpy as np
import pytest

from golden_cases import CASES, GOLDEN, arrays_of

# Arrays renamed by the redesign (issue 12), under their recorded names: the weight response of
# a DMFTResult (``R`` clashed with the initial variance R of ``params``) and the errors of a
# SimulationResult (one ``*_err`` convention for both kinds of result).
RENAMED = {"R": "response", **{f"{c}_sem": f"{c}_err" for c in
                               ("m", "C", "gen_error", "train_loss", "train_accuracy",
                                "gen_error_empirical")}}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_reproduces_its_golden_output(name):
    with np.load(GOLDEN / f"{name}.npz") as recorded:
        expected = {RENAMED.get(key, key): recorded[key] for key in recorded.files}
    actual = arrays_of(name)
    assert sorted(actual) == sorted(expected), "the result's arrays changed"
    for key, want in expected.items():
        got = actual[key]
        assert got.shape == want.shape, key
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(scale, 1e-300), err_msg=key)
