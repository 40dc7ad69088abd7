r"""Statics: the t -> infinity state of full-batch GD with ridge, from the replica saddle point.

For lambda > 0 and a strictly convex margin loss, gradient descent (b = 1) converges to the unique
minimiser of the training loss (THEORY section 6, last item)

    H(w) = sum_mu l(y_mu w.x_mu / sqrt(d)) + (lambda / 2) |w|^2,
    x_mu = c_mu v / sqrt(d) + sqrt(Delta) z_mu,  y_mu = c_mu = +-1,  n = alpha d,

on the symmetric two-cluster mixture (paper eq. 2). Its overlaps m = w.v/d and q = |w|^2/d
concentrate as d -> infinity on the solution of the replica-symmetric saddle-point equations
(Mignacco, Krzakala, Lu, Urbani, Zdeborova, ICML 2020, "The role of regularization in
classification of high-dimensional noisy Gaussian mixture", ref. [28] of the paper). In this
package's scaling they read, with the cavity margin omega = m + sqrt(Delta q) zeta, zeta ~ N(0, 1),
and the fitted margin u = prox_{V l}(omega), i.e. u + V l'(u) = omega:

    Vhat = alpha Delta E[ l''(u) / (1 + V l''(u)) ],        V = Delta / (lambda + Vhat),
    m    = -alpha E[ l'(u) ] / (lambda + Vhat),
    q    = m^2 + alpha Delta E[ l'(u)^2 ] / (lambda + Vhat)^2.

Derivation (cavity): write w = m v + w_perp. The margin of sample mu is
y r = m (1 + sqrt(Delta) h0_mu) + sqrt(Delta) z_perp.w_perp / sqrt(d); adding sample mu to the
others moves its margin from the cavity value omega to u = omega - V l'(u), V = Delta chi with chi
the trace of the inverse Hessian per dimension, chi = 1/(lambda + Vhat). Stationarity along v is
lambda m = -alpha E[l'(u) (1 + sqrt(Delta) h0)], and Stein's lemma on h0 (omega depends on h0 with
slope m sqrt(Delta)) turns the h0 term into -m Vhat. Stationarity along w_perp gives
(lambda + Vhat) w_perp = -sqrt(Delta/d) sum_mu l'(u_mu) z_perp_mu, whose squared norm per dimension
is alpha Delta E[l'(u)^2]. For the square loss these reduce to the ridge-regression formulas
(e.g. V = 1/(alpha - 1) at lambda -> 0, alpha > 1).

Observables (exact functions of m, q): test error eps_gen = erfc(m / sqrt(2 Delta q)) / 2 (paper
eq. 24), training loss per dimension e = alpha E[l(u)] (without the ridge term, as in the DMFT's
``train_loss``), training accuracy E[u > 0].

``direct_minimisation`` minimises H at finite d with L-BFGS, the independent check of the equations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfc

from ._errors import ConvergenceError, ParameterError, check_int, check_real, choose
from ._loss import LOSSES, Loss
from ._problem import Problem, TwoCluster
from ._quadrature import gauss_hermite
from ._simulator import gradient, make_dataset, training_loss

__all__ = ["StaticsResult", "saddle_point", "direct_minimisation", "prox"]


@dataclass(frozen=True)
class StaticsResult:
    """Fixed point of the saddle-point equations (or a finite-d minimiser's overlaps).

    ``m`` = w.v/d, ``q`` = |w|^2/d, ``V`` (response of a margin to its own sample, Delta chi; NaN
    for a finite-d minimiser), ``gen_error``, ``train_loss`` (alpha E[l(u)], ridge excluded),
    ``train_accuracy``; ``iterations``, ``residual`` (max relative change at the last iteration),
    ``status`` and ``message``; ``params``.
    """

    m: float
    q: float
    V: float
    gen_error: float
    train_loss: float
    train_accuracy: float
    iterations: int
    residual: float
    params: dict
    status: str = "success"
    message: str = ""


def _resolve_loss(loss) -> Loss:
    if isinstance(loss, str):
        loss = choose("loss", loss, LOSSES)
    if not isinstance(loss, Loss) or not loss.convex_margin or not loss.is_margin:
        raise ParameterError(
            f"loss must be a convex margin loss ('logistic' or 'squared-hinge'), got {loss!r}"
        )
    return loss


def prox(loss: Loss, omega, V: float, *, tol: float = 1e-13, max_iter: int = 300) -> np.ndarray:
    """u = argmin_u [ l(u) + (u - omega)^2 / (2 V) ], i.e. the root of u + V l'(u) = omega.

    The map u -> u + V l'(u) is increasing with slope 1 + V l'' >= 1 (l convex), so Newton's
    method converges; it is kept inside the bracket [omega, omega + V |l'(omega)|] (l' <= 0
    increasing), bisecting every other step, which makes it safe where Newton would cycle.
    Raises ConvergenceError if the residual is not below ``tol (1 + |omega| + V)`` after ``max_iter``
    steps.
    """
    omega = np.asarray(omega, dtype=float)
    ones = np.ones_like(omega)
    # A convex margin loss has l' <= 0 increasing, so the root lies in [omega, omega + V |l'(omega)|].
    lo = omega.copy()
    hi = omega + V * np.abs(loss.terms(ones, omega)[1])
    u = omega.copy()
    for iteration in range(max_iter):
        _, d1, d2 = loss.terms(ones, u)
        resid = u + V * d1 - omega
        if np.all(np.abs(resid) <= tol * (1.0 + np.abs(omega) + V)):
            return u
        lo = np.where(resid < 0, u, lo)
        hi = np.where(resid > 0, u, hi)
        step = u - resid / (1.0 + V * d2)
        # Newton can cycle when V l'' is large; every other step bisects, so the bracket at least
        # halves every two iterations whatever Newton does.
        newton_ok = (step > lo) & (step < hi) & (iteration % 2 == 0)
        u = np.where(newton_ok, step, 0.5 * (lo + hi))
    raise ConvergenceError(f"prox did not converge in {max_iter} Newton steps (V = {V})")


def saddle_point(alpha: float, delta: float, lam: float, loss="logistic", *, n_nodes: int = 161,
                 tol: float = 1e-12, max_iter: int = 5000, damping: float = 0.5) -> StaticsResult:
    r"""Solve the saddle-point equations of the module docstring for (m, q, V).

    Parameters: ``alpha`` > 0 (n/d), ``delta`` > 0 (noise variance), ``lam`` > 0 (ridge; the
    unregularised problem has no minimiser when the data are separable), ``loss`` a convex margin
    loss ('logistic' or 'squared-hinge'). Expectations over zeta ~ N(0, 1) use an ``n_nodes``-point
    Gauss-Hermite rule; the iteration is damped (new = damping * old + (1 - damping) * update)
    until the relative change of (m, q, V) is below ``tol``.

    Raises ParameterError for invalid input, ConvergenceError if ``max_iter`` is reached.
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    lam = check_real("lam", lam, low=0.0)
    loss = _resolve_loss(loss)
    n_nodes = check_int("n_nodes", n_nodes, low=2)
    damping = check_real("damping", damping, low=0.0, high=1.0, low_open=False)
    zeta, weight = gauss_hermite(n_nodes)
    ones = np.ones_like(zeta)

    # Start from the first GD step's direction with a small norm (any positive start works).
    m, q, V = alpha / (lam + alpha), (alpha / (lam + alpha)) ** 2 * (1.0 + delta / alpha), delta / lam
    residual = math.inf
    for iteration in range(1, max_iter + 1):
        omega = m + math.sqrt(delta * q) * zeta
        u = prox(loss, omega, V)
        _, d1, d2 = loss.terms(ones, u)
        v_hat = alpha * delta * weight @ (d2 / (1.0 + V * d2))
        chi = 1.0 / (lam + v_hat)
        m_new = -alpha * (weight @ d1) * chi
        q_new = m_new**2 + alpha * delta * (weight @ d1**2) * chi**2
        V_new = delta * chi
        residual = max(abs(m_new - m) / (abs(m_new) + 1e-300), abs(q_new - q) / q_new,
                       abs(V_new - V) / V_new)
        m = damping * m + (1.0 - damping) * m_new
        q = damping * q + (1.0 - damping) * q_new
        V = damping * V + (1.0 - damping) * V_new
        if residual < tol:
            break
    else:
        raise ConvergenceError(
            f"saddle-point iteration did not reach tol = {tol} in {max_iter} iterations "
            f"(last relative change {residual:.3g})"
        )
    omega = m + math.sqrt(delta * q) * zeta
    u = prox(loss, omega, V)
    values = loss.terms(ones, u)[0]
    return StaticsResult(
        m=float(m), q=float(q), V=float(V),
        gen_error=float(0.5 * erfc(m / math.sqrt(2.0 * delta * q))),
        train_loss=float(alpha * weight @ values),
        train_accuracy=float(weight @ (u > 0.0)),
        iterations=iteration, residual=float(residual),
        params={"alpha": alpha, "delta": delta, "lam": lam, "loss": loss.name, "n_nodes": n_nodes},
        message=f"damped fixed-point iteration converged in {iteration} iterations",
    )


def direct_minimisation(alpha: float, delta: float, lam: float, loss="logistic", *, d: int,
                        seed: int = 0, gtol: float = 1e-10) -> StaticsResult:
    """Minimise H(w) (module docstring) at dimension ``d`` with L-BFGS on one dataset.

    The dataset is drawn by the simulator's ``make_dataset`` from ``default_rng(seed)``. Returns
    the minimiser's m, q, exact test error erfc(m/sqrt(2 Delta q))/2, training loss per dimension
    (ridge excluded) and training accuracy; V is NaN. Raises ConvergenceError if L-BFGS fails.
    """
    alpha = check_real("alpha", alpha, low=0.0)
    delta = check_real("delta", delta, low=0.0)
    lam = check_real("lam", lam, low=0.0)
    loss = _resolve_loss(loss)
    d = check_int("d", d, low=1)
    seed = check_int("seed", seed, low=0)
    problem = Problem(TwoCluster(alpha, delta), loss, lam=lam, R=0.0)
    X, y, _ = make_dataset(problem, d, np.random.default_rng(seed))
    ones = np.ones(X.shape[0])

    def fun(w):
        return training_loss(w, X, y, problem), gradient(w, X, y, ones, problem)

    w0 = (X.T @ y) / math.sqrt(d) / (lam + alpha)  # Hebbian start
    opt = minimize(fun, w0, jac=True, method="L-BFGS-B",
                   options={"gtol": gtol, "ftol": 1e-15, "maxiter": 20000, "maxcor": 30})
    grad_norm = float(np.max(np.abs(opt.jac)))
    if grad_norm > 1e-6:
        raise ConvergenceError(f"L-BFGS stopped with |grad|_inf = {grad_norm:.3g}: {opt.message}")
    w = opt.x
    m, q = float(w.sum() / d), float(w @ w / d)
    r = (X @ w) / math.sqrt(d)
    return StaticsResult(
        m=m, q=q, V=float("nan"), gen_error=float(0.5 * erfc(m / math.sqrt(2.0 * delta * q))),
        train_loss=float(loss.terms(y, r)[0].sum() / d), train_accuracy=float(np.mean(y * r > 0)),
        iterations=int(opt.nit), residual=grad_norm,
        params={"alpha": alpha, "delta": delta, "lam": lam, "loss": loss.name, "d": d, "seed": seed},
        message=str(opt.message),
    )
