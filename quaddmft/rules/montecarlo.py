"""``MonteCarlo``: plain pseudo-random sampling of the effective sample (the paper's approach)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import check_int
from .._selection import sample_paths
from ._base import NodeSet, SampledRule

__all__ = ["MonteCarlo"]


@dataclass(frozen=True)
class MonteCarlo(SampledRule):
    """Plain Monte Carlo: ``n_samples`` i.i.d. effective samples per replicate.

    (c, y, h0) from the data model (``Mixture.sample_effective``: c from the cluster
    probabilities and h0 standard normal for the mixtures), h(0)/sqrt(R) and the K innovations
    of xi standard normal, the selection path from K+1 uniforms; ``n_replicates`` >= 2 independent replicates
    from ``seed``; ``*_err`` is one standard error of their mean.

    Unbiased (measured, issue 11): against the deterministic ``Quadrature``, Fig. 1 GD at
    K = 50, the error falls as N^-1/2 together with ``*_err``, to 1e-4 in gen_error at
    65536 x 8. The sup over t of one run's error reaches 2-2.5 times the sup of ``*_err`` for
    a third of the seeds (a sup over correlated times; an ``*_err`` from 8 replicates): that is
    what looked like a bias at 16384 x 8 (``tests/test_montecarlo.py``,
    ``benchmarks/montecarlo_bias.py``).

    Examples
    --------
    >>> import quaddmft as qd
    >>> qd.MonteCarlo(n_samples=1024, n_replicates=4).params()
    {'rule': 'montecarlo', 'n_samples': 1024, 'n_replicates': 4, 'seed': 0}
    """

    n_samples: int = 8192
    n_replicates: int = 8
    seed: int = 0
    name = "montecarlo"

    def __post_init__(self):
        object.__setattr__(self, "n_samples", check_int("n_samples", self.n_samples, low=1))
        object.__setattr__(self, "n_replicates", check_int("n_replicates", self.n_replicates, low=2))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))

    def cost(self, problem, chain, K):
        return self.n_samples, self.n_samples * self.n_replicates

    def nodes(self, problem, chain, K, rng):
        n = self.n_samples
        c, y, h0 = problem.mixture.sample_effective(n, rng)
        h_init = rng.standard_normal(n)
        innovations = rng.standard_normal((n, K))
        uniforms = np.empty((n, K + 1)) if chain.deterministic else rng.random((n, K + 1))
        return NodeSet(
            weight=np.full(n, 1.0 / n),
            c=c,
            y=y,
            h0=h0,
            h_init=h_init,
            innovations=innovations,
            s=sample_paths(chain, uniforms),
        )
