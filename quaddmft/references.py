r"""Closed-form and exact references: every value the solver and the figures are checked against.

Exact dynamics (THEORY section 6, docs/theory.md section 6):

* ``marchenko_pastur_square_loss(alpha, delta, eta, lam, R, K)``: square loss, linear activation,
  full batch, pure noise (c = 0, y = 0): w(k) = B^k w(0) with B = (1 - eta lambda) I - eta A and
  A = X^T X / d, whose spectrum tends to the Marchenko-Pastur law mu of ratio alpha and scale
  Delta: an atom of mass 1 - alpha at 0 if alpha < 1, and the density
  sqrt((x+ - x)(x - x-)) / (2 pi Delta x) on [x-, x+], x+- = Delta (1 +- sqrt(alpha))^2. Then

      C(k) = R int (1 - eta lambda - eta x)^{2k} dmu(x),
      e(k) = (R/2) int x (1 - eta lambda - eta x)^{2k} dmu(x)        (training loss, H/d).

* ``marchenko_pastur_variable_steps(alpha, delta, steps, lam, R)``: the same with a step eta_j
  per step (docs/theory.md eq. 8.1), w(k) = prod_{j<k} [(1 - eta_j lambda) I - eta_j A] w(0):

      C(k) = R int prod_{j<k} (1 - eta_j lambda - eta_j x)^2 dmu(x),   e(k) likewise with x.

* ``marchenko_pastur_gradient_flow(alpha, delta, lam, R, t)``: the gradient flow dw/dt =
  -(lambda + A) w, the eta -> 0 limit (docs/theory.md eq. 8.6):

      C(t) = R int exp(-2 t (lambda + x)) dmu(x),   e(t) = (R/2) int x exp(-2 t (lambda + x)) dmu(x).

* The first full-batch step from w(0) = 0 (two clusters, any margin loss with l'(0) != 0) is the
  Hebbian estimator and attains the Bayes-optimal error (``bayes_optimal_error`` below).

Reference errors drawn as dashed lines in the paper's figures:

* ``bayes_optimal_error(alpha, delta)``: the Bayes-optimal generalisation error of the two-cluster
  model (Mignacco, Krzakala, Lu, Zdeborova 2020, the paper's ref. [28]),

      eps_BO = erfc( sqrt( alpha / (2 Delta (alpha + Delta)) ) ) / 2.

  Derivation (Gaussian prior on the centre direction v*, as in ref. [28]): the posterior mean of
  v* given the n = alpha d labelled points is proportional to the Hebbian vector
  w = sum_mu y_mu x_mu / sqrt(d), whose overlaps are m = alpha and |w|^2/d = alpha^2 + alpha Delta
  (THEORY section 6), so m^2 / C = alpha / (alpha + Delta) and paper eq. (24) gives eps_BO.
  One full-batch GD step from w = 0 is this Hebbian estimator, hence attains eps_BO
  (0.10295 at alpha = 2, Delta = 0.5).

* ``oracle_error(delta)``: the three-cluster oracle error, the smallest generalisation error a
  door classifier yhat = sign((w.x/sqrt(d))^2 - L^2) can reach when w points exactly along the
  centre direction v* (w = m v*, so C = m^2, C_perp = 0) and its norm m > 0 is chosen optimally:

      eps_oracle(Delta) = min_{m > 0} eps_3(m, C = m^2; L)         (paper eq. 25)
                        = min_{u > 0} [ erfc(u/sqrt(2 Delta))/2
                                        + (erf((u-1)/sqrt(2 Delta)) + erf((u+1)/sqrt(2 Delta)))/4 ],

  u = L/m. It depends on Delta only (not on L, which the norm absorbs, nor on alpha: the
  oracle is given v*). The optimum solves 2 N(u; 0, Delta) = N(u; 1, Delta) + N(u; -1, Delta),
  i.e. cosh(u*/Delta) = exp(1/(2 Delta)), u* = Delta arccosh(exp(1/(2 Delta))): the threshold of
  the likelihood-ratio test on the projection x.v*/sqrt(d) = c + sqrt(Delta) z, so eps_oracle is
  also the Bayes error of the three-cluster problem when v* is known. Any (m, C) with
  C >= m^2 (C = m^2 + C_perp) gives eps_3(m, C; L) >= eps_oracle(Delta): extra noise in the
  projection only garbles it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import erf, erfc

from ._errors import ParameterError, check_int, check_real

__all__ = ["bayes_optimal_error", "oracle_error", "oracle_threshold", "marchenko_pastur_square_loss",
           "marchenko_pastur_variable_steps", "marchenko_pastur_gradient_flow"]


def bayes_optimal_error(alpha: float, delta: float) -> float:
    """Bayes-optimal error of the two-cluster model, erfc(sqrt(alpha/(2 Delta (alpha+Delta))))/2.

    See the module docstring (ref. [28] of the paper). ``alpha`` >= 0 and ``delta`` > 0;
    alpha = 0 (no data) gives 1/2. Raises ParameterError otherwise.
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=False)
    delta = check_real("delta", delta, low=0.0)
    return 0.5 * math.erfc(math.sqrt(alpha / (2.0 * delta * (alpha + delta))))


def oracle_threshold(delta: float) -> float:
    """u* = Delta arccosh(exp(1/(2 Delta))): optimal door half-width in units of |m| (w along v*).

    For large 1/(2 Delta), arccosh(e^a) = a + log(1 + sqrt(1 - e^{-2a})), evaluated without
    overflow. ``delta`` > 0.
    """
    delta = check_real("delta", delta, low=0.0)
    a = 0.5 / delta
    return delta * (a + math.log1p(math.sqrt(-math.expm1(-2.0 * a))))


def oracle_error(delta: float) -> float:
    """Three-cluster oracle error min_{m>0} eps_3(m, C = m^2) of paper eq. (25); see module docstring.

    ``delta`` > 0 is the noise variance; the result is independent of L and alpha.
    Raises ParameterError for delta <= 0 or not finite.
    """
    u = oracle_threshold(delta)
    s = math.sqrt(2.0 * delta)
    return float(0.5 * erfc(u / s) + 0.25 * (erf((u - 1.0) / s) + erf((u + 1.0) / s)))


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


def marchenko_pastur_variable_steps(alpha, delta, steps, lam, R):
    """Exact C(k) and e(k), k = 0..K, of square-loss GD on pure noise with steps eta_0..eta_{K-1}.

    docs/theory.md eq. 8.1 with the solution of section 6: C(k) = R int prod_{j<k}
    (1 - eta_j lambda - eta_j x)^2 dmu(x) (module docstring). ``steps``: a 1-D array of K >= 1
    positive steps; the other arguments as for ``marchenko_pastur_square_loss``. Raises
    ParameterError naming a bad argument.

    Examples
    --------
    >>> import numpy as np
    >>> C, e = marchenko_pastur_variable_steps(2.0, 0.5, np.full(5, 0.2), 0.0, 1.0)
    >>> bool(np.allclose(C, marchenko_pastur_square_loss(2.0, 0.5, 0.2, 0.0, 1.0, 5)[0], atol=1e-14))
    True
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    lam = check_real("lam", lam, low=0.0, low_open=False)
    R = check_real("R", R, low=0.0, low_open=False)
    steps = np.asarray(steps, dtype=float)
    if steps.ndim != 1 or steps.size < 1 or not np.all(np.isfinite(steps)) or np.any(steps <= 0):
        raise ParameterError(f"steps must be a 1-D array of positive finite steps, got {steps!r}")

    def factors(x):  # (n_x, K+1): prod_{j<k} (1 - eta_j (lambda + x))^2
        out = np.ones((x.size, steps.size + 1))
        out[:, 1:] = np.cumprod((1.0 - steps[None, :] * (lam + x[:, None])) ** 2, axis=1)
        return out

    C = R * _mp_moments(alpha, delta, factors)
    e = 0.5 * R * _mp_moments(alpha, delta, lambda x: x[:, None] * factors(x))
    return C, e


def marchenko_pastur_gradient_flow(alpha, delta, lam, R, t):
    """Exact C(t) = |w(t)|^2/d and training loss e(t) of square-loss gradient flow on pure noise.

    docs/theory.md eq. 8.6: C(t) = R int exp(-2 t (lambda + x)) dmu(x), e(t) = (R/2) int x
    exp(-2 t (lambda + x)) dmu(x), the eta -> 0 limit of ``marchenko_pastur_square_loss`` at
    fixed t = k eta. ``t``: times >= 0 (a scalar or an array); the other arguments as there.
    Returns a pair of arrays of the shape of ``t``. Raises ParameterError naming a bad argument.

    Examples
    --------
    >>> C, e = marchenko_pastur_gradient_flow(2.0, 0.5, 0.0, 1.0, [0.0, 1.0])
    >>> [round(float(x), 6) for x in (C[0], e[0], C[1])]
    [1.0, 0.5, 0.267591]
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    lam = check_real("lam", lam, low=0.0, low_open=False)
    R = check_real("R", R, low=0.0, low_open=False)
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ParameterError(f"t must be finite times >= 0, got {t!r}")
    flat = t.ravel()

    def decay(x):  # (n_x, n_t)
        return np.exp(-2.0 * np.outer(lam + x, flat))

    C = R * _mp_moments(alpha, delta, decay)
    e = 0.5 * R * _mp_moments(alpha, delta, lambda x: x[:, None] * decay(x))
    return C.reshape(t.shape), e.reshape(t.shape)
