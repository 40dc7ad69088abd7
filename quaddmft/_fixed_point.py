r"""Fixed-point iteration x = G(x) with Anderson (type II) mixing, over any callable.

Given the current iterate x_n and its image g_n = G(x_n), with residual f_n = g_n - x_n, plain
Picard takes x_{n+1} = g_n. Anderson mixing of depth m takes

    x_{n+1} = x_n + f_n - (dX + dF) gamma,   gamma = argmin |f_n - dF gamma|,

where the columns of dX, dF are the differences of the last m + 1 iterates and residuals
(Walker and Ni, SIAM J. Numer. Anal. 49 (2011) 1715). Used by the solver for the modal rungs
of a refined rule, whose nodes depend on the whole C_perp (``rules.RefinedRule``).

Coarse correction (``coarse_corrected``, a two-grid defect correction): when an expensive map
G_f has a cheap approximation G_c (a coarser rule) with nearly the same Jacobian, each fine
evaluation g_n = G_f(x_n) is followed by the fixed point of the corrected coarse map,

    x_{n+1} = G_c(x_{n+1}) + d_n,   d_n = g_n - G_c(x_n),

solved by Anderson with coarse evaluations only. x_{n+1} is the fixed point of G_f up to
(I - G_c')^{-1} (G_f' - G_c') (x_n - x*): the iteration contracts by the Jacobians' difference,
not by G_f' itself (measured, Fig. 1 GD at K = 500: 30-50x per fine sweep from the coarse fixed
point, against 3-20x for Anderson on the fine map alone).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._errors import ConvergenceError

__all__ = ["anderson", "coarse_corrected"]


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


def coarse_corrected(fine: Callable, coarse: Callable, x0: np.ndarray, *, tol: float,
                     max_iter: int, depth: int, history: list, label: str, coarse_label: str):
    """The fixed point of ``fine`` by coarse correction with ``coarse`` (module docstring).

    ``fine`` and ``coarse`` have the signature of ``anderson``'s ``evaluate``. Stops when a fine
    evaluation reports a change below ``tol`` and returns its payload; at most ``max_iter`` fine
    evaluations (ConvergenceError). The corrected coarse fixed point is solved by ``anderson``
    (depth ``depth``, history records labelled ``coarse_label``) to max(1e-2 change, tol / 10):
    finer than the fine iteration's own progress, so that it does not limit the contraction.
    """
    x = x0
    for iteration in range(1, max_iter + 1):
        g, change, payload, record = fine(x)
        history.append({"stage": label, "iteration": iteration, "change": float(change), **record})
        if change < tol:
            return payload
        d = g - coarse(x)[0]

        def corrected(y, d=d):
            image, _, _, inner = coarse(y)
            image = image + d
            inner_change = np.abs(image - y).max() / max(float(np.abs(image).max()), 1e-300)
            return image, inner_change, image, inner

        # From g = G_c(x) + d: the first corrected step is the fine step already taken.
        x = anderson(corrected, g, tol=max(1e-2 * change, 0.1 * tol), max_iter=max_iter,
                     depth=depth, history=history, label=coarse_label)
    raise ConvergenceError(
        f"iteration ({label}) did not reach tol = {tol:g} in {max_iter} fine evaluations "
        f"(last change {change:.3g}); raise max_iter", history=history)
