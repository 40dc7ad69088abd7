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
  per step (docs/theory.md eq. 9.1), w(k) = prod_{j<k} [(1 - eta_j lambda) I - eta_j A] w(0):

      C(k) = R int prod_{j<k} (1 - eta_j lambda - eta_j x)^2 dmu(x),   e(k) likewise with x.

* ``marchenko_pastur_gradient_flow(alpha, delta, lam, R, t)``: the gradient flow dw/dt =
  -(lambda + A) w, the eta -> 0 limit (docs/theory.md eq. 9.6):

      C(t) = R int exp(-2 t (lambda + x)) dmu(x),   e(t) = (R/2) int x exp(-2 t (lambda + x)) dmu(x).

* The first full-batch step from w(0) = 0 (two clusters, any margin loss with l'(0) != 0) is the
  Hebbian estimator and attains the Bayes-optimal error (``bayes_optimal_error`` below).

* ``linear_dynamics(...)``: the same spectral solution for the square loss on a linear teacher
  (y = rho w*.x/sqrt(d) + sqrt(noise) xi; rho = 0 is pure noise) under full-batch GD, heavy-ball
  or Nesterov momentum, Langevin noise and the spherical projection (docs/theory.md eq. 8.12).
  Every eigen-direction of A evolves by a scalar two-step linear recursion; m, C and e are
  Marchenko-Pastur integrals of its coefficients.
* ``ridge_regression(alpha, noise, lam)``: the ridge estimator of that regression, the t -> inf
  limit of GD for lam > 0: overlap, norm and test error in closed form (eq. 8.5).
* ``langevin_stationary(...)``: the stationary correlation and response of Langevin GD on
  ridge square loss, discrete (step eta) and of the Gibbs measure (eq. 8.13).

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
           "marchenko_pastur_variable_steps", "marchenko_pastur_gradient_flow",
           "ridge_regression", "linear_dynamics", "langevin_stationary"]


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


def ridge_regression(alpha, noise, lam):
    """The ridge estimator w = (A + lam)^{-1} X^T y / sqrt(d) of the linear teacher (d -> inf).

    Data of docs/theory.md eq. 8.1 (x ~ N(0, I_d), y = w*.x/sqrt(d) + sqrt(noise) xi, A = X^T X/d
    with the Marchenko-Pastur law of ratio ``alpha``, scale 1). Returns ``(m, C, error)``:

        m = int x/(x + lam) dmu,   C = int [x^2 + noise x]/(x + lam)^2 dmu,
        error = E[(y - w.x/sqrt(d))^2] = 1 + noise - 2 m + C                  (eq. 8.5)

    (the atom at x = 0 of alpha < 1 contributes nothing, the lam -> 0+ limit). It is the
    t -> infinity limit of full-batch GD on the square loss with ridge lam > 0, and at
    lam = noise the Bayes-optimal estimator of a Gaussian prior w* ~ N(0, I_d). ``alpha`` > 0,
    ``noise`` >= 0, ``lam`` >= 0 (lam = 0 needs alpha != 1 when noise > 0).

    Examples
    --------
    >>> m, C, err = ridge_regression(alpha=2.0, noise=0.0, lam=0.0)   # least squares, noiseless
    >>> round(m, 10), round(C, 10), abs(err) < 1e-12
    (1.0, 1.0, True)
    >>> round(ridge_regression(alpha=0.5, noise=0.0, lam=0.0)[2], 10)  # min-norm: 1 - alpha
    0.5
    """
    alpha = check_real("alpha", alpha, low=0.0)
    noise = check_real("noise", noise, low=0.0, low_open=False)
    lam = check_real("lam", lam, low=0.0, low_open=False)

    def terms(x):
        pos = x > 0.0
        z = np.where(pos, x + lam, 1.0)
        return np.stack([np.where(pos, x / z, 0.0), np.where(pos, (x * x + noise * x) / z**2, 0.0)], 1)

    x, w = _mp_nodes(alpha, 1.0)
    m, C = w @ terms(x)
    return float(m), float(C), float(1.0 + noise - 2.0 * m + C)


def _step_coefficients(beta, nesterov):
    """(a1, a2, b0, b1) of x(k+1) = a1 x(k) + a2 x(k-1) - eta b0 g(k) - eta b1 g(k-1)."""
    if nesterov:
        return 1.0 + beta, -beta, 1.0 + beta, -beta
    return 1.0 + beta, -beta, 1.0, 0.0


def linear_dynamics(alpha, eta, K, *, delta=1.0, rho=1.0, noise=0.0, lam=0.0, R=0.0, m0=0.0,
                    beta=0.0, nesterov=False, temperature=0.0, spherical=False):
    """Exact m(k), C(k), e(k), k = 0..K, of full-batch dynamics on the square loss, d -> infinity.

    Data: x = sqrt(``delta``) z, y = ``rho`` w*.x/sqrt(d) + sqrt(``noise``) xi (rho = 1, delta = 1:
    the linear teacher of eq. 8.1; rho = 0, noise = 0: pure noise, eq. 6.2). Dynamics
    (docs/theory.md eqs. 8.6-8.9), g(u) = lam u + A u - X^T y / sqrt(d), u(-1) = u(0):

        u(k+1) = a1 u(k) + a2 u(k-1) - eta b0 g(u(k)) - eta b1 g(u(k-1)) + b0 nu(k) + b1 nu(k-1),

    (a1, a2, b0, b1) = (1 + beta, -beta, 1, 0) (heavy ball, ``nesterov`` False; beta = 0 is GD)
    or (1 + beta, -beta, 1 + beta, -beta) (Nesterov, u the look-ahead point), nu(k) ~
    N(0, 2 eta T) per coordinate (``temperature`` T), and with ``spherical`` (GD only)
    u <- u / sqrt(|u|^2/d) after every step. In each eigen-direction x of A = X^T X/d (law:
    Marchenko-Pastur of ratio alpha, scale delta) u = F w* + sqrt(noise) G X^T xi/sqrt(d) + H g
    + N with scalar recursions for F, G, H and the covariance of N; then

        m = int F dmu,   C = int [F^2 + noise x G^2 + R H^2 + V] dmu,
        e = (1/2) int [x (rho - F)^2 + noise x^2 G^2 + R x H^2 + x V - 2 noise x G] dmu
            + noise alpha / 2,

    V the variance of N. Returns ``(m, C, e)``, arrays of shape (K+1,).

    Examples
    --------
    >>> m, C, e = linear_dynamics(2.0, 0.2, 5, delta=0.5, rho=0.0, R=1.0)   # = eq. 6.2
    >>> [round(float(v), 6) for v in (C[1], e[1], C[5], e[5])]
    [0.66, 0.255, 0.25044, 0.050981]
    """
    a1, a2, b0, b1 = _step_coefficients(check_real("beta", beta, low=0.0, high=1.0, low_open=False),
                                        nesterov)
    T = check_real("temperature", temperature, low=0.0, low_open=False)
    K = check_int("K", K, low=0)
    if spherical and beta:
        raise ParameterError("linear_dynamics: the spherical projection is for plain GD (beta = 0)")

    x, w = _mp_nodes(alpha, delta)
    z = x + lam
    n = x.size
    coef = np.zeros((3, n))  # F, G, H at step k
    coef[0], coef[2] = m0, 1.0
    prev, grad_prev = coef.copy(), np.zeros((3, n))
    source = np.stack([rho * x, np.ones(n), np.zeros(n)])
    cov = np.zeros((n, 3, 3))  # of (N(k), N(k-1), nu(k-1)) per direction
    kick = np.array([b0, 0.0, 1.0])
    M = np.zeros((n, 3, 3))
    M[:, 0, 2], M[:, 1, 0] = b1, 1.0
    M[:, 0, 0], M[:, 0, 1] = a1 - eta * b0 * z, a2 - eta * b1 * z
    out = np.zeros((K + 1, 3))
    for k in range(K + 1):
        F, G, H = coef
        V = cov[:, 0, 0]
        C = F**2 + noise * x * G**2 + R * H**2 + V
        e = x * (rho - F) ** 2 + noise * x * x * G**2 + R * x * H**2 + x * V - 2 * noise * x * G
        out[k] = w @ F, w @ C, 0.5 * (w @ e) + 0.5 * noise * alpha
        if k == K:
            break
        grad = z * coef - source
        new = a1 * coef + a2 * prev - eta * b0 * grad - eta * b1 * grad_prev
        cov = M @ cov @ np.transpose(M, (0, 2, 1)) + 2.0 * eta * T * np.outer(kick, kick)
        prev, grad_prev, coef = coef, grad, new
        if spherical:
            F, G, H = coef
            norm = math.sqrt(w @ (F**2 + noise * x * G**2 + R * H**2 + cov[:, 0, 0]))
            coef = coef / norm
            cov[:, 0, :] /= norm
            cov[:, :, 0] /= norm
    return out[:, 0], out[:, 1], out[:, 2]


def _mp_nodes(alpha, delta):
    """Nodes and weights of the Marchenko-Pastur quadrature of ``_mp_moments`` (atom included)."""
    lo = delta * (1.0 - math.sqrt(alpha)) ** 2
    hi = delta * (1.0 + math.sqrt(alpha)) ** 2
    half = 0.5 * (hi - lo)
    nodes, weights = _legendre(400)
    theta = 0.5 * math.pi * (nodes + 1.0)
    x = lo + 2.0 * half * np.sin(0.5 * theta) ** 2
    density = half**2 * np.sin(theta) ** 2 / (2.0 * math.pi * delta * x)
    w = 0.5 * math.pi * weights * density
    if alpha < 1.0:
        x, w = np.append(x, 0.0), np.append(w, 1.0 - alpha)
    return x, w


def langevin_stationary(alpha, delta, lam, eta, temperature, lags):
    """Stationary two-time functions of Langevin GD on ridge square loss (docs/theory.md eq. 8.13).

    Full batch, u(k+1) = u(k) - eta (lam + A) (u(k) - u_ridge) + sqrt(2 eta T) z(k): per
    eigen-direction of A (Marchenko-Pastur, ratio ``alpha``, scale ``delta``) with z = x + lam,
    the fluctuation around the ridge estimator is an AR(1) process. With lag s >= 0 steps
    (``lags``, integers) returns a dict of arrays:

    * ``C``: the discrete stationary connected correlation
      C(k+s, k) - m^2 = T int (1 - eta z)^s / (z (1 - eta z/2)) dmu,
    * ``R``: the response R(k+s, k) = int (1 - eta z)^(s-1) dmu (s >= 1; 0 at s = 0),
    * ``C_gibbs``: the Gibbs measure exp(-H/T) and its continuous-time Langevin dynamics at lag
      t = s eta: T int e^{-z t} / z dmu (at s = 0 the posterior variance T int dmu / z),
    * ``R_gibbs``: int e^{-z t} dmu, which equals -(1/T) dC_gibbs/dt (fluctuation-dissipation).

    Needs a stationary state: lam > 0, or alpha > 1 (no zero eigenvalue), and eta z < 2 on the
    spectrum. Raises ParameterError otherwise.

    Examples
    --------
    >>> out = langevin_stationary(2.0, 1.0, 0.5, 0.01, 0.1, [0, 1])
    >>> round(float(out["C_gibbs"][0]), 6), round(float(out["R"][1]), 6)
    (0.056155, 1.0)
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    lam = check_real("lam", lam, low=0.0, low_open=False)
    eta = check_real("eta", eta, low=0.0)
    T = check_real("temperature", temperature, low=0.0, low_open=False)
    if lam == 0.0 and alpha <= 1.0:
        raise ParameterError(f"langevin_stationary: lam = 0 with alpha = {alpha} <= 1 leaves a "
                             "flat direction (no stationary state); take lam > 0")
    if eta * (lam + delta * (1.0 + math.sqrt(alpha)) ** 2) >= 2.0:
        raise ParameterError(f"langevin_stationary: eta = {eta} is beyond the stability limit")
    s = np.asarray(lags, dtype=float)
    x, w = _mp_nodes(alpha, delta)
    z = (x + lam)[:, None]
    decay = 1.0 - eta * z
    return {
        "C": T * w @ (decay**s / (z * (1.0 - 0.5 * eta * z))),
        "R": np.where(s >= 1, w @ (decay ** np.maximum(s - 1, 0)), 0.0),
        "C_gibbs": T * w @ (np.exp(-z * s * eta) / z),
        "R_gibbs": w @ np.exp(-z * s * eta),
    }


def marchenko_pastur_variable_steps(alpha, delta, steps, lam, R):
    """Exact C(k) and e(k), k = 0..K, of square-loss GD on pure noise with steps eta_0..eta_{K-1}.

    docs/theory.md eq. 9.1 with the solution of section 6: C(k) = R int prod_{j<k}
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

    docs/theory.md eq. 9.6: C(t) = R int exp(-2 t (lambda + x)) dmu(x), e(t) = (R/2) int x
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
