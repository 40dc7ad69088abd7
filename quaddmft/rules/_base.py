r"""What every averaging rule is: a producer of weighted node sets of the effective sample.

One effective sample (THEORY section 3) is (c, h0, h(0), xi(.), s(.)): the cluster, the
projection h0 ~ N(0, 1) of its noise on v, the initial field h(0) ~ N(0, R), the Gaussian
dynamical noise xi ~ GP(0, M_C), and the selection path. The cluster, its label and h0 come
from the data model's hooks (``Mixture.label_factor`` for deterministic rules, where a label may
depend on h0 as for ``TeacherStudent``; ``Mixture.sample_effective`` for Monte Carlo). A rule discretises the average <.> over
it by weighted nodes (``NodeSet``). Gaussian variables are passed as standard coordinates:
``h_init`` (h(0) = sqrt(R) h_init) and ``innovations``, which give xi through the causal
Cholesky factor of M_C (built by the sweep) or, when the node set carries an ``htilde_basis``
U, give htilde = U innovations directly (Karhunen-Loeve coordinates of C_perp). Selection
paths come from uniforms through the law shared with the simulator (``_selection.sample_paths``)
or are enumerated.

Two families, which the solver (``_solver.solve``) drives differently:

* ``RefinedRule``: deterministic node sets on a ladder of resolutions, coarse to fine (nodes
  over KL coordinates of a C_perp the solver supplies, solved by a fixed-point iteration over
  the whole horizon, or causal innovations, one sweep); ``*_err`` comes from refinement, the
  difference between a rung and the one before.
* ``SampledRule``: independent randomised replicates (``parts`` are their generators), one causal
  sweep each; the result is their mean and ``*_err`` one standard error of it.

A rule never runs a sweep itself.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from .._errors import ErrorKind

__all__ = ["NodeSet", "AveragingRule", "SampledRule", "RefinedRule", "normals_from_uniforms"]


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
    # The Gauss-Hermite h0 nodes of that layout: the training accuracy of nodes whose r(k) has no
    # Gaussian part left to Rao-Blackwellise is integrated across h0 exactly, through the
    # crossings of the interpolant (``_observables.interpolated_accuracy``).
    h0_nodes: np.ndarray | None = None
    # Label groups with their own fine grids of h0 (teacher-student data: a label that depends on
    # h0): (basis (G, F, n_h0), weight (G, F), y (G, F)) for the interpolated accuracy, the
    # nodes reshaping to (G, n_h0, n_inner) (``_observables.h0_layout``).
    h0_groups: tuple | None = None
    # htilde(k) = sum_i htilde_basis[k, i] innovations[:, i] with a fixed (K+1, n_cols) basis (KL
    # modes of C_perp); None: xi by the causal Cholesky factor of the M_C being built
    # (innovations are i.i.d. standard normals) and htilde by eq. 3.2.
    htilde_basis: np.ndarray | None = None
    # Selection paths drawn by the sweep itself, step by step against the nodes' state
    # (``_selection.SortedSelection``); ``s`` is then filled as the sweep goes. None: ``s`` is given.
    selector: object | None = None
    # The inner points of each h0 node of the tensor layout, nested: h0 node i of every label
    # group carries the first h0_sizes[i] inner points (in node order: group, h0 node, inner
    # point). None: every h0 node carries all ``n_inner``. Quadrature's causal rungs give the
    # outer Gauss-Hermite nodes, whose weights are small, fewer points
    # (``rules.quadrature.h0_block_sizes``).
    h0_sizes: np.ndarray | None = None
    # The inner points come in antithetic pairs: the second half of each block (of the h0
    # layout) are the partners of the first, so that a block of n_i points holds the first n_i/2
    # inner points and their partners (``rules.quadrature._nested_product``).
    antithetic: bool = False

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

    def cost(self, problem, chain, K: int) -> tuple[int, int]:
        """(nodes of the largest node set, node-sweeps in all) of a solve, for the resource
        estimate made before it starts (``_resources.check_solve``); (0, 0): unknown (a rule
        that does not say is not checked)."""
        return 0, 0

    def held_matrices(self, problem, chain, K: int) -> int:
        """(K+1)^2 matrices a solve holds besides those of the sweep it is running, for the
        memory estimate (``_resources.check_solve``)."""
        return 0

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

    def held_matrices(self, problem, chain, K: int) -> int:
        """The kernels (``_observables.KERNELS``, six) of every replicate's sweep, kept for the
        average (``_solver._sampled``), then their stack over the replicates (one more each) and
        the six means."""
        return 6 * self.n_replicates + self.n_replicates + 6

    def parts(self, problem, chain, K) -> list[np.random.Generator]:
        """One independent generator per replicate, reproducible from ``seed``."""
        return [np.random.default_rng(s)
                for s in np.random.SeedSequence(self.seed).spawn(self.n_replicates)]

    @abstractmethod
    def nodes(self, problem, chain, K: int, rng: np.random.Generator) -> NodeSet:
        """The node set of one replicate (innovations: standard normals, causal)."""


class RefinedRule(AveragingRule):
    """A deterministic rule solved on a ladder of resolutions, coarse to fine; ``*_err`` of a
    rung is estimated from its difference with the rung before (``estimate``).

    The solver asks ``rungs(problem, chain, K)`` for the resolutions to try,
    ``modal(problem, chain, K)`` whether
    the nodes of a rung are KL coordinates of C_perp (solved by a fixed-point iteration over the
    whole horizon, ``nodes(..., covariance=C_perp)``) or causal innovations (one sweep), and
    ``accepts`` whether an estimate ends the ladder.
    """

    error_kind = ErrorKind.REFINEMENT

    def held_matrices(self, problem, chain, K: int) -> int:
        """The kernels (six) of every rung solved, kept for the error estimate
        (``_solver._refined``); for modal rungs also the fixed point's state
        (``_fixed_point.anderson``: depth + 1 iterates and residuals, their 2 depth
        differences, the depth columns of their sum and lstsq's copy, and about five
        temporaries) and the covariance carried from rung to rung."""
        held = 6 * (len(self.rungs(problem, chain, K)) - self.first_rung(problem, chain, K))
        if self.modal(problem, chain, K):
            depth = getattr(self, "anderson", 0)  # the rule's Anderson depth, if it has one
            held += 2 * (depth + 1) + 4 * depth + 5 + 1
            if getattr(self, "coarse_correction", False):
                held += 4  # the outer iterate, its image, the defect, the coarse Gamma
        return held

    @abstractmethod
    def rungs(self, problem, chain, K: int) -> tuple:
        """The resolutions to solve, coarse to fine."""

    def first_rung(self, problem, chain, K: int) -> int:
        """The index of the first of ``rungs`` to solve: the coarser ones are not needed when
        the estimate of the last rung does not use them (all are solved by default)."""
        return 0

    def spare_rungs(self, problem, chain, K: int) -> tuple:
        """Finer resolutions the solver may append when rungs fail (a node set that cannot
        resolve the selection, ``UnresolvedSelectionError``), so that two rungs remain for the
        estimate; none by default."""
        return ()

    def rung_size(self, problem, chain, K: int, resolution) -> int:
        """Nodes of one rung (for the memory check of a spare rung)."""
        raise NotImplementedError

    @abstractmethod
    def modal(self, problem, chain, K: int) -> bool:
        """Whether the nodes carry KL coordinates of C_perp (fixed point) or causal innovations."""

    @abstractmethod
    def nodes(self, problem, chain, K: int, resolution, covariance=None) -> NodeSet:
        """The node set of one rung (``covariance``: C_perp, for modal rungs)."""

    @abstractmethod
    def estimate(self, solved: list, problem, chain, K: int) -> dict:
        """Error estimate per curve of the last rung, from the curves of every rung solved so
        far (coarse to fine, at least two)."""

    @abstractmethod
    def accepts(self, fine: dict, errors: dict) -> bool:
        """Whether the estimated errors meet the rule's tolerance."""

    @property
    @abstractmethod
    def target(self) -> float | None:
        """The tolerance the ladder searches for, or None when it solves fixed rungs."""
