r"""Reference errors drawn as dashed lines in the paper's figures.

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

from scipy.special import erf, erfc

from ._errors import check_real

__all__ = ["bayes_optimal_error", "oracle_error", "oracle_threshold"]


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
