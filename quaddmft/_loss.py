r"""Losses Lambda(y, r) and their r-derivatives, as numba-callable code.

The training loss of one sample is (paper eq. 5, THEORY section 1)

    margin losses:  Lambda(y, r) = l(y phi(r)),
                    Lambda'  = y l'(y phi) phi',
                    Lambda'' = y^2 l''(y phi) phi'^2 + y l'(y phi) phi'',
    square loss:    Lambda(y, r) = (y - phi(r))^2 / 2   (so that y = 0, pure noise, still trains).

phi is the activation of the mixture: linear phi(r) = r (two clusters) or the door
phi(r) = r^2 - L^2 (three clusters).

Why integer codes: the hot loops of the solver and simulator are numba kernels compiled once and
cached on disk; a kernel that takes a Python function object cannot be cached. Each loss and
activation is therefore identified by a code, and the single numba function ``loss_terms`` below is
the one place that maps codes to formulas. Adding a loss means adding a class here and a branch in
``_margin`` (or ``loss_terms``), never touching the solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["Loss", "Logistic", "Square", "Hinge2", "LOSSES"]

ACT_LINEAR = 0
ACT_DOOR = 1

_LOSS_LOGISTIC = 0
_LOSS_SQUARE = 1
_LOSS_SQUARED_HINGE = 2


@numba.njit(cache=True, inline="always")
def activation(act_code, L, r):
    """Return (phi, phi', phi'') at r."""
    if act_code == ACT_DOOR:
        return r * r - L * L, 2.0 * r, 2.0
    return r, 1.0, 0.0


@numba.njit(cache=True, inline="always")
def _margin(loss_code, v):
    """Return (l, l', l'') of a margin loss at v = y phi(r); numerically stable for any v."""
    if loss_code == _LOSS_LOGISTIC:
        # l = log(1 + e^{-v}); l' = -sigmoid(-v); l'' = sigmoid(v) sigmoid(-v)
        if v >= 0.0:
            e = math.exp(-v)
            value = math.log1p(e)
            sig_minus = e / (1.0 + e)
        else:
            e = math.exp(v)
            value = -v + math.log1p(e)
            sig_minus = 1.0 / (1.0 + e)
        return value, -sig_minus, sig_minus * (1.0 - sig_minus)
    # squared hinge: l = max(0, 1 - v)^2 / 2
    gap = 1.0 - v
    if gap > 0.0:
        return 0.5 * gap * gap, -gap, 1.0
    return 0.0, 0.0, 0.0


@numba.njit(cache=True)
def loss_terms(loss_code, act_code, L, y, r):
    """Return (Lambda, Lambda', Lambda'') of the sample loss at (y, r); see the module docstring."""
    phi, dphi, d2phi = activation(act_code, L, r)
    if loss_code == _LOSS_SQUARE:
        resid = y - phi
        return 0.5 * resid * resid, -resid * dphi, dphi * dphi - resid * d2phi
    value, d1, d2 = _margin(loss_code, y * phi)
    return value, y * d1 * dphi, y * y * d2 * dphi * dphi + y * d1 * d2phi


@numba.njit(cache=True)
def _loss_terms_array(loss_code, act_code, L, y, r):
    out = np.empty((3,) + r.shape)
    flat_y = y.ravel()
    flat_r = r.ravel()
    o0 = out[0].ravel()
    o1 = out[1].ravel()
    o2 = out[2].ravel()
    for i in range(flat_r.size):
        o0[i], o1[i], o2[i] = loss_terms(loss_code, act_code, L, flat_y[i], flat_r[i])
    return out


@dataclass(frozen=True)
class Loss:
    """Base class of sample losses. Subclasses set ``code`` and ``name``.

    docs/theory.md eqs. 1.2-1.3. ``LOSSES`` maps the names used by the CLI and ``Problem`` to
    instances.

    Examples
    --------
    >>> import quaddmft as qd
    >>> sorted(qd.LOSSES), isinstance(qd.LOSSES["square"], qd.Loss)
    (['logistic', 'square', 'squared-hinge'], True)
    """

    code = -1
    name = "abstract"
    convex_margin = False
    # A margin loss l(y phi(r)); the square loss (y - phi)^2 / 2 is not one (it trains at y = 0).
    is_margin = True
    # Upper bound of l'' (Lambda'' for the linear activation): the curvature that sets the
    # stability limit of gradient descent (quaddmft.testing.stability_limit).
    curvature_bound = 1.0
    # Is Lambda'' continuous? The squared hinge's jumps at the margin 1; the modal fixed point of
    # ``Quadrature`` needs a continuous map (rules/quadrature.py ``Quadrature.modal``).
    smooth_curvature = True

    def terms(self, y, r, *, activation_code=ACT_LINEAR, L=0.0):
        """Vectorised (Lambda, Lambda', Lambda'') at arrays y, r (broadcast); shape (3, *shape).

        docs/theory.md eqs. 1.2-1.3. ``activation_code`` 0 is the linear phi(r) = r, 1 the door
        phi(r) = r^2 - L^2 (``L`` > 0, three clusters).

        Examples
        --------
        >>> import quaddmft as qd
        >>> qd.Logistic().terms(1.0, 0.0)          # log 2, l'(0) = -1/2, l''(0) = 1/4
        array([ 0.69314718, -0.5       ,  0.25      ])
        >>> qd.Square().terms([1.0, -1.0], 0.5).shape
        (3, 2)
        """
        y_b, r_b = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(r, dtype=float))
        shape = r_b.shape
        out = _loss_terms_array(
            self.code, activation_code, float(L), np.ascontiguousarray(y_b).reshape(-1),
            np.ascontiguousarray(r_b).reshape(-1),
        )
        return out.reshape((3,) + shape)

    def __call__(self, y, r, *, activation_code=ACT_LINEAR, L=0.0):
        """Lambda(y, r)."""
        return self.terms(y, r, activation_code=activation_code, L=L)[0]


@dataclass(frozen=True)
class Logistic(Loss):
    """Logistic loss l(v) = log(1 + exp(-v)) (the paper's choice; docs/theory.md eq. 1.2).

    Examples
    --------
    >>> from quaddmft import Logistic
    >>> round(float(Logistic()(1.0, 2.0)), 6)      # log(1 + e^-2)
    0.126928
    """

    code = _LOSS_LOGISTIC
    name = "logistic"
    convex_margin = True
    curvature_bound = 0.25


@dataclass(frozen=True)
class Square(Loss):
    """Square loss Lambda(y, r) = (y - phi(r))^2 / 2; exactly solvable for linear phi.

    docs/theory.md eq. 1.2; with pure noise and full batch see the exact solution, eq. 6.2.

    Examples
    --------
    >>> from quaddmft import Square
    >>> Square().terms(1.0, 0.5)                # (1 - 0.5)^2 / 2, -(1 - 0.5), 1
    array([ 0.125, -0.5  ,  1.   ])
    """

    code = _LOSS_SQUARE
    name = "square"
    convex_margin = True
    is_margin = False


@dataclass(frozen=True)
class Hinge2(Loss):
    """Squared hinge l(v) = max(0, 1 - v)^2 / 2 (docs/theory.md eq. 1.2).

    Examples
    --------
    >>> from quaddmft import Hinge2
    >>> Hinge2().terms(1.0, 2.0)                # margin 2 > 1: no loss, no gradient
    array([0., 0., 0.])
    """

    code = _LOSS_SQUARED_HINGE
    name = "squared-hinge"
    convex_margin = True
    smooth_curvature = False


LOSSES = {"logistic": Logistic(), "square": Square(), "squared-hinge": Hinge2()}
