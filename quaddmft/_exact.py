r"""Exact reference solutions (THEORY section 6, docs/theory.md section 6).

* Square loss, linear activation, full batch, pure noise (c = 0, y = 0): w(k) = B^k w(0) with
  B = (1 - eta lambda) I - eta A and A = X^T X / d, whose spectrum tends to the Marchenko-Pastur
  law mu of ratio alpha and scale Delta: an atom of mass 1 - alpha at 0 if alpha < 1, and the
  density sqrt((x+ - x)(x - x-)) / (2 pi Delta x) on [x-, x+], x+- = Delta (1 +- sqrt(alpha))^2.
  Then
      C(k) = R int (1 - eta lambda - eta x)^{2k} dmu(x),
      e(k) = (R/2) int x (1 - eta lambda - eta x)^{2k} dmu(x)        (training loss, H/d).
* First full-batch step from w(0) = 0 (two clusters, any margin loss with l'(0) != 0):
      eps_gen(eta) = erfc( sqrt(alpha / (2 Delta (alpha + Delta))) ) / 2.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import erfc

from ._errors import check_int, check_real

__all__ = ["marchenko_pastur_square_loss", "first_step_gen_error"]


@lru_cache(maxsize=4)
def _legendre(n):
    """Gauss-Legendre rule, computed once per size (it costs ~0.1 s at n = 400)."""
    return leggauss(n)


def _mp_moments(alpha, delta, f, n_nodes=400):
    """int f(x) dmu(x) for the Marchenko-Pastur law, f vectorised.

    The substitution x = centre - half cos(theta) turns the square-root edges into a smooth
    periodic integrand, which Gauss-Legendre in theta integrates to machine precision.
    """
    lo = delta * (1.0 - math.sqrt(alpha)) ** 2
    hi = delta * (1.0 + math.sqrt(alpha)) ** 2
    half = 0.5 * (hi - lo)
    nodes, weights = _legendre(n_nodes)
    theta = 0.5 * math.pi * (nodes + 1.0)
    # x - lo = half (1 - cos theta) written without cancellation (matters when lo = 0, alpha = 1)
    x = lo + 2.0 * half * np.sin(0.5 * theta) ** 2
    density = half**2 * np.sin(theta) ** 2 / (2.0 * math.pi * delta * x)
    total = 0.5 * math.pi * (weights * density) @ f(x)
    if alpha < 1.0:
        total = total + (1.0 - alpha) * f(np.zeros(1))[0]
    return total


def marchenko_pastur_square_loss(alpha, delta, eta, lam, R, K):
    """Exact C(k) = |w(k)|^2/d and training loss e(k), k = 0..K, for square loss on pure noise.

    docs/theory.md eqs. 6.1-6.2. ``alpha`` > 0, ``delta`` > 0, ``eta`` > 0, ``lam`` >= 0,
    ``R`` >= 0, ``K`` >= 0 (integer). Returns a pair of arrays of shape (K+1,). Raises
    ParameterError naming a bad argument.

    Examples
    --------
    >>> C, e = marchenko_pastur_square_loss(alpha=2.0, delta=0.5, eta=0.2, lam=0.0, R=1.0, K=5)
    >>> [round(float(x), 6) for x in (C[1], e[1], C[5], e[5])]
    [0.66, 0.255, 0.25044, 0.050981]
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    eta = check_real("eta", eta, low=0.0)
    lam = check_real("lam", lam, low=0.0, low_open=False)
    R = check_real("R", R, low=0.0, low_open=False)
    K = check_int("K", K, low=0)
    powers = 2 * np.arange(K + 1)

    def C_of(x):
        return (1.0 - eta * lam - eta * x[None, :]) ** powers[:, None]

    C = R * _mp_moments(alpha, delta, lambda x: C_of(x).T)
    e = 0.5 * R * _mp_moments(alpha, delta, lambda x: (x[None, :] * C_of(x)).T)
    return C, e


def first_step_gen_error(alpha, delta):
    """Generalisation error after one full-batch step from w = 0 (Hebbian; the Bayes-optimal error).

    docs/theory.md eq. 6.3; ``alpha`` > 0, ``delta`` > 0.

    Examples
    --------
    >>> round(float(first_step_gen_error(2.0, 0.5)), 5)
    0.10295
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    return 0.5 * erfc(math.sqrt(alpha / (2.0 * delta * (alpha + delta))))
