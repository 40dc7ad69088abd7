"""``QMC``: exact sum over c, Gauss-Hermite over h0, scrambled Sobol' over the path of xi and s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from .._errors import ParameterError, check_int, check_power_of_two
from .._observables import h0_layout
from .._quadrature import SOBOL_MAX_DIMENSION, tensor_product
from .._selection import sample_paths
from ._base import NodeSet, SampledRule, normals_from_uniforms

__all__ = ["QMC"]



@dataclass(frozen=True)
class QMC(SampledRule):
    """Exact sum over c, Gauss-Hermite over h0, scrambled Sobol' over the Gaussian path and s.

    Outer tensor rule: the data model's label groups with ``n_h0`` nodes for h0 each
    (``Mixture.label_factor``: for the mixtures, the clusters after the exact c -> -c symmetry
    and the Gauss-Hermite rule). Inner rule: ``n_points`` scrambled Sobol' points (a power of 2, for the balance
    properties) whose coordinates are, in order of importance, h(0)/sqrt(R), the K innovations of
    xi in time order, then (if b < 1) the K+1 uniforms of the selection path. Every outer node is
    paired with every inner point: nodes per replicate = (#clusters) * n_h0 * n_points.

    Why h(0) is not on a Gauss-Hermite rule too: observables such as the training accuracy are
    sharp functions of h(0) at early times, and a fixed product rule biases them by O(1e-2)
    without the replicate spread noticing; randomized QMC has no such hidden bias.

    Exact reduction: when h0 cannot enter the dynamics (``Problem.h0_enters`` False: every
    centre c = 0 and m0 = 0), the h0 rule collapses to one node and its factor of the node
    budget goes to the Sobol' points (n_points * n_h0, rounded down to a power of 2).

    Antithetic pairs (``antithetic=True``; default None = only for mixtures with the w -> -w
    symmetry, ``mixture.w_sign_symmetric``, i.e. the door model): n_points/2 Sobol' points and their
    mirror images (h(0), innovations) -> -(h(0), innovations) with the same selection path. With
    the symmetric Gauss-Hermite rule in h0, the node set is then exactly symmetric under the
    w -> -w symmetry of the three-cluster door model, so the symmetric state m = 0 is not kicked
    by the rule itself (without pairs, each replicate escaped it in a random direction by t ~ 8,
    competing with the finite-d start m0 ~ 1e-3); odd parts of every integrand cancel exactly.
    Elsewhere pairs only halve the Sobol' points for the even parts (measured: the MP error bar
    doubles), hence the default.

    Examples
    --------
    >>> import quaddmft as qd
    >>> qd.QMC(n_points=32, n_h0=4, n_replicates=4, seed=1).params()["n_points"]
    32
    """

    n_points: int = 256
    n_h0: int = 8
    # 16 replicates: the spread of randomized QMC estimates is heavy-tailed (the inverse-CDF
    # map makes integrands unbounded), so a standard error from fewer is unreliable.
    n_replicates: int = 16
    seed: int = 0
    antithetic: bool | None = None
    name = "qmc"

    def __post_init__(self):
        object.__setattr__(self, "n_points", check_power_of_two("n_points", self.n_points))
        object.__setattr__(self, "n_h0", check_int("n_h0", self.n_h0, low=1))
        object.__setattr__(self, "n_replicates", check_int("n_replicates", self.n_replicates, low=2))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))

    def cost(self, problem, chain, K):
        n_h0, n_points = (self.n_h0, self.n_points) if problem.h0_enters else (1, self.n_points * self.n_h0)
        # The data model's label groups times their h0 nodes (the outer factor of ``nodes``).
        N = problem.mixture.label_factor(n_h0).h0.size * n_points
        return N, N * self.n_replicates

    def nodes(self, problem, chain, K, rng):
        n_h0, n_points = self.n_h0, self.n_points
        if not problem.h0_enters:
            n_h0, n_points = 1, 2 ** int(np.log2(self.n_points * self.n_h0))
        stochastic = not chain.deterministic
        dim = 1 + K + (K + 1 if stochastic else 0)
        if dim > SOBOL_MAX_DIMENSION:
            raise ParameterError(
                f"the horizon K = {K} needs {dim} Sobol' dimensions, more than the "
                f"{SOBOL_MAX_DIMENSION} scipy provides; use a shorter horizon"
            )
        antithetic = problem.mixture.w_sign_symmetric
        if self.antithetic is not None:
            antithetic = self.antithetic
        n_sobol = n_points // 2 if antithetic else n_points
        sobol = qmc.Sobol(d=dim, scramble=True, seed=rng).random(n_sobol)
        normals = normals_from_uniforms(sobol[:, : 1 + K])
        uniforms = sobol[:, 1 + K :] if stochastic else np.empty((n_sobol, K + 1))
        if antithetic:
            normals = np.concatenate([normals, -normals])
            uniforms = np.concatenate([uniforms, uniforms])
        paths = sample_paths(chain, uniforms)

        labels = problem.mixture.label_factor(n_h0)
        weight, a = tensor_product(
            (labels.weight(), labels.arrays()),
            (np.full(n_points, 1.0 / n_points),
             {"h_init": normals[:, 0], "innovations": normals[:, 1:], "s": paths}),
        )
        return NodeSet(
            weight=weight, c=a["c"], y=a["y"], h0=a["h0"], h_init=a["h_init"],
            innovations=a["innovations"], s=a["s"], n_inner=n_points,
            **{k: v for k, v in h0_layout(labels).items() if k != "h0_nodes"},
        )
