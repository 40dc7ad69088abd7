r"""Averaging rules: how the average <.> over the effective sample is discretised.

One effective sample (THEORY section 3) is (c, h0, h(0), xi(.), s(.)): the cluster, the
projection h0 ~ N(0, 1) of its noise on v, the initial field h(0) ~ N(0, R), the Gaussian
dynamical noise xi ~ GP(0, M_C), and the selection path. A rule produces, for each independent
replicate, a weighted node set of these variables; the causal sweep runs every node through the
effective process and averages with the weights. Replicates are independent solves: their spread
gives the error estimate reported with the result (one standard error of the mean).

Gaussian variables are passed as *standard normal innovations*: ``h_init`` (for h(0) = sqrt(R) *
h_init) and ``innovations[:, j]`` (xi(j) = sum_{i<=j} L(j, i) innovations[:, i], L the Cholesky
factor of M_C, built causally by the sweep). Selection paths come from uniforms through the law
shared with the simulator (``_selection.sample_paths``).

* ``MonteCarlo``: plain pseudo-random sampling of everything, c included (the paper's approach).
* ``QMC``: exact sum over c (reduced by the exact c -> -c symmetry), Gauss-Hermite over h0, and
  a scrambled Sobol' sequence over (h(0), innovations of xi, s-uniforms), mapped to normals by
  the inverse CDF; randomized QMC error from the independent scramblings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri
from scipy.stats import qmc

from ._errors import ParameterError, check_int, check_power_of_two
from ._quadrature import gauss_hermite
from ._selection import Chain, sample_paths
from ._sweep import correct_probability_array, interpolated_correct_probability

__all__ = ["AveragingRule", "MonteCarlo", "QMC", "NodeSet", "RULES", "gauss_hermite"]


@dataclass(frozen=True)
class NodeSet:
    """Weighted nodes of one replicate; every array has N rows (weights sum to 1)."""

    weight: np.ndarray  # (N,)
    c: np.ndarray  # (N,)
    y: np.ndarray  # (N,)
    h0: np.ndarray  # (N,)
    h_init: np.ndarray  # (N,) standard normal; h(0) = sqrt(R) h_init
    innovations: np.ndarray  # (N, K) standard normals driving xi(0..K-1)
    s: np.ndarray  # (N, K+1) selection paths, 0/1 as float
    # Tensor layout in h0 (QMC): nodes reshape to (n_outer, n_h0, n_inner) with h0 running over
    # the Gauss-Hermite nodes along axis 1; ``h0_basis`` is their Lagrange basis on a fine grid,
    # used to integrate the training accuracy over h0 by interpolation (``interpolated_accuracy``).
    # None: a plain weighted mean of the per-node values.
    h0_basis: np.ndarray | None = None
    n_inner: int = 0

    @property
    def size(self) -> int:
        return self.weight.size


class AveragingRule:
    """Base class. Subclasses give ``n_replicates`` and ``nodes(problem, chain, K, replicate)``."""

    name = "abstract"
    n_replicates: int
    seed: int

    def nodes(self, problem, chain: Chain, K: int, rng: np.random.Generator) -> NodeSet:
        raise NotImplementedError

    def run(self, problem, chain: Chain, eta: float, K: int, progress: bool):
        """Solve on k = 0..K; returns (result fields, history, message). Default: independent
        causal sweeps of ``nodes`` per replicate (see ``_solver.run_replicates``)."""
        from ._solver import run_replicates  # the driver imports the rules, not the reverse

        return run_replicates(self, problem, chain, eta, K, progress)

    def replicate_generators(self):
        """One independent generator per replicate, reproducible from ``seed``."""
        return [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(self.n_replicates)]

    def params(self) -> dict:
        raise NotImplementedError


def _normals_from_uniforms(u: np.ndarray) -> np.ndarray:
    # A scrambled Sobol' coordinate is never exactly 0 or 1 in practice; the clip only keeps
    # ndtri finite for that measure-zero event.
    return ndtri(np.clip(u, 2.0**-60, 1.0 - 2.0**-53))


@dataclass(frozen=True)
class MonteCarlo(AveragingRule):
    """Plain Monte Carlo: ``n_samples`` i.i.d. effective samples per replicate."""

    n_samples: int = 8192
    n_replicates: int = 8
    seed: int = 0
    name = "montecarlo"

    def __post_init__(self):
        object.__setattr__(self, "n_samples", check_int("n_samples", self.n_samples, low=1))
        object.__setattr__(self, "n_replicates", check_int("n_replicates", self.n_replicates, low=2))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))

    def nodes(self, problem, chain, K, rng):
        n = self.n_samples
        clusters = problem.mixture.clusters()
        which = rng.choice(clusters.c.size, size=n, p=clusters.prob)
        h0 = rng.standard_normal(n)
        h_init = rng.standard_normal(n)
        innovations = rng.standard_normal((n, K))
        uniforms = np.empty((n, K + 1)) if chain.deterministic else rng.random((n, K + 1))
        return NodeSet(
            weight=np.full(n, 1.0 / n),
            c=clusters.c[which],
            y=clusters.y[which],
            h0=h0,
            h_init=h_init,
            innovations=innovations,
            s=sample_paths(chain, uniforms),
        )

    def params(self) -> dict:
        return {"rule": self.name, "n_samples": self.n_samples,
                "n_replicates": self.n_replicates, "seed": self.seed}


@dataclass(frozen=True)
class QMC(AveragingRule):
    """Exact sum over c, Gauss-Hermite over h0, scrambled Sobol' over the Gaussian path and s.

    Outer tensor rule: the clusters after the exact c -> -c symmetry and ``n_h0`` Gauss-Hermite
    nodes for h0. Inner rule: ``n_points`` scrambled Sobol' points (a power of 2, for the balance
    properties) whose coordinates are, in order of importance, h(0)/sqrt(R), the K innovations of
    xi in time order, then (if b < 1) the K+1 uniforms of the selection path. Every outer node is
    paired with every inner point: nodes per replicate = (#clusters) * n_h0 * n_points.

    Why h(0) is not on a Gauss-Hermite rule too: observables such as the training accuracy are
    sharp functions of h(0) at early times, and a fixed product rule biases them by O(1e-2)
    without the replicate spread noticing; randomized QMC has no such hidden bias.

    Exact reduction: when every centre is c = 0 and m0 = 0 (pure noise), mu(k) = 0 for all k, so
    m = 0 and h0 never enters the dynamics; the h0 rule then collapses to one node and its factor
    of the node budget goes to the Sobol' points (n_points * n_h0, rounded down to a power of 2).

    Antithetic pairs (``antithetic=True``; default None = only for mixtures with the w -> -w
    symmetry, ``mixture.w_sign_symmetric``, i.e. the door model): n_points/2 Sobol' points and their
    mirror images (h(0), innovations) -> -(h(0), innovations) with the same selection path. With
    the symmetric Gauss-Hermite rule in h0, the node set is then exactly symmetric under the
    w -> -w symmetry of the three-cluster door model, so the symmetric state m = 0 is not kicked
    by the rule itself (without pairs, each replicate escaped it in a random direction by t ~ 8,
    competing with the finite-d start m0 ~ 1e-3); odd parts of every integrand cancel exactly.
    Elsewhere pairs only halve the Sobol' points for the even parts (measured: the MP error bar
    doubles), hence the default.
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

    def nodes(self, problem, chain, K, rng):
        clusters = problem.mixture.reduced_clusters()
        n_h0, n_points = self.n_h0, self.n_points
        if problem.m0 == 0.0 and np.all(clusters.c == 0.0):
            n_h0, n_points = 1, 2 ** int(np.log2(self.n_points * self.n_h0))
        stochastic = not chain.deterministic
        dim = 1 + K + (K + 1 if stochastic else 0)
        if dim > 21201:
            raise ParameterError(
                f"the horizon K = {K} needs {dim} Sobol' dimensions, more than the 21201 "
                "scipy provides; use MonteCarlo or a shorter horizon"
            )
        antithetic = problem.mixture.w_sign_symmetric
        if self.antithetic is not None:
            antithetic = self.antithetic
        n_sobol = n_points // 2 if antithetic else n_points
        sobol = qmc.Sobol(d=dim, scramble=True, seed=rng).random(n_sobol)
        normals = _normals_from_uniforms(sobol[:, : 1 + K])
        uniforms = sobol[:, 1 + K :] if stochastic else np.empty((n_sobol, K + 1))
        if antithetic:
            normals = np.concatenate([normals, -normals])
            uniforms = np.concatenate([uniforms, uniforms])
        paths = sample_paths(chain, uniforms)

        h0_nodes, h0_weights = gauss_hermite(n_h0)
        oc, oh0 = (g.ravel() for g in np.meshgrid(np.arange(clusters.c.size), np.arange(n_h0), indexing="ij"))
        outer_w = clusters.prob[oc] * h0_weights[oh0]
        n_outer = outer_w.size

        def outer(values):
            return np.repeat(values, n_points)

        def inner(values):
            return np.ascontiguousarray(np.tile(values, (n_outer,) + (1,) * (values.ndim - 1)))

        return NodeSet(
            weight=outer(outer_w) / n_points,
            c=outer(clusters.c[oc]),
            y=outer(clusters.y[oc]),
            h0=outer(h0_nodes[oh0]),
            h_init=inner(normals[:, 0]),
            innovations=inner(normals[:, 1:]),
            s=inner(paths),
            h0_basis=h0_interpolation_basis(h0_nodes),
            n_inner=n_points,
        )

    def params(self) -> dict:
        return {"rule": self.name, "n_points": self.n_points, "n_h0": self.n_h0,
                "n_replicates": self.n_replicates, "seed": self.seed, "antithetic": self.antithetic}


# Fine midpoint rule in u = Phi(h0) for the interpolated accuracy: an indicator's crossing
# is located to within 1/(2 * 512) of probability (errors of either sign, averaging out over
# the inner points); a smooth integrand is integrated to O(1/512^2).
_FINE_H0 = ndtri((np.arange(512) + 0.5) / 512)


def _lagrange_basis(nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """B[f, i]: the Lagrange polynomial of ``nodes[i]`` evaluated at x[f]."""
    basis = np.ones((x.size, nodes.size))
    for i, xi in enumerate(nodes):
        for j, xj in enumerate(nodes):
            if j != i:
                basis[:, i] *= (x - xj) / (xi - xj)
    return basis


def h0_interpolation_basis(h0_nodes: np.ndarray) -> np.ndarray:
    """Lagrange basis of the h0 nodes on the fine grid (``interpolated_accuracy``)."""
    return np.ascontiguousarray(_lagrange_basis(h0_nodes, _FINE_H0))


def interpolated_accuracy(nodes: NodeSet, rbar: np.ndarray, sd: float, mixture) -> float:
    r"""P(y phi(r) > 0) averaged over the node set, with h0 integrated by interpolation.

    Per node, the Rao-Blackwellised probability p = P(y phi(N(rbar, sd^2)) > 0) is a smooth
    function of h0 only while sd is not small; under full-batch GD the newest innovation carries
    almost no variance (M_C is nearly singular), p is a 0/1 step in h0, and the Gauss-Hermite
    rule over h0 biases its average by O(1e-3) (measured 5e-3 with 6 nodes, three-cluster GD)
    without the replicate spread seeing it. Here rbar, smooth in h0 at fixed (c, inner point),
    is interpolated by the polynomial through the n_h0 Gauss-Hermite nodes, and p(rbar(h0)) is
    integrated over h0 ~ N(0, 1) on a fine grid (``_FINE_H0``). Node sets without the h0 tensor
    layout (Monte Carlo, sparse grids) get the plain weighted mean of p.
    """
    act, L = mixture.activation_code, mixture.L
    if nodes.h0_basis is None:
        return float(nodes.weight @ correct_probability_array(act, L, nodes.y, rbar, sd))
    grid = (-1, nodes.h0_basis.shape[1], nodes.n_inner)
    inner_weight = nodes.weight.reshape(grid).sum(axis=1)  # (outer, inner): P(c) / n_inner
    y = np.ascontiguousarray(nodes.y.reshape(grid)[:, 0, :])
    prob = interpolated_correct_probability(act, L, y, np.ascontiguousarray(rbar.reshape(grid)),
                                            sd, nodes.h0_basis)
    return float(np.sum(inner_weight * prob))


RULES = {"qmc": QMC, "montecarlo": MonteCarlo}  # "quadrature" is added by _iteration
