r"""Fixed-point iteration x = G(x) with Anderson (type II) mixing, over any callable.

Given the current iterate x_n and its image g_n = G(x_n), with residual f_n = g_n - x_n, plain
Picard takes x_{n+1} = g_n. Anderson mixing of depth m takes

    x_{n+1} = x_n + f_n - (dX + dF) gamma,   gamma = argmin |f_n - dF gamma|,

where the columns of dX, dF are the differences of the last m + 1 iterates and residuals
(Walker and Ni, SIAM J. Numer. Anal. 49 (2011) 1715). Used by the solver for the modal rungs
of a refined rule, whose nodes depend on the whole C_perp (``rules.RefinedRule``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._errors import ConvergenceError

__all__ = ["anderson"]


def anderson(evaluate: Callable, x0: np.ndarray, *, tol: float, max_iter: int, depth: int,
             history: list, label: str):
    """Iterate until ``evaluate`` reports a change below ``tol``; return its last payload.

    ``evaluate(x)`` returns ``(g, change, payload, record)``: the image G(x) (same shape as x),
    the convergence measure of this evaluation, what to return on convergence, and a dict added
    to ``history`` with the stage ``label``, the iteration number and the change. ``depth`` 0 is
    plain Picard. Raises ConvergenceError (carrying ``history``) after ``max_iter`` evaluations.
    """
    x = x0
    xs, fs = [], []
    for iteration in range(1, max_iter + 1):
        g, change, payload, record = evaluate(x)
        history.append({"stage": label, "iteration": iteration, "change": float(change), **record})
        if change < tol:
            return payload
        f = g - x
        xs.append(x)
        fs.append(f)
        xs, fs = xs[-(depth + 1):], fs[-(depth + 1):]
        x_new = x + f
        if depth and len(xs) > 1:
            dX = np.stack([xs[i + 1] - xs[i] for i in range(len(xs) - 1)], axis=1)
            dF = np.stack([fs[i + 1] - fs[i] for i in range(len(fs) - 1)], axis=1)
            gamma, *_ = np.linalg.lstsq(dF, f, rcond=None)
            x_new = x + f - (dX + dF) @ gamma
        x = x_new
    raise ConvergenceError(
        f"iteration ({label}) did not reach tol = {tol:g} in {max_iter} iterations "
        f"(last change {history[-1]['change']:.3g}); raise max_iter or the Anderson depth",
        history=history,
    )
