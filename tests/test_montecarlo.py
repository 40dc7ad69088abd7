"""MonteCarlo against the deterministic reference: an unbiased error that falls as N^-1/2 (issue 11).

The issue measured, Fig. 1 GD at K = 50, a sup error of gen_error of 4e-4 for
``MonteCarlo(n_samples=4096, n_replicates=8)`` that "does not fall further at 16384 x 8", and
suspected a bias. Measured against ``Quadrature`` (gen_error to ~1e-9), it is not one. Pooled
over 24-4096 independent replicates per N, the bias of gen_error at t = 10 for N = 256, 1024,
4096, 16384, 65536 is +5e-5, -5e-5, -2e-5, -5e-5, -8e-5, each within 1.5 of its standard
error (4e-5 to 7e-5). Over independent 8-replicate runs, the root mean square of the sup error
falls as N^-0.54 (8.7e-4, 4.4e-4, 2.2e-4, 0.9e-4 for N = 1024 ... 65536), as the reported
standard error does (7.8e-4, 3.7e-4, 2.0e-4, 1.1e-4). The issue's 4e-4 at 16384 x 8 is the
default seed's fluctuation of 2.4 standard errors (seed 1: 1.9, of the other sign; seeds 0-11:
0.3 to 2.4); seed 0 at 65536 x 8 is at 4e-5. ``benchmarks/montecarlo_bias.py`` prints the
table.

Here: (1) the node law, the only part of a solve that is MonteCarlo's own, is the law of the
effective sample (cluster frequencies; standard normal, independent coordinates); (2) at K = 50
the error against the reference stays within a few reported standard errors at N = 1024 and
16384 (8 replicates each), and both the reported standard error and the error fall at a rate
compatible with N^-1/2. Power of (2), measured on independent runs with a constant bias added
to gen_error: 1.2e-3 always fails, 8e-4 one time in two; 4e-4 is below what 16384 x 8 samples
resolve (the benchmark's 65536 x 8 x 4 seeds resolve 2e-4). About 7 s of one core.
"""

from __future__ import annotations

import numpy as np
import pytest

import quaddmft as qd
from quaddmft._observables import CURVES
from catalogue import GD, THREE_CLUSTER, TWO_CLUSTER

ETA, T_MAX = 0.2, 10.0  # K = 50, the horizon
SIZES = (1024, 16384)
REPLICATES = 8
SEED = 5
# sup_t |error| / sup_t (reported s.e.) of an 8-replicate mean; measured on 288 independent
# pairs of runs without bias: above 4 for 1% of them (over every curve and both sizes).
MAX_Z = 4.0


@pytest.fixture(scope="module")
def reference():
    return qd.solve(TWO_CLUSTER, GD, eta=ETA, t_max=T_MAX, rule=qd.Quadrature(resolution=1))


@pytest.fixture(scope="module")
def runs():
    return {N: qd.solve(TWO_CLUSTER, GD, eta=ETA, t_max=T_MAX,
                        rule=qd.MonteCarlo(n_samples=N, n_replicates=REPLICATES, seed=SEED))
            for N in SIZES}


@pytest.mark.parametrize("problem", [TWO_CLUSTER, THREE_CLUSTER], ids=["two", "three"])
def test_nodes_follow_the_law_of_the_effective_sample(problem):
    """Every check at 5 sampling standard deviations (2^18 nodes): an error of 1% in the scale
    of a Gaussian coordinate, or of 0.01 in a cluster probability, fails."""
    n, K = 2**18, 12
    nodes = qd.MonteCarlo(n_samples=n).nodes(problem, GD.chain(ETA), K, np.random.default_rng(1))
    assert np.all(nodes.weight == 1.0 / n) and np.all(nodes.s == 1) and nodes.s.shape == (n, K + 1)
    clusters = problem.mixture.clusters()
    for c, y, p in zip(clusters.c, clusters.y, clusters.prob):
        member = nodes.c == c
        assert abs(member.mean() - p) < 5 * np.sqrt(p * (1 - p) / n), (c, member.mean(), p)
        assert np.all(nodes.y[member] == y)
    # h0, h(0)/sqrt(R) and the K innovations: standard normal, independent of each other and
    # of the cluster.
    gauss = np.column_stack([nodes.h0, nodes.h_init, nodes.innovations])
    assert gauss.shape == (n, K + 2)
    assert np.abs(gauss.mean(axis=0)).max() < 5 / np.sqrt(n)
    cov = np.cov(gauss, rowvar=False)
    assert np.abs(np.diag(cov) - 1.0).max() < 5 * np.sqrt(2 / n)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 5 / np.sqrt(n)
    assert np.abs(gauss.T @ (nodes.c - nodes.c.mean()) / n).max() < 5 * nodes.c.std() / np.sqrt(n)


def test_reference_is_exact_at_this_scale(reference, runs):
    # Rung 1's estimate is its difference with rung 0 (8e-6); its own error is ~1e-8.
    assert reference.gen_error_err.max() < 0.1 * runs[SIZES[-1]].gen_error_err.max()


@pytest.mark.parametrize("N", SIZES)
def test_error_within_a_few_reported_standard_errors(reference, runs, N):
    res = runs[N]
    for name in CURVES:
        error = np.abs(getattr(res, name) - getattr(reference, name)).max()
        # The reference's own estimate counts too: at resolution 1 it is the error of rung 0
        # (up to 1e-3, for C and the training accuracy; 8e-6 for gen_error, whose own error is
        # ~1e-8).
        scale = np.hypot(getattr(res, f"{name}_err").max(), getattr(reference, f"{name}_err").max())
        assert error <= MAX_Z * scale, (name, N, error, scale)


def test_error_falls_as_inverse_square_root(reference, runs):
    """Two-point exponents from N = 1024 to 16384, averaged over m, C, gen_error and train_loss
    (a single curve's is noisy: 8 replicates, a sup over t). Bounds: beyond the 0.5% and 99.5%
    quantiles measured over 6912 pairs of independent unbiased runs (s.e.: -0.71, -0.27;
    error: -1.10, 0.17)."""
    small, large = (runs[N] for N in SIZES)
    curves = ("m", "C", "gen_error", "train_loss")
    log_ratio = np.log(SIZES[1] / SIZES[0])

    def exponent(value):
        return np.mean([np.log(value(large, c) / value(small, c)) for c in curves]) / log_ratio

    reported = exponent(lambda res, c: getattr(res, f"{c}_err").max())
    actual = exponent(lambda res, c: np.abs(getattr(res, c) - getattr(reference, c)).max())
    assert -0.8 < reported < -0.2, reported
    assert -1.25 < actual < 0.25, actual
