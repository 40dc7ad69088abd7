"""Exceptions raised by quaddmft and the boundary checks that raise them."""

from __future__ import annotations

import math
from enum import Enum
from numbers import Real

__all__ = ["ParameterError", "DivergenceError", "UnresolvedSelectionError", "ConvergenceError", "FileFormatError", "ErrorKind",
           "divergence_reason"]


class ErrorKind(str, Enum):
    """What the ``*_err`` arrays of a result mean."""

    STANDARD_ERROR = "standard error"  # spread of independent replicates (or seeds) / sqrt(n)
    REFINEMENT = "refinement"  # |fine - coarser| of a deterministic rule (sup-norm estimate)
    # continuous time: |best - next-best| of the Richardson tableau plus the levels' rule errors
    EXTRAPOLATION = "extrapolation"


class ParameterError(ValueError):
    """A parameter is outside its allowed range; the message names it and the range.

    Raised by every constructor and entry point at the boundary (never an ``assert``); the CLI
    turns it into ``quaddmft: error: <message>`` and exit status 2.

    Examples
    --------
    >>> import quaddmft as qd
    >>> try:
    ...     qd.SGD(b=1.5)
    ... except qd.ParameterError as exc:
    ...     print(exc)
    b = 1.5 is outside the allowed range (0.0, 1.0]
    """


class DivergenceError(FloatingPointError):
    """The dynamics left the finite numbers (step size beyond stability, blow-up).

    Attributes ``step`` (the grid index where it was detected) and ``reason``.

    Examples
    --------
    >>> from quaddmft import DivergenceError
    >>> err = DivergenceError(76, "|w|^2/d = 1e+101")
    >>> err.step, str(err)
    (76, 'divergence detected at step k = 76: |w|^2/d = 1e+101')
    """

    def __init__(self, step: int, reason: str):
        self.step = step
        self.reason = reason
        super().__init__(f"divergence detected at step k = {step}: {reason}")


class UnresolvedSelectionError(DivergenceError):
    """The node set cannot resolve a random selection this far: its averaged noise covariance
    M_C stopped being positive semi-definite at grid index ``step``.

    With a random selection the kernel rows replace s(k) by its conditional expectation
    (docs/theory.md eq. 3.12), so on a finite node set M_C is not a Gram matrix; a set too small
    for the horizon turns it indefinite, after which its sweep is meaningless (measured: 1024
    Sobol' points, SGD b = 0.5, at t = 35-45, with C(50) 6x off). A subclass of
    ``DivergenceError``, so that a refined rule skips such a rung as it skips a diverged one;
    raised by strict sweeps only (``_causal.causal_sweep(..., strict=True)``, the rungs of
    ``Quadrature``), never out of ``solve``.

    Examples
    --------
    >>> from quaddmft import UnresolvedSelectionError
    >>> isinstance(UnresolvedSelectionError(144, "M_C indefinite"), DivergenceError)
    True
    """


class ConvergenceError(RuntimeError):
    """An iteration did not reach its tolerance; ``history`` holds what it did.

    Examples
    --------
    >>> from quaddmft import ConvergenceError
    >>> err = ConvergenceError("kernel change 3e-4 > tol 1e-8 after 50 iterations", [{"change": 3e-4}])
    >>> err.history[-1]["change"]
    0.0003
    """

    def __init__(self, message: str, history=None):
        self.history = history
        super().__init__(message)


class FileFormatError(ValueError):
    """A file given to ``quaddmft.load`` is not a valid quaddmft result (not an npz archive,
    missing or extra fields, wrong shapes or dtypes, an unknown format version); the message
    says what is wrong. ``load`` never unpickles.

    Examples
    --------
    >>> import io, quaddmft as qd
    >>> try:
    ...     qd.load(io.BytesIO(b"not a result"))
    ... except qd.FileFormatError as exc:
    ...     print(str(exc)[:38])
    not a quaddmft result (not an npz arch
    """


# The divergence criterion shared by the solver and the simulator (docs/numerics.md): |w|^2/d is
# not finite, or it has grown past DIVERGENCE_SCALE times max(1, |w(0)|^2/d) while growing more
# than DIVERGENCE_GROWTH times over the last DIVERGENCE_WINDOW steps. A stable run never does
# both: unregularised logistic GD grows |w|^2/d like (log t)^2, and the square loss is bounded;
# a step beyond stability grows it geometrically and is stopped within a few steps of passing the
# scale (the former absolute threshold, 1e100, let it run to 1e48 in the training loss).
DIVERGENCE_SCALE = 1e6
DIVERGENCE_GROWTH = 1e2
DIVERGENCE_WINDOW = 10


def divergence_reason(norms, k: int) -> str | None:
    """Why the run diverges at step k, from |w|^2/d at steps 0..k (``norms``), or None.

    Examples
    --------
    >>> import numpy as np
    >>> divergence_reason(np.array([0.01, 0.04, 0.09]), 2) is None
    True
    >>> divergence_reason(9.0 ** np.arange(15), 14)   # |w|^2/d x9 per step
    '|w|^2/d grew from 6.6e+03 to 2.3e+13 in 10 steps, past 1e+06 times its initial scale'
    """
    value = float(norms[k])
    if not math.isfinite(value):
        return f"|w|^2/d is not finite ({value})"
    earlier = float(norms[max(0, k - DIVERGENCE_WINDOW)])
    if value > DIVERGENCE_SCALE * max(1.0, float(norms[0])) and value > DIVERGENCE_GROWTH * earlier:
        return (f"|w|^2/d grew from {earlier:.2g} to {value:.2g} in {min(k, DIVERGENCE_WINDOW)} "
                f"steps, past {DIVERGENCE_SCALE:g} times its initial scale")
    return None


def check_real(name: str, value, *, low=None, high=None, low_open=True, high_open=True) -> float:
    """Return ``float(value)`` after checking it is a finite real inside the interval.

    Raises ParameterError naming ``name`` and the allowed interval otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParameterError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    lo_b = "(" if low_open else "["
    hi_b = ")" if high_open else "]"
    interval = f"{lo_b}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi_b}"
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}; allowed range {interval}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ParameterError(f"{name} = {value!r} is outside the allowed range {interval}")
    return value


def check_int(name: str, value, *, low: int) -> int:
    """Return ``int(value)`` after checking it is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        hasattr(value, "__index__")
    ):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low:
        raise ParameterError(f"{name} = {value} is outside the allowed range [{low}, inf)")
    return value


def check_power_of_two(name: str, value) -> int:
    """Return ``int(value)`` after checking it is a power of 2 >= 2 (Sobol' balance properties)."""
    value = check_int(name, value, low=2)
    if value & (value - 1):
        raise ParameterError(f"{name} = {value} must be a power of 2 (Sobol' balance)")
    return value


def choose(name: str, value: str, table: dict):
    """Resolve a string at the edge (CLI, TOML) through one table; list valid names on failure."""
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown {name} {value!r}; valid names are: {', '.join(sorted(table))}"
        ) from None
