r"""The continuous-time (gradient-flow) limit: a ladder of grids and Richardson extrapolation.

docs/theory.md section 9. The discrete DMFT of section 3 is the exact d -> infinity limit of
gradient descent with step eta; as an approximation of the gradient flow (eta -> 0 at fixed b
and tau) it is a first-order (Euler) scheme. On a grid t_k = T(k h) given by a smooth *mesh
function* T (uniform, T(u) = u, or graded, the step growing as the dynamics slows), the discrete
dynamics with steps eta_k = t_{k+1} - t_k (eq. 9.1) has at every fixed time an error expansion
in integer powers of h (eq. 9.3),

    X_h(t) = X(t) + a_1(t) h + a_2(t) h^2 + ...,

so the solutions on the ladder h, h/2, ..., h/2^(L-1) (each grid contains the coarser ones)
combine by Richardson's tableau (eq. 9.4)

    T[j][0] = X_{h/2^j},   T[j][i] = T[j][i-1] + (T[j][i-1] - T[j-1][i-1]) / (2^i - 1),

into T[L-1][L-1] = X(t) + O(h^L). Its error estimate is |T[L-1][L-1] - T[L-1][L-2]| (the error
of the best lower-order value, an upper estimate once the expansion holds), maximised over
+-``WINDOW`` neighbouring times (a difference crosses zero where the error does not), and the observed
order of column i, log2 of the ratio of successive sup differences, is recorded so that a
pre-asymptotic ladder shows.

* ``ContinuousTime``: the options (coarse step, number of levels, growth and cap of the graded
  mesh) and the grids of every level (``grids``).
* ``mesh_time``: the mesh function T(u) (eq. 9.2).
* ``richardson``, ``extrapolate``: the tableau, the extrapolated values with their error
  estimate, the weights of each level in the result and the observed orders.
* ``refine_two_time``: a two-time function of a grid interpolated to the grid of the next level
  (cubic in the mesh variable u), the warm start of the fixed point of a finer level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_int, check_real

# Half-width (grid points) of the windowed maximum of the error estimate.
WINDOW = 2

__all__ = ["ContinuousTime", "Extrapolation", "windowed_max", "WINDOW", "mesh_time", "mesh_parameter", "richardson",
           "extrapolate", "refine_two_time"]


def mesh_parameter(t, growth: float | None, cap: float | None):
    """u(t) = int_0^t dt'/g(t'), g(t) = (1 + t/growth) / (1 + t/(growth cap)) (eq. 9.2).

    ``growth`` None: the uniform mesh, u = t. ``cap`` None: no cap (g grows without bound)."""
    t = np.asarray(t, dtype=float)
    if growth is None:
        return t.copy()
    a = 1.0 / growth
    ratio = 0.0 if cap is None else 1.0 / cap  # b / a
    return ratio * t + (1.0 - ratio) * np.log1p(a * t) / a


def mesh_time(u, growth: float | None, cap: float | None) -> np.ndarray:
    """T(u), the inverse of ``mesh_parameter`` (eq. 9.2), by Newton's method to round-off.

    u is concave and increasing in t (u' = 1/g, g >= 1 increasing), so T(u) >= u and Newton's
    method started at t = u converges monotonically from the left (quadratically near the root)."""
    u = np.asarray(u, dtype=float)
    if growth is None:
        return u.copy()
    a = 1.0 / growth
    if cap is None:
        return np.expm1(a * u) / a
    b = a / cap
    t = u.copy()
    for _ in range(200):
        f = mesh_parameter(t, growth, cap) - u
        dt = f * (1.0 + a * t) / (1.0 + b * t)
        t = t - dt
        if np.all(np.abs(dt) <= 1e-15 * np.maximum(t, 1.0)):
            return t
    raise ParameterError(f"the mesh function could not be inverted (growth = {growth}, cap = {cap})")


@dataclass(frozen=True)
class ContinuousTime:
    r"""The eta -> 0 (gradient-flow) limit: Richardson extrapolation over a ladder of grids.

    ``step`` > 0: the coarse step at t = 0 (the output grid's first spacing; adjusted down so
    that the last point is t_max). ``levels`` >= 2: the ladder h, h/2, ..., h/2^(levels-1); the
    result is O(h^levels) and the finest level costs 2^(levels-1) times the coarse steps.
    ``growth`` (time units) > 0 or None: beyond ~growth the coarse step grows like
    step (1 + t/growth) (a graded mesh, eq. 9.2; None: uniform). ``max_step`` or None: the coarse
    step saturates at max_step (needed with a ridge penalty, whose fixed point the explicit
    steps must stay stable at). Graded meshes need a deterministic selection (full-batch GD);
    Persistent-SGD uses a uniform ladder of its chain at fixed b and tau.

    Examples
    --------
    >>> from quaddmft._continuous import ContinuousTime
    >>> time = ContinuousTime(step=0.5, levels=3, growth=10.0)
    >>> grids = time.grids(t_max=100.0)
    >>> [g.size - 1 for g in grids], float(grids[0][-1]), bool(np.array_equal(grids[2][::4], grids[0]))
    ([48, 96, 192], 100.0, True)
    """

    step: float = 0.2
    levels: int = 3
    growth: float | None = None
    max_step: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "step", check_real("step", self.step, low=0.0))
        object.__setattr__(self, "levels", check_int("levels", self.levels, low=2))
        if self.growth is not None:
            object.__setattr__(self, "growth", check_real("growth", self.growth, low=0.0))
        if self.max_step is not None:
            max_step = check_real("max_step", self.max_step, low=0.0)
            if max_step < self.step:
                raise ParameterError(f"max_step = {max_step} must be at least step = {self.step}")
            object.__setattr__(self, "max_step", max_step)

    @property
    def uniform(self) -> bool:
        return self.growth is None

    def params(self) -> dict:
        return {"time": "continuous", "step": self.step, "levels": self.levels,
                "growth": self.growth, "max_step": self.max_step}

    def grids(self, t_max: float) -> list[np.ndarray]:
        """Times of every level, coarse to fine; level j has 2^j times the coarse steps and
        contains the coarser grids exactly (bit for bit: they are subsampled from the finest)."""
        t_max = check_real("t_max", t_max, low=0.0)
        cap = None if self.max_step is None else self.max_step / self.step
        u_max = float(mesh_parameter(t_max, self.growth, cap))
        K0 = max(1, math.ceil(u_max / self.step - 1e-9))
        n_fine = K0 * 2 ** (self.levels - 1)
        u = u_max * np.arange(n_fine + 1) / n_fine
        fine = mesh_time(u, self.growth, cap)
        fine[0], fine[-1] = 0.0, t_max
        return [fine[:: 2 ** (self.levels - 1 - j)].copy() for j in range(self.levels)]


def richardson(values: list) -> list[list[np.ndarray]]:
    """The tableau of eq. 9.4: ``out[j][i]``, i <= j, from the values of levels j = 0..L-1 (arrays
    of one shape, level j at step h/2^j), assuming an error expansion in h, h^2, h^3, ..."""
    table = [[np.asarray(v, dtype=float)] for v in values]
    for j in range(1, len(values)):
        for i in range(1, j + 1):
            prev, coarse = table[j][i - 1], table[j - 1][i - 1]
            table[j].append(prev + (prev - coarse) / (2.0**i - 1.0))
    return table


@dataclass(frozen=True)
class Extrapolation:
    """``value`` T[L-1][L-1]; ``error`` |T[L-1][L-1] - T[L-1][L-2]| (elementwise); ``weights``
    c_j with value = sum_j c_j X_j; ``orders``: observed order of each column i <= L-3 (the
    exponent of h its successive sup differences shrink by; i + 1 in the asymptotic regime;
    None where the differences vanish)."""

    value: np.ndarray
    error: np.ndarray
    weights: np.ndarray
    orders: list


def _sup_order(column: list) -> float | None:
    """log2 of the ratio of the last two sup differences of a tableau column (None when one of
    them vanishes, e.g. a constant curve)."""
    coarse = float(np.max(np.abs(column[-2] - column[-3])))
    fine = float(np.max(np.abs(column[-1] - column[-2])))
    if fine == 0.0 or coarse == 0.0:
        return None
    return math.log2(coarse / fine)


def extrapolate(values: list) -> Extrapolation:
    """Richardson extrapolation of the values of L >= 2 levels (module docstring)."""
    L = len(values)
    if L < 2:
        raise ParameterError(f"Richardson extrapolation needs at least 2 levels, got {L}")
    table = richardson(values)
    weights = richardson(list(np.eye(L)))[-1][-1]
    orders = [_sup_order([table[j][i] for j in range(L - 3, L)]) for i in range(L - 2)
              if L - 3 >= i]
    return Extrapolation(value=table[-1][-1],
                         error=windowed_max(np.abs(table[-1][-1] - table[-1][-2]), WINDOW),
                         weights=weights, orders=orders)


def windowed_max(x: np.ndarray, window: int) -> np.ndarray:
    """max of ``x`` over +-``window`` neighbours along the first axis (time): the difference of
    two tableau entries crosses zero at times where the error does not."""
    if window == 0 or x.ndim == 0:
        return x
    padded = np.pad(x, [(window, window)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * window + 1, axis=0)
    return windows.max(axis=-1)


def _cubic_midpoints(x: np.ndarray, axis: int) -> np.ndarray:
    """Values at the midpoints (in the mesh variable) between consecutive samples along ``axis``:
    the cubic through the four nearest samples (weights -1/16, 9/16, 9/16, -1/16), the quadratic
    next to the ends, linear for two samples."""
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n < 3:
        mid = 0.5 * (x[:-1] + x[1:])
    elif n < 4:
        mid = np.stack([(3 * x[0] + 6 * x[1] - x[2]) / 8, (-x[0] + 6 * x[1] + 3 * x[2]) / 8])
    else:
        mid = np.empty((n - 1,) + x.shape[1:])
        mid[1:-1] = (-x[:-3] + 9 * x[1:-2] + 9 * x[2:-1] - x[3:]) / 16
        mid[0] = (3 * x[0] + 6 * x[1] - x[2]) / 8
        mid[-1] = (-x[-3] + 6 * x[-2] + 3 * x[-1]) / 8
    out = np.empty((2 * n - 1,) + x.shape[1:])
    out[0::2], out[1::2] = x, mid
    return np.moveaxis(out, 0, axis)


def refine_two_time(C: np.ndarray) -> np.ndarray:
    """A symmetric two-time function on a grid of K+1 points, interpolated to the next level's
    2K+1 points (the new points midway in the mesh variable u; cubic along each time). Only a
    starting point for the fixed point of the finer level: its error, O(h^4) where C is smooth,
    is removed by the iteration."""
    out = _cubic_midpoints(_cubic_midpoints(np.asarray(C, dtype=float), 0), 1)
    return 0.5 * (out + out.T)

