r"""Weight-side recursions: linear and deterministic once the kernels are known.

THEORY section 3 (docs/theory.md eqs. 3.8-3.11), with decay = 1 - eta lambda:

    m(k+1)    = decay m(k) - eta mu(k),                                   m(0) = m0
    P(k+1)    = decay P(k) - eta sum_{l<=k} Gamma(k, l) P(l),             P(0) = 1
    R(k+1, j) = decay R(k, j) - eta sum_{l=j+1}^{k} Gamma(k, l) R(l, j),  R(j+1, j) = 1
    C_perp(k, k') = R0 P(k) P(k') + eta^2 sum_{j<k, j'<k'} R(k, j) R(k', j') M_C(j, j')

R is stored as a (K+1, K+1) strictly lower-triangular matrix (R(k, j) = 0 for j >= k), so the
sum over l in the R recursion can run over all l <= k. R0 is the initial variance (the
problem's ``R``); R without a subscript is the response.

Extensions (docs/theory.md section 8), one class each, chosen by ``weight_side``:

* Langevin noise of temperature T (every class): the white noise sqrt(2 eta T) z(j) enters
  w(j+1) exactly where the gradient kick does, so it is filtered by the same response R and
  htilde is driven by xi + sqrt(2T/eta) zeta: the noise covariance is M_C + (2T/eta) I (eq. 8.8),
  in the nodes and in C_perp alike; nothing else changes.
* ``MomentumWeightSide``: the two-step recursion of heavy ball and Nesterov (eq. 8.6-8.7).
* ``SphericalWeightSide``: the projection w <- w / sqrt(|w|^2/d) after each step (eq. 8.9).

**Variable steps** (docs/theory.md eq. 9.1): ``eta`` may be an array of K steps eta_k, the
learning rate of step k -> k+1 (gradient descent with a time-dependent rate, t_k = sum_{j<k}
eta_j). The recursions above hold with eta -> eta_k and decay -> 1 - eta_k lambda, and every sum
over past steps j that the nodes and C_perp see carries eta_j: they use the column-scaled
response R(k, j) eta_j (``node_response``), with unit scale. A scalar eta keeps the arithmetic of
the uniform grid unchanged (bit for bit). Variable steps are for plain GD: ``weight_side``
and ``_inputs.check_run`` refuse them with momentum, Langevin noise or the sphere.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["WeightSide", "MomentumWeightSide", "SphericalWeightSide", "FrozenWeights",
           "weight_side"]


class WeightSide:
    """Holds m, P, R on the grid and advances them one step from a new kernel row (plain GD).

    ``eta``: a scalar (uniform grid) or an array of the K steps eta_0..eta_{K-1}.
    """

    def __init__(self, K: int, eta, lam: float, m0: float, R0: float,
                 temperature: float = 0.0):
        steps = np.asarray(eta, dtype=float)
        self.uniform = steps.ndim == 0
        if not self.uniform and steps.shape != (K,):
            raise ValueError(f"eta must be a scalar or an array of K = {K} steps, got shape {steps.shape}")
        self.eta = eta if self.uniform else steps
        self.lam = lam
        self.decay = 1.0 - self.eta * lam
        self.R0 = R0
        self.temperature = temperature
        self.m = np.zeros(K + 1)
        self.P = np.zeros(K + 1)
        self.R = np.zeros((K + 1, K + 1))
        self.m[0] = m0
        self.P[0] = 1.0
        self.steps = 0  # advance(k) calls so far: M_C rows < steps are final
        self._noise = None  # M_C + (2T/eta) I on its final rows (T > 0)
        self._noise_rows = 0
        # R(k, j) eta_j: what the nodes and C_perp see on a variable grid.
        self.R_steps = None if self.uniform else np.zeros((K + 1, K + 1))

    def step(self, k: int) -> float:
        """eta_k, the step from k to k+1."""
        return self.eta if self.uniform else float(self.eta[k])

    def node_response(self):
        """(matrix, scale): the sums over past steps j of the nodes are scale * sum_j matrix(k, j)
        (...)(j): (R, eta) on a uniform grid, (R(k, j) eta_j, 1) on a variable one."""
        return (self.R, self.eta) if self.uniform else (self.R_steps, 1.0)

    def advance(self, k: int, gamma_row: np.ndarray, mu_k: float, M_C=None) -> None:
        """Given Gamma(k, 0..k) and mu(k) (and M_C up to row k), compute m(k+1), P(k+1),
        R(k+1, 0..k)."""
        if self.uniform:
            eta, decay = self.eta, self.decay
        else:
            eta, decay = self.eta[k], self.decay[k]
        self.m[k + 1] = decay * self.m[k] - eta * mu_k
        self.P[k + 1] = decay * self.P[k] - eta * gamma_row @ self.P[: k + 1]
        self.R[k + 1, : k + 1] = decay * self.R[k, : k + 1] - eta * gamma_row @ self.R[: k + 1, : k + 1]
        self.R[k + 1, k] = 1.0
        if not self.uniform:
            self.R_steps[k + 1, : k + 1] = self.R[k + 1, : k + 1] * self.eta[: k + 1]
        self.steps = k + 1

    @property
    def white_noise(self) -> float:
        """2T/eta: the variance the Langevin noise adds to each xi(j) (eq. 8.8)."""
        return 2.0 * self.temperature / self.eta

    def noise_covariance(self, M_C: np.ndarray) -> np.ndarray:
        """The covariance of the noise that drives the nodes: the M_C being built, plus
        (2T/eta) I on its final rows under Langevin noise."""
        if self.temperature == 0.0:
            return M_C
        if self._noise is None:
            self._noise = np.zeros_like(M_C)
        for j in range(self._noise_rows, self.steps):
            self._noise[j, : j + 1] = M_C[j, : j + 1]
            self._noise[: j + 1, j] = M_C[: j + 1, j]
            self._noise[j, j] += self.white_noise
        self._noise_rows = self.steps
        return self._noise

    def c_perp_diag(self, k: int, covariance: np.ndarray) -> float:
        """C_perp(k, k) from the noise covariance (``noise_covariance``) of steps < k."""
        if not self.uniform:
            Rk = self.R_steps[k, :k]
            return self.R0 * self.P[k] ** 2 + Rk @ covariance[:k, :k] @ Rk
        Rk = self.R[k, :k]
        return self.R0 * self.P[k] ** 2 + self.eta**2 * Rk @ covariance[:k, :k] @ Rk

    def c_perp(self, M_C: np.ndarray) -> np.ndarray:
        """The whole C_perp(k, k') matrix (eq. 3.11, plus 2 eta T R R^T under Langevin noise)."""
        if not self.uniform:
            return self.R0 * np.outer(self.P, self.P) + self.R_steps @ M_C @ self.R_steps.T
        out = self.R0 * np.outer(self.P, self.P) + self.eta**2 * self.R @ M_C @ self.R.T
        if self.temperature:
            out = out + self.eta**2 * self.white_noise * self.R @ self.R.T
        return out


class MomentumWeightSide(WeightSide):
    """Heavy-ball and Nesterov recursions (docs/theory.md eqs. 8.6-8.7) with coefficients
    (a1, a2, b0, b1): every x in {m, P, R(., j)} obeys

        x(k+1) = a1 x(k) + a2 x(k-1) - eta b0 g_x(k) - eta b1 g_x(k-1),
        g_m(k) = lam m(k) + mu(k),   g_P(k) = lam P(k) + sum_l Gamma(k, l) P(l),
        g_R(k, j) = lam R(k, j) + sum_l Gamma(k, l) R(l, j),

    with x(-1) = x(0), g_x(-1) = 0, and the kick of step j entering R(j+1, j) = b0 and
    R(j+2, j) with + b1 (R(k, j) = 0 for k <= j)."""

    def __init__(self, K, eta, lam, m0, R0, temperature=0.0, coefficients=(1.0, 0.0, 1.0, 0.0)):
        super().__init__(K, eta, lam, m0, R0, temperature)
        self.a1, self.a2, self.b0, self.b1 = coefficients
        self._grad = (0.0, 0.0, np.zeros(0))  # g_m, g_P, g_R(k-1, .) of the previous step

    def advance(self, k, gamma_row, mu_k, M_C=None):
        eta, lam, (a1, a2, b0, b1) = self.eta, self.lam, (self.a1, self.a2, self.b0, self.b1)
        g_m = lam * self.m[k] + mu_k
        g_P = lam * self.P[k] + gamma_row @ self.P[: k + 1]
        g_R = lam * self.R[k, : k + 1] + gamma_row @ self.R[: k + 1, : k + 1]
        prev = max(k - 1, 0)
        old_m, old_P, old_R = self._grad
        old_R = np.concatenate([old_R, np.zeros(k + 1 - old_R.size)])
        self.m[k + 1] = a1 * self.m[k] + a2 * self.m[prev] - eta * (b0 * g_m + b1 * old_m)
        self.P[k + 1] = a1 * self.P[k] + a2 * self.P[prev] - eta * (b0 * g_P + b1 * old_P)
        self.R[k + 1, : k + 1] = (a1 * self.R[k, : k + 1] + a2 * self.R[prev, : k + 1]
                                  - eta * (b0 * g_R + b1 * old_R))
        self.R[k + 1, k] += b0
        if k >= 1:
            self.R[k + 1, k - 1] += b1
        self._grad = (g_m, g_P, g_R)
        self.steps = k + 1


class SphericalWeightSide(WeightSide):
    """The projection w <- w / n(k+1), n(k+1)^2 = |w'(k+1)|^2/d, after each plain step w'
    (docs/theory.md eq. 8.9): m, P and R(k+1, .) of the plain step are divided by n(k+1),
    computed from them and the noise covariance of steps <= k, so that C(k+1) = 1. ``norms``
    holds n(k) (n(0) = 1: the start is on the sphere)."""

    def __init__(self, K, eta, lam, m0, R0, temperature=0.0):
        super().__init__(K, eta, lam, m0, R0, temperature)
        self.norms = np.ones(K + 1)

    def advance(self, k, gamma_row, mu_k, M_C=None):
        super().advance(k, gamma_row, mu_k)
        covariance = self.noise_covariance(M_C)
        n = math.sqrt(self.m[k + 1] ** 2 + self.c_perp_diag(k + 1, covariance))
        self.m[k + 1] /= n
        self.P[k + 1] /= n
        self.R[k + 1, : k + 1] /= n
        self.norms[k + 1] = n


class FrozenWeights(WeightSide):
    """A solved weight side that does not advance: m, P, R and the M_C of a finished solve.

    An *observer pass* drives new nodes through the solved dynamics with it: the nodes see the
    converged m, P, R and a noise xi ~ GP(0, solved M_C), and only the observables they produce
    are new (e.g. the training accuracy of a rule whose nodes integrate it badly).
    """

    def __init__(self, K: int, eta: float, lam: float, R0: float, solved, temperature: float = 0.0):
        super().__init__(K, eta, lam, float(solved.m[0]), R0, temperature)
        self.m[:], self.P[:], self.R[:] = solved.m, solved.P, solved.response
        if not self.uniform:
            self.R_steps[:, :-1] = self.R[:, :-1] * self.eta[None, :]
        self.solved_M_C = solved.M_C
        if temperature:
            self.solved_M_C = solved.M_C + self.white_noise * np.eye(K + 1)

    def advance(self, k: int, gamma_row: np.ndarray, mu_k: float, M_C=None) -> None:
        """Nothing: the weight side is given."""

    def noise_covariance(self, M_C: np.ndarray) -> np.ndarray:
        return self.solved_M_C


def weight_side(problem, momentum, K: int, eta) -> WeightSide:
    """The weight side of a run: ``SphericalWeightSide`` under the spherical constraint,
    ``MomentumWeightSide`` with a momentum (``_momentum``), else the plain ``WeightSide``; each
    with the problem's Langevin temperature. ``problem`` needs lam, m0, R, temperature and
    spherical; ``momentum`` None or an object with ``coefficients``. ``eta`` an array of steps
    (a variable grid) is for plain GD only (ValueError otherwise; ``check_run`` refuses it
    first with a ParameterError)."""
    if np.ndim(eta) > 0 and (problem.spherical or momentum is not None or problem.temperature):
        raise ValueError("variable steps need plain GD: no momentum, Langevin noise or sphere")
    args = (K, eta, problem.lam, problem.m0, problem.R, problem.temperature)
    if problem.spherical:
        return SphericalWeightSide(*args)
    if momentum is None:
        return WeightSide(*args)
    return MomentumWeightSide(*args, coefficients=momentum.coefficients)
