"""Deterministic test-local averaging rules for the property tests.

* ``PathEnumeration``: every one of the 2^(K+1) selection paths with its exact Markov probability
  (``_selection.path_probability``) times a fixed, antithetic set of Gaussian nodes (h(0) and the
  innovations of xi) and Gauss-Hermite nodes for h0. The selection average is exact; the Gaussian
  one is a fixed rule, identical for every schedule, so comparisons between schedules at equal
  law are exact to round-off.
* ``SigmaPoints``: the 2 n points +-sqrt(n) e_i (n = K+1 Gaussian dimensions), exact for every
  polynomial of degree <= 3: the square-loss dynamics is linear, so every kernel is a quadratic
  form of the Gaussians and this rule gives the exact DMFT.
* ``LabelSigmaPoints``: the same Gaussian sigma points over (h(0), innovations), with the data
  model's own label groups (``Mixture.label_factor(2)``: two Gauss-Hermite nodes per Gaussian
  variable of the labels, h0 and the label noise): exact for the square loss on teacher-student
  data too, and under momentum, Langevin noise and the spherical projection (the process stays
  Gaussian).
* ``Relabelled``: wraps a sampled rule and maps every node to its image under c -> -c (h0, h(0)
  and the innovations negated, y replaced by the label of cluster -c): an exact symmetry of the
  mixtures. Its replicates are the inner rule's (``parts`` delegate to it).

They are ``quaddmft.rules.SampledRule``s (one causal sweep per replicate) built with the
package's ``tensor_product``. The first two return the same nodes for every replicate (error
estimate 0; the solver needs >= 2).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from quaddmft._quadrature import gauss_hermite, tensor_product
from quaddmft._selection import path_probability
from quaddmft.rules import NodeSet, SampledRule


def all_paths(K: int) -> np.ndarray:
    """The 2^(K+1) binary paths s(0..K), shape (2^(K+1), K+1)."""
    return np.array(list(itertools.product((0.0, 1.0), repeat=K + 1)))


def _gaussian_node_set(weight, a, s) -> NodeSet:
    """NodeSet from tensor-product arrays whose column ``g`` holds (h_init, innovations)."""
    return NodeSet(weight=weight, c=a["c"], y=a["y"], h0=a["h0"], h_init=a["g"][:, 0].copy(),
                   innovations=np.ascontiguousarray(a["g"][:, 1:]), s=np.ascontiguousarray(s))


@dataclass(frozen=True)
class PathEnumeration(SampledRule):
    n_gauss: int = 8  # antithetic pairs of Gaussian vectors (h_init, innovations)
    n_h0: int = 3
    full_clusters: bool = False
    gauss_seed: int = 12345
    n_replicates: int = 2
    seed: int = 0
    name = "path-enumeration"

    def nodes(self, problem, chain, K, rng):
        clusters = problem.mixture.clusters() if self.full_clusters else problem.mixture.reduced_clusters()
        paths = np.ones((1, K + 1)) if chain.deterministic else all_paths(K)
        prob = path_probability(chain, paths)
        g = np.random.default_rng(self.gauss_seed).standard_normal((self.n_gauss, K + 1))
        g = np.concatenate([g, -g])
        h0, h0_w = gauss_hermite(self.n_h0)
        weight, a = tensor_product(
            (clusters.prob, {"c": clusters.c, "y": clusters.y}),
            (h0_w, {"h0": h0}),
            (np.full(g.shape[0], 1.0 / g.shape[0]), {"g": g}),
            (prob, {"s": paths}),
        )
        return _gaussian_node_set(weight, a, a["s"])


@dataclass(frozen=True)
class SigmaPoints(SampledRule):
    n_replicates: int = 2
    seed: int = 0
    name = "sigma-points"

    def nodes(self, problem, chain, K, rng):
        if not chain.deterministic:
            raise ValueError("SigmaPoints is for full-batch runs")
        n = K + 1
        g = np.sqrt(n) * np.concatenate([np.eye(n), -np.eye(n)])
        clusters = problem.mixture.clusters()
        h0, h0_w = gauss_hermite(2)  # degree 3 in h0 too
        weight, a = tensor_product(
            (clusters.prob, {"c": clusters.c, "y": clusters.y}),
            (h0_w, {"h0": h0}),
            (np.full(2 * n, 1.0 / (2 * n)), {"g": g}),
        )
        return _gaussian_node_set(weight, a, np.ones((weight.size, K + 1)))


@dataclass(frozen=True)
class LabelSigmaPoints(SampledRule):
    n_replicates: int = 2
    seed: int = 0
    name = "label-sigma-points"

    def nodes(self, problem, chain, K, rng):
        if not chain.deterministic:
            raise ValueError("LabelSigmaPoints is for full-batch runs")
        n = K + 1
        g = np.sqrt(n) * np.concatenate([np.eye(n), -np.eye(n)])
        labels = problem.mixture.label_factor(2)
        weight, a = tensor_product((labels.weight(), labels.arrays()),
                                   (np.full(2 * n, 1.0 / (2 * n)), {"g": g}))
        return _gaussian_node_set(weight, a, np.ones((weight.size, K + 1)))


@dataclass(frozen=True)
class Relabelled(SampledRule):
    inner: SampledRule = None
    name = "relabelled"

    @property
    def n_replicates(self):
        return self.inner.n_replicates

    @property
    def seed(self):
        return self.inner.seed

    def parts(self, problem, chain, K):
        return self.inner.parts(problem, chain, K)

    def nodes(self, problem, chain, K, rng):
        nodes = self.inner.nodes(problem, chain, K, rng)
        full = problem.mixture.clusters()
        label_of = {float(c): float(y) for c, y in zip(full.c, full.y)}
        return NodeSet(
            weight=nodes.weight, c=-nodes.c, y=np.array([label_of[float(-c)] for c in nodes.c]),
            h0=-nodes.h0, h_init=-nodes.h_init, innovations=-nodes.innovations, s=nodes.s,
            h0_basis=None if nodes.h0_basis is None else nodes.h0_basis[::-1].copy(),
            n_inner=nodes.n_inner, htilde_basis=nodes.htilde_basis,
            h0_nodes=None if nodes.h0_nodes is None else -nodes.h0_nodes,
        )
