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

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_int, check_real

# Half-width (grid points) of the windowed maximum of the error estimate.
WINDOW = 2
# Adaptive meshes (``adapt_mesh``): the default fraction of the explicit stability limit a step
# may reach, and the growth of the pilot mesh in units of the coarse step.
STABILITY = 0.25
PILOT_GROWTH = 25.0
MIN_PILOT_STEPS = 8

__all__ = ["ContinuousTime", "Extrapolation", "MeshFit", "adapt_mesh", "ADAPT_CURVES",
           "local_error_density", "stable_steps", "windowed_max", "WINDOW", "STABILITY",
           "PILOT_GROWTH", "MIN_PILOT_STEPS", "TIME_MODELS", "mesh_time", "mesh_parameter",
           "richardson", "extrapolate", "refine_two_time"]


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
    last = np.inf
    for _ in range(200):
        f = mesh_parameter(t, growth, cap) - u
        dt = f * (1.0 + a * t) / (1.0 + b * t)
        t = t - dt
        relative = float(np.max(np.abs(dt) / np.maximum(t, 1.0)))
        # Converged; or at round-off, where large steps (g(t) ~ 100) keep |dt| above 1e-15 t.
        if relative <= 1e-15 or (relative <= 1e-12 and relative >= last):
            return t
        last = relative
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
    growth: float | str | None = None
    max_step: float | None = None
    stability: float = STABILITY

    def __post_init__(self):
        object.__setattr__(self, "step", check_real("step", self.step, low=0.0))
        object.__setattr__(self, "levels", check_int("levels", self.levels, low=2))
        if isinstance(self.growth, str):
            if self.growth != "adaptive":
                raise ParameterError(f"growth must be a time scale > 0, None (uniform) or "
                                     f"'adaptive', got {self.growth!r}")
        elif self.growth is not None:
            object.__setattr__(self, "growth", check_real("growth", self.growth, low=0.0))
        object.__setattr__(self, "stability", check_real("stability", self.stability, low=0.0,
                                                         high=1.0, high_open=False))
        if self.max_step is not None:
            max_step = check_real("max_step", self.max_step, low=0.0)
            if max_step < self.step:
                raise ParameterError(f"max_step = {max_step} must be at least step = {self.step}")
            object.__setattr__(self, "max_step", max_step)

    @property
    def uniform(self) -> bool:
        return self.growth is None

    @property
    def adaptive(self) -> bool:
        return self.growth == "adaptive"

    def pilot(self) -> "ContinuousTime":
        """The graded mesh of the pilot solve of an adaptive mesh: growth PILOT_GROWTH x step
        (the ratio step/growth sets the late steps against the curvature; 25 keeps them below
        0.16 of the stability limit of the Fig. 1 GD case to t = 1000, docs/theory.md eq. 9.8)."""
        return dataclasses.replace(self, growth=PILOT_GROWTH * self.step)

    def planned_grids(self, t_max: float) -> list[np.ndarray]:
        """The grids known before any solve, for resource estimates: ``grids``, or for an adaptive
        mesh those of its pilot (about the size of the mesh it chooses)."""
        return (self.pilot() if self.adaptive else self).grids(t_max)

    def adapted(self, fit: "MeshFit") -> "ContinuousTime":
        """The mesh of the ladder chosen by ``adapt_mesh`` (its growth and cap)."""
        return dataclasses.replace(self, growth=fit.growth, max_step=fit.max_step)

    def params(self) -> dict:
        return {"time": "continuous", "step": self.step, "levels": self.levels,
                "growth": self.growth, "max_step": self.max_step, "stability": self.stability}

    def grids(self, t_max: float) -> list[np.ndarray]:
        """Times of every level, coarse to fine; level j has 2^j times the coarse steps and
        contains the coarser grids exactly (bit for bit: they are subsampled from the finest).
        An adaptive mesh has no grids before its pilot: ``adapted`` gives the mesh that has."""
        t_max = check_real("t_max", t_max, low=0.0)
        if self.adaptive:
            raise ParameterError("growth='adaptive' has no grids before its pilot solve "
                                 "(ContinuousTime.adapted(adapt_mesh(...)) has)")
        cap = None if self.max_step is None else self.max_step / self.step
        u_max = float(mesh_parameter(t_max, self.growth, cap))
        K0 = max(1, math.ceil(u_max / self.step - 1e-9))
        n_fine = K0 * 2 ** (self.levels - 1)
        u = u_max * np.arange(n_fine + 1) / n_fine
        fine = mesh_time(u, self.growth, cap)
        fine[0], fine[-1] = 0.0, t_max
        return [fine[:: 2 ** (self.levels - 1 - j)].copy() for j in range(self.levels)]


# The curves whose second derivatives measure the local error of an adaptive mesh (the training
# accuracy, a Rao-Blackwellised step function, is left out: its kinks are not dynamics).
ADAPT_CURVES = ("m", "C", "gen_error", "train_loss")


def stable_steps(curvature, lam: float, alpha: float, fraction: float) -> np.ndarray:
    r"""``fraction`` of the explicit-Euler stability limit of gradient flow at each time (eq. 9.8),

        eta_max(t) = 2 fraction / (lam + kappa lamhat(t)),    kappa = (1 + 1/sqrt(alpha))^2:

    with equal curvatures Lambda'' over the samples the Hessian's spectrum is Marchenko-Pastur
    with its edge at kappa times its mean lamhat(t) = alpha Delta <Lambda''> (exact for square
    loss); a spread of curvatures moves the edge up, which ``fraction`` < 1 leaves room for
    (measured on Fig. 1 GD to t = 1000: stable at 0.61 of this limit, not at 0.9).
    Infinite where lam + kappa lamhat = 0 (no curvature: no limit)."""
    kappa = (1.0 + 1.0 / math.sqrt(alpha)) ** 2
    rate = lam + kappa * np.maximum(np.asarray(curvature, dtype=float), 0.0)
    with np.errstate(divide="ignore"):
        return np.where(rate > 0.0, 2.0 * fraction / rate, np.inf)


def local_error_density(t: np.ndarray, curves: dict) -> np.ndarray:
    """max over ``curves`` of |X''(t_k)| / max_k |X(t_k)| at the interior grid points (three-point
    second differences on the non-uniform grid): Euler's local error per unit time is
    eta |X''| / 2, this is its size relative to each curve."""
    h0, h1 = np.diff(t)[:-1], np.diff(t)[1:]
    out = np.zeros(t.size - 2)
    for x in curves.values():
        x = np.asarray(x, dtype=float)
        scale = float(np.max(np.abs(x)))
        if scale > 0.0:
            d2 = 2.0 * (x[:-2] / (h0 * (h0 + h1)) - x[1:-1] / (h0 * h1) + x[2:] / (h1 * (h0 + h1)))
            out = np.maximum(out, np.abs(d2) / scale)
    return out


@dataclass(frozen=True)
class MeshFit:
    """The graded mesh (eq. 9.2) that ``adapt_mesh`` chose: ``growth`` (None: uniform) and
    ``max_step`` (None: no cap), the pilot's grid ``t``, the ``target`` relative steps at its
    interior points, the fitted ones (``fitted``), their rms log misfit (None: the pilot was too
    short to fit), and the coarse steps
    of the chosen mesh against the pilot's (``steps``, ``pilot_steps``)."""

    growth: float | None
    max_step: float | None
    t: np.ndarray
    target: np.ndarray
    fitted: np.ndarray
    misfit: float | None
    steps: int
    pilot_steps: int

    def params(self) -> dict:
        return {"growth": self.growth, "max_step": self.max_step, "misfit": self.misfit,
                "steps": self.steps, "pilot_steps": self.pilot_steps}

    def describe(self) -> str:
        mesh = ("uniform" if self.growth is None else f"growth {self.growth:.4g}, max_step "
                + ("none" if self.max_step is None else f"{self.max_step:.4g}"))
        if self.pilot_steps < MIN_PILOT_STEPS:
            mesh += f" (a pilot of fewer than {MIN_PILOT_STEPS} steps is too short to adapt)"
        return f"adaptive mesh: {mesh}, {self.steps} coarse steps (pilot: {self.pilot_steps})"


def _relative_steps(t, growth, cap):
    """g(t) of eq. 9.2 for arrays of growths (rows) at times t (columns)."""
    growth = np.asarray(growth, dtype=float)[:, None]
    return (1.0 + t / growth) / (1.0 + t / (growth * cap))


def adapt_mesh(t, curves: dict, curvature, *, step: float, lam: float, alpha: float,
               stability: float = STABILITY, max_step: float | None = None) -> MeshFit:
    r"""The graded mesh for a ladder, from a pilot solve on the grid ``t`` (eq. 9.8); the uniform
    mesh when the pilot has fewer than ``MIN_PILOT_STEPS`` steps (a horizon of a few steps).

    Steps equidistributing the local error: with Euler's local error per unit time
    eta(t) q(t) / 2 (q: ``local_error_density`` of the pilot's ``curves``), the fewest steps
    int dt / eta for a given int eta q dt take eta proportional to q^(-1/2); relative to the
    first interior pilot time, target g(t) = sqrt(q(t_1) / q(t)). The steps may not pass the
    stability bound ``stable_steps`` (from the pilot's ``curvature`` lamhat(t), the diagonal of
    Gamma) unless the user's ``step`` already does, nor ``max_step``. The mesh is the member of
    the smooth family g(t) = (1 + t/t_g)/(1 + t/(t_g c)) of eq. 9.2 (smooth, so that Richardson's
    expansion 9.3 holds) closest to the target in log g over the pilot's interior times, among
    those that respect the bounds there: t_g on 241 log-spaced values from step/4 to 100 t_max,
    c on 121 from 1 to 1e6 (or max_step/step) and c = infinity without a max_step."""
    t = np.asarray(t, dtype=float)
    inner = t[1:-1]
    if t.size - 1 < MIN_PILOT_STEPS:  # too few times to fit a mesh: the uniform one, said so
        return MeshFit(growth=None, max_step=None, t=t, target=np.ones_like(inner),
                       fitted=np.ones_like(inner), misfit=None,
                       steps=max(1, math.ceil(t[-1] / step - 1e-9)), pilot_steps=t.size - 1)
    q = np.maximum(local_error_density(t, curves), 1e-300)
    bound = np.maximum(stable_steps(np.asarray(curvature)[1:-1], lam, alpha, stability) / step, 1.0)
    target = np.minimum(np.sqrt(q[0] / q), bound)
    cap_high = 1e6 if max_step is None else max_step / step
    caps = np.geomspace(1.0, cap_high, 121) if cap_high > 1.0 else np.ones(1)
    caps = np.append(caps, np.inf) if max_step is None else caps
    growths = np.geomspace(step / 4.0, 100.0 * t[-1], 241)
    best = (np.inf, None, None)
    for cap in caps:
        g = _relative_steps(inner, growths, cap)
        feasible = np.all(g <= bound * (1.0 + 1e-12), axis=1)
        misfit = np.where(feasible, np.sum((np.log(g) - np.log(target)) ** 2, axis=1), np.inf)
        i = int(np.argmin(misfit))
        if misfit[i] < best[0]:
            best = (float(misfit[i]), float(growths[i]), float(cap))
    misfit, growth, cap = best
    if growth is None or cap == 1.0:  # nothing may grow (or nothing fits): the uniform mesh
        growth, cap, misfit = None, None, float(np.sum(np.log(target) ** 2))
    fitted = np.ones_like(inner) if growth is None else _relative_steps(inner, [growth], cap)[0]
    cap_step = None if cap is None or cap == np.inf else cap * step
    u_max = float(mesh_parameter(t[-1], growth, None if cap_step is None else cap))
    return MeshFit(growth=growth, max_step=cap_step, t=t, target=target, fitted=fitted,
                   misfit=math.sqrt(misfit / inner.size), steps=max(1, math.ceil(u_max / step - 1e-9)),
                   pilot_steps=t.size - 1)


# Names of the time models at the edge (command line, TOML): None is discrete time.
TIME_MODELS = {"discrete": None, "continuous": ContinuousTime}


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


def windowed_max(x: np.ndarray, window) -> np.ndarray:
    """max of ``x`` over +-``window`` neighbours along the first axis (time), the window clipped at
    the ends: the difference of two tableau entries crosses zero at times where the error does
    not. ``window``: an int, or one half-width per index of the first axis (the estimate of
    ``Quadrature``, whose window grows with the step index). A sparse table of maxima over
    power-of-two spans answers every window with two of its entries (exact: a max)."""
    x = np.asarray(x)
    if x.ndim == 0 or np.all(np.asarray(window) == 0):
        return x
    n = x.shape[0]
    k = np.arange(n)
    half = np.broadcast_to(np.asarray(window, dtype=int), (n,))
    lo, hi = np.maximum(k - half, 0), np.minimum(k + half, n - 1)
    table = [x]
    while 2 ** len(table) <= n:
        span = 2 ** (len(table) - 1)
        table.append(np.maximum(table[-1][:-span], table[-1][span:]))
    level = np.floor(np.log2(hi - lo + 1)).astype(int)
    out = np.empty_like(x)
    for j in np.unique(level):
        at = level == j
        out[at] = np.maximum(table[j][lo[at]], table[j][hi[at] - 2**j + 1])
    return out


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

