r"""What every averaging rule is: a producer of weighted node sets of the effective sample.

One effective sample (THEORY section 3) is (c, h0, h(0), xi(.), s(.)): the cluster, the
projection h0 ~ N(0, 1) of its noise on v, the initial field h(0) ~ N(0, R), the Gaussian
dynamical noise xi ~ GP(0, M_C), and the selection path. A rule discretises the average <.> over
it by weighted nodes (``NodeSet``). Gaussian variables are passed as standard coordinates:
``h_init`` (h(0) = sqrt(R) h_init) and ``innovations``, which give xi through the causal
Cholesky factor of M_C (built by the sweep) or, when the node set carries a ``noise_basis`` B,
through xi = B innovations (Karhunen-Loeve coordinates). Selection paths come from uniforms
through the law shared with the simulator (``_selection.sample_paths``) or are enumerated.

Two families, which the solver (``_solver.solve``) drives differently:

* ``SampledRule``: independent randomised replicates (``parts`` are their generators), one causal
  sweep each; the result is their mean and ``*_err`` one standard error of it.
* ``ModalRule``: nodes over Karhunen-Loeve coordinates of a covariance the solver supplies,
  solved by a fixed-point iteration over the whole horizon; ``*_err`` comes from refinement
  (the differences with the rule's ``coarser`` variants).

A rule never runs a sweep itself.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from .._errors import ErrorKind

__all__ = ["NodeSet", "AveragingRule", "SampledRule", "ModalRule", "ErrorKind",
           "normals_from_uniforms"]


@dataclass(frozen=True)
class NodeSet:
    """Weighted nodes of one part of a rule; every array has N rows (weights sum to 1)."""

    weight: np.ndarray  # (N,)
    c: np.ndarray  # (N,)
    y: np.ndarray  # (N,)
    h0: np.ndarray  # (N,)
    h_init: np.ndarray  # (N,) standard normal; h(0) = sqrt(R) h_init
    innovations: np.ndarray  # (N, n_cols) standard coordinates of xi(0..K-1)
    s: np.ndarray  # (N, K+1) selection paths, 0/1 as float
    # Tensor layout in h0 (QMC): nodes reshape to (n_outer, n_h0, n_inner) with h0 running over
    # the Gauss-Hermite nodes along axis 1; ``h0_basis`` is their Lagrange basis on a fine grid,
    # used to integrate the training accuracy over h0 by interpolation
    # (``_observables.interpolated_accuracy``). None: a plain weighted mean of the per-node values.
    h0_basis: np.ndarray | None = None
    n_inner: int = 0
    # xi = noise_basis @ innovations with a fixed (K, n_cols) basis (KL modes); None: the causal
    # Cholesky factor of the M_C being built (innovations are i.i.d. standard normals).
    noise_basis: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.weight.size


def normals_from_uniforms(u: np.ndarray) -> np.ndarray:
    """Standard normals by the inverse CDF. A scrambled Sobol' coordinate is never exactly 0 or 1
    in practice; the clip only keeps ndtri finite for that measure-zero event."""
    return ndtri(np.clip(u, 2.0**-60, 1.0 - 2.0**-53))


class AveragingRule(ABC):
    """Base class: a frozen dataclass of validated parameters that produces node sets.

    ``params()`` returns every parameter (nested rules as dicts) under the name ``rule``;
    ``rules.rule_from_params`` rebuilds the rule from it.
    """

    name = "abstract"
    error_kind: ErrorKind

    def params(self) -> dict:
        out = {"rule": self.name}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.params() if isinstance(value, AveragingRule) else value
        return out


class SampledRule(AveragingRule):
    """Independent randomised replicates: subclasses give ``n_replicates``, ``seed`` and
    ``nodes(problem, chain, K, rng)``."""

    error_kind = ErrorKind.STANDARD_ERROR
    n_replicates: int
    seed: int

    def parts(self, problem, chain, K) -> list[np.random.Generator]:
        """One independent generator per replicate, reproducible from ``seed``."""
        return [np.random.default_rng(s)
                for s in np.random.SeedSequence(self.seed).spawn(self.n_replicates)]

    @abstractmethod
    def nodes(self, problem, chain, K: int, rng: np.random.Generator) -> NodeSet:
        """The node set of one replicate (innovations: standard normals, causal)."""


class ModalRule(AveragingRule):
    """Nodes over Karhunen-Loeve coordinates of a covariance of xi, supplied by the solver.

    Subclasses give: ``start_rule`` (a SampledRule whose causal sweep gives the first
    covariance), ``observer`` (a SampledRule for the training accuracy, or None), ``fixed_point``
    (tol, max_iter, anderson of ``_fixed_point.anderson``), and the methods below.
    """

    error_kind = ErrorKind.REFINEMENT

    @abstractmethod
    def parts(self, problem, chain, K) -> tuple[list, bool]:
        """The independent parts averaged by the solver (e.g. sets of selection paths with their
        weights) and whether they are random samples (their spread then adds a standard error)."""

    @abstractmethod
    def modes(self, covariance: np.ndarray, K: int):
        """Karhunen-Loeve modes (``_quadrature.KLModes``) of the covariance of xi(0..K-1)."""

    @abstractmethod
    def nodes(self, problem, chain, K: int, part, modes) -> NodeSet:
        """The node set of one part over the coordinates of ``modes``."""

    @abstractmethod
    def coarser(self) -> tuple["ModalRule", ...]:
        """Coarser variants; the refinement error is the sum of |fine - coarse| over them."""

    @abstractmethod
    def candidates(self) -> tuple["ModalRule", ...]:
        """Rules tried in turn (from the coarsest) until ``accepts`` their refinement error."""

    @abstractmethod
    def accepts(self, gen_error_err) -> bool:
        """Whether a candidate with this refinement error of gen_error (None: not computed) ends
        the search."""

    @abstractmethod
    def search_exhausted(self, gen_error_err) -> str:
        """The ConvergenceError message when no candidate was accepted."""

    def describe(self) -> dict:
        """The rule's resolution, recorded in every history entry."""
        return {}
