"""Exceptions raised by quaddmft and the boundary checks that raise them."""

from __future__ import annotations

import math
from enum import Enum
from numbers import Real

__all__ = ["ParameterError", "DivergenceError", "ConvergenceError", "ErrorKind"]


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
