r"""``Quadrature``: the deterministic default rule, solved on a ladder of resolutions.

Every part of the average over the effective sample (c, h0, htilde, s) is done by a fixed rule,
so a solve is reproducible bit for bit (same inputs, same arrays, in any process and with any
number of threads); its error is estimated by refinement: each rung of the ladder is compared
with the rungs before, and the ladder stops when the estimate meets ``tolerance``.

**What is exact.** The sum over the clusters c (reduced by the exact c -> -c symmetry). The
selection s(k) in the kernel rows of step k, replaced by its conditional expectation given
s(k-1) (``_causal``). Under full-batch GD the selection altogether (s = 1). With a random
selection on a short horizon (2^K <= ``max_enumerated_paths``), every selection path s(0..K-1)
with its exact Markov probability.

**What is a deterministic rule with a refinement error.**

* h0 ~ N(0, 1): an ``n_h0``-point Gauss-Hermite rule, a tensor factor of its own (it enters as
  m(k) sqrt(Delta) h0 with m growing: the widest and steepest Gaussian direction). The training
  accuracy, a 0/1 step in h0, is integrated across h0 through the interpolant of r(k) in h0
  (``_observables.interpolated_accuracy``).
* Full-batch GD and short horizons (``modal``): htilde, a centred Gaussian process with
  covariance C_perp (h(0) included, docs/theory.md eq. 3.11), is written on the Karhunen-Loeve
  modes of C_perp kept until the discarded variance is below ``kl_tol`` (at most
  ``max_modes``), whose coordinates are integrated by a Smolyak grid of Gauss-Hermite rules
  of ``level``: isotropic on rung 0, anisotropic from rung 1 on (``mode_costs``: the
  trailing, low-variance modes get fewer refinements). The modes need the whole C_perp, so the solver iterates
  C_perp -> sweep -> C_perp to a fixed point (Anderson mixing), each rung warm-started from the
  one before (coarse to fine). Modes of C_perp, not of M_C: the response R filters xi, so the
  variance of htilde, not of xi, tells which directions matter (6 modes of C_perp reach 1e-7
  where 12 of M_C did not). The part of htilde(k) that htilde(0..k-1) leaves undetermined is
  integrated in closed form in the accuracy (``_causal.GivenHtilde``).
* A random selection on a longer horizon (``causal``): h(0) and the innovations of xi (through
  the causal Cholesky factor of M_C, no iteration) are integrated by one fixed scrambled Sobol'
  point set of ``n_points`` points (the scrambling fixed by ``seed``: a deterministic
  low-discrepancy set). The selection paths are drawn by the sweep, step by step, stratified
  against the nodes' state (array-RQMC, ``_selection.SortedSelection``, docs/theory.md
  eq. 3.13; its shifts fixed by ``seed``): the error falls like N^-0.7 instead of the N^-0.5 of
  selection uniforms fixed in advance (measured, Fig. 1 P-SGD b = 0.3, t <= 20: 5-7x lower at
  16384 points, at 1.25x the time per node). The h0 nodes share the point set by weight
  (``h0_allocation="weighted"``, ``h0_block_sizes``): node i takes the first n_i points, about
  n (w_i / w_max)^(1/1.7), so that the outer Gauss-Hermite nodes (weights 1e-4 to 1e-2) no
  longer cost as much as the central ones; the training accuracy is then interpolated across
  h0 level by level (``_observables.interpolated_accuracy``).

**A rung that cannot resolve the selection.** On a finite node set the rows of eq. 3.12 do not
make M_C a Gram matrix; a Sobol' set too small for the horizon turns it indefinite (docs/theory.md
after eq. 3.12) and its sweep stops with ``UnresolvedSelectionError``. The solver skips that rung
and, without a fixed ``resolution``, appends the next finer rung of the ladder (``spare_rungs``)
so that two rungs remain for the estimate.

**The error estimate.** For each curve, the absolute difference between the last rung and the
one before, maximised over a window of +-max(``window``, ``window_fraction`` k) steps at step k
(the difference of two rungs crosses zero at some times where the error does not, over a span
that grows with t as the dynamics slows). Spectral parts (modal rungs) converge fast (a
factor 10-1000 per rung), so the estimate of a rung is essentially the error of the rung
before: conservative. The Sobol' part and the accuracy converge like a power of n, a single
difference is of the size of the error itself and may be smaller: their estimate is ``safety``
times the windowed maximum of the last two differences. Coverage is measured by
``benchmarks/coverage.py`` (docs/precision.md).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from .._continuous import windowed_max
from .._errors import ParameterError, check_int, check_power_of_two, check_real
from .._observables import CURVES, antithetic_prefix, h0_layout
from .._quadrature import (SOBOL_MAX_DIMENSION, karhunen_loeve, smolyak, smolyak_refines,
                           smolyak_size, tensor_product)
from .._selection import SortedSelection, path_probability, sample_paths
from ._base import NodeSet, RefinedRule, normals_from_uniforms

__all__ = ["Quadrature", "Resolution", "FixedPointOptions", "MODAL_LADDER", "MODAL_LADDER_LONG",
           "LONG_HORIZON", "PATH_LADDER", "DIRECT_RUNG", "DIRECT_LADDER", "STANDARD_RUNG",
           "TOLERANCE_CURVES", "modal_ladder", "h0_block_sizes"]

# Where the ladder stops without a tolerance or a resolution: {modal: rung, causal: rung}.
STANDARD_RUNG = {True: 1, False: 2}

# Sweeps of one rung's fixed point, for the cost estimate (measured 4-7 from a warm start).
SWEEPS_PER_FIXED_POINT = 7

# The curves whose estimated error the tolerance bounds. The training accuracy, a 0/1 step
# integrated over the nodes, converges more slowly at early times (where m ~ 0 leaves it a step
# function of the Gaussian coordinates); its error is estimated and reported the same way, but
# it does not drive the ladder (it would multiply the cost for the one curve no reference
# figure needs to 1e-6).
TOLERANCE_CURVES = ("m", "C", "gen_error", "train_loss")


@dataclass(frozen=True)
class FixedPointOptions:
    """Stopping rule and acceleration of the global iteration (``_fixed_point.anderson``)."""

    tol: float
    max_iter: int
    anderson: int


@dataclass(frozen=True)
class Resolution:
    """One rung of the ladder: the Smolyak ``level``, ``max_modes`` and ``kl_tol`` of the KL
    coordinates (modal rungs), the ``n_points`` of the Sobol' set (causal rungs; in a modal
    ladder, the first causal sweep that gives the starting C_perp), and the ``n_h0``
    Gauss-Hermite nodes of h0 (both). ``mode_costs``: the Smolyak cost (>= 1, non-decreasing)
    of KL mode i, in order of decreasing variance, the last entry repeated for the later modes;
    () is the isotropic grid (every cost 1). A mode of cost a gets about (level - 1)/a
    refinements (``_quadrature.smolyak``): the trailing modes of C_perp carry little variance
    (Fig. 1 GD at t = 100: 4.4e3, 26, 1.0, 0.07, 0.02, 2e-3), so the leading ones are refined
    at a fraction of the isotropic grid's nodes."""

    level: int = 3
    n_h0: int = 16
    max_modes: int = 6
    kl_tol: float = 1e-9
    n_points: int = 64
    mode_costs: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "level", check_int("level", self.level, low=1))
        object.__setattr__(self, "n_h0", check_int("n_h0", self.n_h0, low=1))
        object.__setattr__(self, "max_modes", check_int("max_modes", self.max_modes, low=1))
        object.__setattr__(self, "kl_tol", check_real("kl_tol", self.kl_tol, low=0.0, high=1.0))
        object.__setattr__(self, "n_points", check_power_of_two("n_points", self.n_points))
        try:
            costs = tuple(float(a) for a in self.mode_costs)
        except (TypeError, ValueError):
            raise ParameterError(f"mode_costs must be a sequence of numbers >= 1, got "
                                 f"{self.mode_costs!r}") from None
        if any(not np.isfinite(a) or a < 1.0 for a in costs) or any(
                b < a for a, b in zip(costs, costs[1:])):
            raise ParameterError(f"mode_costs must be finite, >= 1 and non-decreasing (modes come "
                                 f"in order of decreasing variance), got {self.mode_costs!r}")
        object.__setattr__(self, "mode_costs", costs)

    def costs(self, n_modes: int) -> tuple:
        """The Smolyak costs of ``n_modes`` KL modes (``mode_costs``, its last entry repeated)."""
        if not self.mode_costs:
            return (1.0,) * n_modes
        return tuple(self.mode_costs[min(i, len(self.mode_costs) - 1)] for i in range(n_modes))


# The Smolyak costs of the modal rungs from rung 1 on: the three leading KL modes refined in
# full, the rest once less. Measured (Fig. 1 GD, sup error of gen_error; docs/precision.md):
# the rung before (level 3, isotropic on 6 modes, 16 h0 nodes) was 6.9e-9, 5.6e-7 and 4.7e-6 off
# at t <= 10, 50 and 100: at long horizons the level of the leading modes limits it. Level 4
# with these costs and 24 h0 nodes (rung 1, 165 grid nodes): 9e-11, 3.1e-8 and 3.0e-7 (at
# t <= 100 the 24-node h0 rule's own error). The third mode needs the full level at short
# horizons: costs (1, 1, 2) were 1.4e-8 off at t <= 10, (1, 1, 1, 3) 1.6e-8. Every rung refines
# every component of the one before (``_warn_if_not_refining``), so that the difference of two
# rungs sees each one's error.
LEADING_MODES = (1.0, 1.0, 1.0, 2.0)
MODAL_LADDER = (
    Resolution(level=2, n_h0=8, max_modes=4, kl_tol=1e-6, n_points=64),
    Resolution(level=4, n_h0=24, max_modes=8, kl_tol=1e-11, n_points=64, mode_costs=LEADING_MODES),
    Resolution(level=5, n_h0=32, max_modes=10, kl_tol=1e-13, n_points=64, mode_costs=LEADING_MODES),
    Resolution(level=6, n_h0=40, max_modes=12, kl_tol=1e-14, n_points=64, mode_costs=LEADING_MODES),
    Resolution(level=7, n_h0=48, max_modes=14, kl_tol=1e-14, n_points=64, mode_costs=LEADING_MODES),
)
# How a Sobol' rung integrates a random selection (``Quadrature.selection``).
SELECTIONS = ("sorted", "fixed")
# How a Sobol' rung shares its points among the h0 nodes (``Quadrature.h0_allocation``).
H0_ALLOCATIONS = ("weighted", "equal")


def h0_block_sizes(h0_weight: np.ndarray, n: int, paired: bool) -> np.ndarray:
    """Points of a Sobol' rung of ``n`` points per Gauss-Hermite h0 node: n / 2^a_i with
    a_i = floor(log2(w_max / w_i) / 1.7), i.e. n_i about proportional to w_i^(1/1.7) in powers of
    two: the sizes that minimise sum_i w_i n_i^-0.7 (the error of n_i points at the rate
    N^-0.7 measured for the Sobol' rungs, docs/numerics.md section 3) for a given total. At
    least 2 (one antithetic pair when ``paired``; n if n < 2). With 8 nodes: n for the four
    central ones (weights 0.37, 0.12), n/8 and n/64 for the outer pairs (9.6e-3, 1.1e-4): 4.3 n
    nodes where equal blocks have 8 n. Measured (Fig. 1 Persistent-SGD b = 0.3, t <= 20, six
    scramblings, sup errors): the weighted 4096-point rung against the equal 2048-point rung,
    in the same time, gen_error 1.7-3.8e-5 against 2.5-8.1e-5, m 1.7-2.9e-4 against
    4.4-7.4e-4, C 0.7-1.9e-3 against 2.1-3.9e-3; square-root sizes (n/4, n/32 outside) were
    1.9-4.2e-5 in gen_error. Over 16 scramblings (benchmarks/scramblings.py) the gain is
    smaller: at about equal time (weighted rung r+1 against equal rung r) 1.3x in gen_error,
    1.6-1.9x in m and C."""
    w = np.asarray(h0_weight, dtype=float)
    shift = np.floor(np.log2(w.max() / w) / 1.7).astype(np.int64)
    return np.maximum(n >> np.minimum(shift, 62), min(n, 2))


# Sobol' rungs of 1024 .. 32768 points: with the weighted h0 allocation a rung of 2n points has
# about as many nodes as one of n with equal blocks had (the ladder before: 512 .. 16384).
PATH_LADDER = tuple(Resolution(n_points=2**j, n_h0=8) for j in range(10, 16))

# The rung 1 of long horizons (``MODAL_LADDER_LONG`` below; ``DIRECT_LADDER``: rung 0, then it,
# at any horizon): 24 h0 nodes and level 4 on the two leading KL modes only (cost 2 for the
# rest: one refinement each, as rung 0), 105 grid nodes. Measured at Fig. 1 GD, t <= 100
# (K = 500): 3.1e-7 from the reference, as ``MODAL_LADDER[1]`` (165 nodes) and costs
# (1, 1, 1.5) (189 nodes): what is left is the 24-node h0 rule's own error; cost 3 on the rest
# (57 nodes) is 1.5e-6 off.
# At t <= 10 it is 1.4e-8 off (rung 1: 9e-11): the third mode needs the full level there. Its
# error estimate is |it - rung 0|: rung 0's error, ~1e-4 at K = 500, conservative by far.
DIRECT_RUNG = Resolution(level=4, n_h0=24, max_modes=8, kl_tol=1e-11, n_points=64,
                         mode_costs=(1.0, 1.0, 2.0))
DIRECT_LADDER = (MODAL_LADDER[0], DIRECT_RUNG)

# Beyond LONG_HORIZON steps the built-in modal ladder takes DIRECT_RUNG as its rung 1
# (``MODAL_LADDER_LONG``, ``modal_ladder``). There the 24-node h0 rule's error outgrows that of
# the third mode's level, which costs (1, 1, 1, 2) refine in full. Measured at Fig. 1 GD (sup
# error of gen_error, one process, coarse correction, fixed point to 1e-8):
#   K = 50:  DIRECT_RUNG 1.4e-8, MODAL_LADDER[1] 9e-11;
#   K = 250: 3.6e-8 in 8.0 s against 3.1e-8 in 12.3 s (m: 4.8e-7 against 1.1e-7);
#   K = 500: 3.1e-7 in 44.7 s against 3.0e-7 in 67.6 s.
# The switch sits above 250 steps (t <= 50 at eta = 0.2), where both grids are as accurate in
# gen_error but the full third mode still has a 4x smaller error in m.
LONG_HORIZON = 250
MODAL_LADDER_LONG = (MODAL_LADDER[0], DIRECT_RUNG, *MODAL_LADDER[2:])


def modal_ladder(K: int) -> tuple:
    """The built-in modal ladder of a horizon of ``K`` steps: ``MODAL_LADDER``, or beyond
    ``LONG_HORIZON`` steps ``MODAL_LADDER_LONG`` (its rung 1 is ``DIRECT_RUNG``)."""
    return MODAL_LADDER_LONG if K > LONG_HORIZON else MODAL_LADDER


@dataclass(frozen=True)
class Quadrature(RefinedRule):
    """Deterministic averaging with a refinement error estimate (module docstring).

    Three ways to choose where the ladder stops. By default (``tolerance`` and ``resolution``
    None) at the standard rung ``STANDARD_RUNG``: rung 1 of the modal ladder (Fig. 1 GD:
    errors 9e-11 at t <= 10, 3.1e-8 at t <= 50; beyond ``LONG_HORIZON`` steps rung 1 is
    ``DIRECT_RUNG``, ``modal_ladder``: 3.1e-7 at t <= 100), rung 2 of the Sobol'
    ladder (4096 points: ~3e-5 on Persistent-SGD b = 0.3 at t <= 20). ``tolerance`` > 0: at
    the first rung whose estimated error of m, C, gen_error and train_loss
    (``TOLERANCE_CURVES``), sup over t, is at most
    ``tolerance`` times max(1, sup_t |curve|) (a RuntimeWarning when the last rung allowed is
    reached first). ``resolution``: the rungs up to ``resolution`` exactly (the last one is the
    result, the ones before give its error: on a modal ladder every rung from 0, each
    warm-starting the next; on a Sobol' ladder the two before it, all its estimate uses,
    ``first_rung``). ``max_resolution``: the last rung a tolerance may reach (default: the
    whole ladder). ``ladder``: a tuple of ``Resolution`` replacing the built-in ladders (for experts;
    used for either kind of selection). ``safety`` >= 1: the factor on the Sobol' refinement
    difference; ``window`` >= 0 and ``window_fraction`` in [0, 1]: the half-width of the maximum
    that removes the zero crossings of a difference, max(window, ceil(window_fraction k)) steps
    at step k; ``seed`` >= 0: the fixed scrambling of the Sobol' set.
    ``fixed_point_tol``: stopping threshold of the global iteration (relative kernel change), as
    a fraction of ``tolerance`` (of 1e-6 without one). ``coarse_correction``: modal rungs after
    the first solve their fixed point by coarse correction against the first rung
    (``_fixed_point.coarse_corrected``: each sweep of the rung followed by the first rung's
    fixed point shifted by their difference) instead of Anderson on their own sweeps: the same
    fixed point in fewer fine sweeps (Fig. 1 GD, K = 500: ``DIRECT_RUNG`` in 4 instead of 6 from
    rung 0's fixed point, to a relative change of 5e-7). On by default; where the coarse
    iteration does not converge (seen near a divergence: heavy ball beyond its stability
    limit) the rung is solved by Anderson on its own sweeps instead. False: Anderson always.
    ``selection``: how a Sobol'
    rung integrates a random selection: ``"sorted"`` (the default) draws s(k) in the sweep,
    stratified against the nodes' state (docs/theory.md eq. 3.13); ``"fixed"`` takes it from
    uniforms fixed in advance on the Sobol' set (coordinates h(0), s(0), z(0), s(1), ...: the
    rule before, kept for comparison; its error falls like N^-1/2). ``h0_allocation``: how a
    Sobol' rung shares its points among the h0 nodes: ``"weighted"`` (the default) gives h0
    node i the first n / 2^a_i points by its Gauss-Hermite weight (``h0_block_sizes``: all n
    for the four central nodes of 8, n/8 and n/64 for the outer pairs), ``"equal"`` all n to
    every node (the rule before, with the Sobol' ladder of 512 .. 16384 points then). Modal
    rungs do not depend on it.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> res = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=2.0, rule=qd.Quadrature(resolution=1))
    >>> res.error_kind.value, bool(res.gen_error_err.max() < 1e-4)
    ('refinement', True)
    """

    tolerance: float | None = None
    resolution: int | None = None
    max_resolution: int | None = None
    ladder: tuple | None = None
    max_enumerated_paths: int = 64
    safety: float = 3.0
    window: int = 2
    window_fraction: float = 0.05
    seed: int = 0
    fixed_point_tol: float = 1e-2
    max_iter: int = 100
    anderson: int = 5
    coarse_correction: bool = True
    selection: str = "sorted"
    h0_allocation: str = "weighted"
    name = "quadrature"

    def __post_init__(self):
        if self.tolerance is not None:
            object.__setattr__(self, "tolerance", check_real("tolerance", self.tolerance, low=0.0))
        if self.resolution is not None:
            object.__setattr__(self, "resolution", check_int("resolution", self.resolution, low=1))
        if self.max_resolution is not None:
            object.__setattr__(self, "max_resolution",
                               check_int("max_resolution", self.max_resolution, low=1))
        if self.ladder is not None:
            ladder = tuple(self.ladder)
            if len(ladder) < 2 or not all(isinstance(r, Resolution) for r in ladder):
                raise ParameterError(f"ladder must be at least two Resolution objects, got {self.ladder!r}")
            object.__setattr__(self, "ladder", ladder)
        object.__setattr__(self, "max_enumerated_paths",
                           check_int("max_enumerated_paths", self.max_enumerated_paths, low=0))
        object.__setattr__(self, "safety", check_real("safety", self.safety, low=1.0, low_open=False))
        object.__setattr__(self, "window", check_int("window", self.window, low=0))
        object.__setattr__(self, "window_fraction", check_real(
            "window_fraction", self.window_fraction, low=0.0, high=1.0, low_open=False,
            high_open=False))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))
        object.__setattr__(self, "fixed_point_tol",
                           check_real("fixed_point_tol", self.fixed_point_tol, low=0.0, high=1.0))
        object.__setattr__(self, "max_iter", check_int("max_iter", self.max_iter, low=1))
        object.__setattr__(self, "anderson", check_int("anderson", self.anderson, low=0))
        if not isinstance(self.coarse_correction, (bool, np.bool_)):
            raise ParameterError(f"coarse_correction must be True or False, got "
                                 f"{self.coarse_correction!r}")
        object.__setattr__(self, "coarse_correction", bool(self.coarse_correction))
        if self.selection not in SELECTIONS:
            raise ParameterError(f"selection must be one of {', '.join(SELECTIONS)}, got "
                                 f"{self.selection!r}")
        if self.h0_allocation not in H0_ALLOCATIONS:
            raise ParameterError(f"h0_allocation must be one of {', '.join(H0_ALLOCATIONS)}, got "
                                 f"{self.h0_allocation!r}")

    def params(self) -> dict:
        out = super().params()
        if self.ladder is not None:
            out["ladder"] = [vars(r).copy() for r in self.ladder]
        return out

    # ------------------------------------------------------------- the ladder
    def modal(self, problem, chain, K) -> bool:
        """KL coordinates of C_perp under full-batch GD, and for short horizons whose selection
        paths s(0..K-1) are few enough to be enumerated (s(K) never enters: row K uses its
        conditional expectation). Never under Langevin noise: its white part gives C_perp a
        slowly decaying KL spectrum (an Ornstein-Uhlenbeck-like covariance), which a few modes
        do not capture (docs/theory.md eq. 8.8). Never for a loss whose Lambda'' jumps (the
        squared hinge): on a fixed node set the map C_perp -> C_perp then changes by whole node
        weights as nodes cross the kink, and its fixed point iteration cycles instead of
        converging (measured: Fig. 1 GD, t <= 10, rung 1: changes 0.06-0.08 after 300
        iterations); the causal sweep has no fixed point to find."""
        if problem.temperature > 0.0 or not problem.loss.smooth_curvature:
            return False
        return chain.deterministic or 2**K <= self.max_enumerated_paths

    def rungs(self, problem, chain, K):
        ladder = self.ladder or (modal_ladder(K) if self.modal(problem, chain, K) else PATH_LADDER)
        if self.ladder is not None:
            _warn_if_not_refining(ladder, self.modal(problem, chain, K))
        last = len(ladder) - 1
        if self.max_resolution is not None:
            last = min(last, self.max_resolution)
        if self.resolution is not None:
            if self.resolution >= len(ladder):
                raise ParameterError(f"resolution = {self.resolution} is outside the allowed range "
                                     f"[1, {len(ladder) - 1}] of this ladder")
            last = self.resolution
        elif self.tolerance is None:
            last = min(last, STANDARD_RUNG[self.modal(problem, chain, K)])
        return ladder[: last + 1]

    def first_rung(self, problem, chain, K):
        """With a fixed ``resolution`` on a Sobol' ladder, ``resolution`` - 2: its rungs are
        independent sweeps, and the estimate of the last uses the two before it only
        (``estimate``), so the coarser ones would be solved for nothing (measured, Fig. 1 P-SGD
        b = 0.3, t <= 20, resolution 5: 29.0 s against 36.2 s with rungs 0-2, every array
        equal). Modal rungs warm-start each other: all solved."""
        if self.resolution is None or self.modal(problem, chain, K):
            return 0
        return max(0, self.resolution - 2)

    def spare_rungs(self, problem, chain, K):
        """The rest of a Sobol' ladder (up to ``max_resolution``) when the rungs stop at the
        standard rung or a tolerance: a coarse set that cannot resolve a random selection to the
        horizon (``UnresolvedSelectionError``) is then replaced by the next finer one. None for
        a fixed ``resolution`` (the rungs asked for, or an error) and for modal ladders (their
        nodes carry htilde itself: no Cholesky factor of M_C)."""
        if self.resolution is not None or self.modal(problem, chain, K):
            return ()
        ladder = self.ladder or PATH_LADDER
        last = len(ladder) - 1 if self.max_resolution is None else min(len(ladder) - 1, self.max_resolution)
        return tuple(ladder[len(self.rungs(problem, chain, K)): last + 1])

    def rung_size(self, problem, chain, K, resolution):
        labels = self._labels(problem, resolution)
        sizes = self._h0_sizes(problem, chain, K, labels, resolution.n_points)
        if sizes is None:
            return labels.h0.size * resolution.n_points
        return labels.prob.size * int(sizes.sum())

    def _h0_sizes(self, problem, chain, K, labels, n):
        """The points of each h0 node of a Sobol' rung (``h0_block_sizes``), or None (all ``n``):
        with ``h0_allocation="equal"``, for the data models whose groups have their own h0 rules
        (teacher-student: not ``labels.interpolable``), and for the starting sweep of a modal
        ladder (so that its results do not depend on the allocation)."""
        if (self.h0_allocation == "equal" or not labels.interpolable or labels.h0.shape[1] == 1
                or self.modal(problem, chain, K)):
            return None
        return h0_block_sizes(labels.h0_weight[0], n, problem.mixture.w_sign_symmetric)

    @property
    def fixed_point(self) -> FixedPointOptions:
        scale = 1e-6 if self.tolerance is None else self.tolerance
        return FixedPointOptions(max(self.fixed_point_tol * scale, 1e-13), self.max_iter,
                                 self.anderson)

    def estimate(self, solved, problem, chain, K):
        """Per curve: the windowed |last rung - the one before| (spectral parts: under GD, and
        every curve but the training accuracy of modal rungs); for the parts integrated like
        QMC (Sobol' points, and the accuracy, a 0/1 step), ``safety`` times the windowed maximum
        of the last two differences, since a single difference of two such rungs is of the
        size of the error itself and may be smaller."""
        modal = self.modal(problem, chain, K)
        out = {}
        for name in CURVES:
            diffs = [np.abs(np.asarray(a[name]) - np.asarray(b[name]))
                     for a, b in zip(solved[1:], solved[:-1])]
            slow = not modal or name == "train_accuracy"
            diff = np.maximum.reduce(diffs[-2:]) if slow else diffs[-1]
            out[name] = (self.safety if slow else 1.0) * self._windowed(diff)
        return out

    def _windowed(self, diff: np.ndarray) -> np.ndarray:
        """max of ``diff`` over +-max(window, ceil(window_fraction k)) steps around each step k
        (``_continuous.windowed_max``). The fraction: late in a run the curves change on the
        scale of t itself, and so does the span over which a difference of two rungs crosses
        zero (measured, Fig. 1 GD, t <= 100: at t = 62 it spans more than +-2 steps and a fixed
        window gave 0.66x the error; with 5% of k, 4.7x, while the median estimate grew by 14%)."""
        k = np.arange(diff.size)
        return windowed_max(diff, np.maximum(self.window,
                                             np.ceil(self.window_fraction * k).astype(int)))

    @property
    def target(self):
        return self.tolerance if self.resolution is None else None

    def accepts(self, fine, errors) -> bool:
        if self.target is None:
            return False  # solve every rung up to the one asked for
        return all(errors[name].max() <= self.tolerance * max(1.0, float(np.abs(fine[name]).max()))
                   for name in TOLERANCE_CURVES)

    def cost(self, problem, chain, K):
        """Every rung of the ladder from ``first_rung`` (the search may stop earlier): modal
        rungs at ``SWEEPS_PER_FIXED_POINT`` sweeps of their largest grid (``max_modes`` modes),
        causal rungs one sweep; plus the first causal sweep of a modal ladder. The largest node set
        counts the first spare rung of a Sobol' ladder (``spare_rungs``: it replaces a rung that
        cannot resolve the selection; measured 1.6x the standard rungs' peak, Persistent-SGD
        b = 0.3, t <= 60); further spares are checked against the memory limit when needed."""
        modal = self.modal(problem, chain, K)
        paths = 1 if chain.deterministic else 2**K
        sizes, sweeps = [], 0
        for resolution in self.rungs(problem, chain, K)[self.first_rung(problem, chain, K):]:
            # The data model's label groups times their h0 nodes (the outer factor of ``nodes``).
            outer = self._labels(problem, resolution).h0.size
            if modal:
                grid = smolyak_size(resolution.costs(min(resolution.max_modes, K + 1)),
                                    resolution.level)
                sizes.append(outer * paths * grid)
                sweeps += SWEEPS_PER_FIXED_POINT * sizes[-1]
            else:
                sizes.append(self.rung_size(problem, chain, K, resolution))
                sweeps += sizes[-1]
        spares = self.spare_rungs(problem, chain, K)
        if spares:
            sizes.append(self.rung_size(problem, chain, K, spares[0]))
        return max(sizes), sweeps

    # --------------------------------------------------------------- the nodes
    def nodes(self, problem, chain, K, resolution, covariance=None):
        if covariance is not None:
            return self._modal_nodes(problem, chain, K, resolution, covariance)
        return self._causal_nodes(problem, chain, K, resolution)

    def _labels(self, problem, resolution):
        """The data model's label groups with their h0 rules (``Mixture.label_factor``); one h0
        node when h0 cannot enter the dynamics."""
        return problem.mixture.label_factor(resolution.n_h0 if problem.h0_enters else 1)

    def _modal_nodes(self, problem, chain, K, resolution, covariance, grid=None):
        """Clusters x h0 (Gauss-Hermite) x [every selection path x Smolyak grid over the KL
        coordinates of C_perp]. ``grid``: (nodes (n, D), weights) over the D leading KL modes
        instead of ``resolution``'s Smolyak grid (benchmarks/adaptive_grid.py); D at most the
        modes ``resolution`` keeps."""
        modes = karhunen_loeve(covariance, resolution.kl_tol, resolution.max_modes)
        if grid is None:
            grid, grid_weights = smolyak(resolution.costs(modes.n_modes), resolution.level)
        else:
            grid, grid_weights = grid
            if grid.shape[1] > modes.n_modes:
                raise ParameterError(f"a grid over {grid.shape[1]} KL modes, but only "
                                     f"{modes.n_modes} are kept")
        basis = modes.B[:, : grid.shape[1]]
        if chain.deterministic:
            paths, path_prob = np.ones((1, K + 1)), np.ones(1)
        else:
            heads = _all_paths(K)
            path_prob = path_probability(chain, heads)
            keep = path_prob > 0.0
            paths = np.concatenate([heads[keep], np.zeros((int(keep.sum()), 1))], axis=1)
            path_prob = path_prob[keep]
        labels = self._labels(problem, resolution)
        weight, a = tensor_product(
            (labels.weight(), labels.arrays()),
            (path_prob, {"s": paths}),
            (grid_weights, {"zeta": grid}),
        )
        return NodeSet(weight=weight, c=a["c"], y=a["y"], h0=a["h0"], h_init=np.zeros(weight.size),
                       innovations=np.ascontiguousarray(a["zeta"]), s=np.ascontiguousarray(a["s"]),
                       n_inner=path_prob.size * grid_weights.size, htilde_basis=basis,
                       **h0_layout(labels))

    def _causal_nodes(self, problem, chain, K, resolution):
        """Clusters x h0 (Gauss-Hermite) x one fixed Sobol' point set over (h(0), the innovations
        of xi in time order), as in ``QMC`` but deterministic: one scrambling, fixed by ``seed``.
        A random selection is drawn by the sweep itself, stratified against the nodes' state
        (``_selection.SortedSelection``), or with ``selection="fixed"`` from uniforms on the
        Sobol' set (coordinates in time order h(0), s(0), z(0), s(1), ...: the early variables,
        which every later step depends on, on the best-distributed coordinates)."""
        n = resolution.n_points
        # Antithetic pairs for mixtures with the w -> -w symmetry (see QMC): the node set is then
        # exactly symmetric and does not kick the symmetric state m = 0 itself.
        antithetic = problem.mixture.w_sign_symmetric
        n_sobol = n // 2 if antithetic else n
        fixed_paths = not chain.deterministic and self.selection == "fixed"
        dim = 1 + K + (K + 1 if fixed_paths else 0)
        if dim > SOBOL_MAX_DIMENSION:
            raise ParameterError(f"the horizon K = {K} needs {dim} Sobol' dimensions, more than the "
                                 f"{SOBOL_MAX_DIMENSION} scipy provides; use a shorter horizon")
        sobol = qmc.Sobol(d=dim, scramble=True, seed=np.random.default_rng(self.seed)).random(n_sobol)
        if fixed_paths:
            normals = normals_from_uniforms(sobol[:, np.concatenate([[0], 2 + 2 * np.arange(K)])])
            paths = sample_paths(chain, sobol[:, 1 + 2 * np.arange(K + 1)])
        else:
            normals = normals_from_uniforms(sobol)
            paths = np.full((n_sobol, K + 1), 1.0 if chain.deterministic else 0.0)
        if antithetic:
            normals = np.concatenate([normals, -normals])
            paths = np.concatenate([paths, paths])
        labels = self._labels(problem, resolution)
        inner = {"h_init": normals[:, 0], "innovations": normals[:, 1:], "s": paths}
        sizes = self._h0_sizes(problem, chain, K, labels, n)
        if sizes is None:
            weight, a = tensor_product((labels.weight(), labels.arrays()),
                                       (np.full(n, 1.0 / n), inner))
        else:
            weight, a = _nested_product(labels, sizes, inner, antithetic)
        block_sizes = None if sizes is None else np.tile(sizes, labels.prob.size)
        selector = None if chain.deterministic or fixed_paths else SortedSelection(
            chain, weight.size, n, paired=antithetic, seed=self.seed, block_sizes=block_sizes)
        return NodeSet(weight=weight, c=a["c"], y=a["y"], h0=a["h0"], h_init=a["h_init"],
                       innovations=a["innovations"], s=a["s"], n_inner=n, selector=selector,
                       h0_sizes=sizes, antithetic=antithetic, **h0_layout(labels))


def _nested_product(labels, sizes, inner: dict, antithetic: bool):
    """Label groups x h0 nodes x the first ``sizes[i]`` inner points at h0 node i, weight
    prob[g] h0_weight[g, i] / sizes[i]. The first 2^m points of a scrambled Sobol' set are a
    scrambled net themselves; with antithetic pairs (inner = [points, -points]) the block takes
    its first sizes[i] / 2 points and their partners, so it stays exactly symmetric."""
    n = next(iter(inner.values())).shape[0]
    index = np.concatenate([antithetic_prefix(int(size), n // 2) if antithetic
                            else np.arange(int(size)) for size in sizes])
    flat = labels.arrays()
    label_of = np.repeat(np.arange(flat["c"].size), np.tile(sizes, labels.prob.size))
    weight = labels.weight()[label_of] / np.tile(np.repeat(sizes, sizes), labels.prob.size)
    arrays = {key: value[label_of] for key, value in flat.items()}
    for key, value in inner.items():
        reps = (labels.prob.size,) + (1,) * (value.ndim - 1)
        arrays[key] = np.ascontiguousarray(np.tile(value[index], reps))
    return weight, arrays


def _warn_if_not_refining(ladder, modal: bool) -> None:
    """The estimate is a difference of rungs: it cannot see the error of a component that two
    rungs share (measured: a custom modal ladder at Smolyak level 2 on both rungs underestimated
    its error by up to 150x at K = 250, docs/precision.md). The built-in ladders refine n_h0,
    max_modes and the Smolyak grid (``level`` with ``mode_costs``: ``smolyak_refines``) together
    (modal) or n_points (Sobol'; the h0 error there is 4e-8)."""
    fields = ("n_h0", "max_modes") if modal else ("n_points",)
    for coarse, fine in zip(ladder[:-1], ladder[1:]):
        shared = [f for f in fields if getattr(fine, f) <= getattr(coarse, f)]
        if modal and not smolyak_refines(coarse.costs(coarse.max_modes), coarse.level,
                                         fine.costs(fine.max_modes), fine.level):
            shared.insert(0, "level" + (" (with mode_costs)" if coarse.mode_costs or fine.mode_costs
                                        else ""))
        if shared:
            warnings.warn(f"Quadrature: the ladder's rungs {coarse} and {fine} do not refine "
                          f"{', '.join(shared)}; the refinement estimate cannot see the error of "
                          f"what two rungs share and may underestimate it", RuntimeWarning,
                          stacklevel=4)
            return


def _all_paths(n: int) -> np.ndarray:
    """The 2^n binary sequences of length n, shape (2^n, n), as floats."""
    return np.array(list(itertools.product((0.0, 1.0), repeat=n)), dtype=float).reshape(2**n, n)
