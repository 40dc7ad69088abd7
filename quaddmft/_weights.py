r"""Weight-side recursions: linear and deterministic once the kernels are known.

THEORY section 3 (docs/theory.md eqs. 3.8-3.11), with decay = 1 - eta lambda:

    m(k+1)    = decay m(k) - eta mu(k),                                   m(0) = m0
    P(k+1)    = decay P(k) - eta sum_{l<=k} Gamma(k, l) P(l),             P(0) = 1
    R(k+1, j) = decay R(k, j) - eta sum_{l=j+1}^{k} Gamma(k, l) R(l, j),  R(j+1, j) = 1
    C_perp(k, k') = R0 P(k) P(k') + eta^2 sum_{j<k, j'<k'} R(k, j) R(k', j') M_C(j, j')

R is stored as a (K+1, K+1) strictly lower-triangular matrix (R(k, j) = 0 for j >= k), so the
sum over l in the R recursion can run over all l <= k. R0 is the initial variance (the
problem's ``R``); R without a subscript is the response.

**Variable steps** (docs/theory.md eq. 8.1): ``eta`` may be an array of K steps eta_k, the
learning rate of step k -> k+1 (gradient descent with a time-dependent rate, t_k = sum_{j<k}
eta_j). The recursions above hold with eta -> eta_k and decay -> 1 - eta_k lambda, and every sum
over past steps j that the nodes and C_perp see carries eta_j: they use the column-scaled
response R(k, j) eta_j (``node_response``), with unit scale. A scalar eta keeps the arithmetic of
the uniform grid unchanged (bit for bit).
"""

from __future__ import annotations

import numpy as np

__all__ = ["WeightSide", "FrozenWeights"]


class WeightSide:
    """Holds m, P, R on the grid and advances them one step from a new kernel row.

    ``eta``: a scalar (uniform grid) or an array of the K steps eta_0..eta_{K-1}.
    """

    def __init__(self, K: int, eta, lam: float, m0: float, R0: float):
        steps = np.asarray(eta, dtype=float)
        self.uniform = steps.ndim == 0
        if not self.uniform and steps.shape != (K,):
            raise ValueError(f"eta must be a scalar or an array of K = {K} steps, got shape {steps.shape}")
        self.eta = float(eta) if self.uniform else steps
        self.decay = 1.0 - self.eta * lam
        self.R0 = R0
        self.m = np.zeros(K + 1)
        self.P = np.zeros(K + 1)
        self.R = np.zeros((K + 1, K + 1))
        self.m[0] = m0
        self.P[0] = 1.0
        # R(k, j) eta_j: what the nodes and C_perp see on a variable grid.
        self.R_steps = None if self.uniform else np.zeros((K + 1, K + 1))

    def step(self, k: int) -> float:
        """eta_k, the step from k to k+1."""
        return self.eta if self.uniform else float(self.eta[k])

    def node_response(self):
        """(matrix, scale): the sums over past steps j of the nodes are scale * sum_j matrix(k, j)
        (...)(j): (R, eta) on a uniform grid, (R(k, j) eta_j, 1) on a variable one."""
        return (self.R, self.eta) if self.uniform else (self.R_steps, 1.0)

    def advance(self, k: int, gamma_row: np.ndarray, mu_k: float) -> None:
        """Given Gamma(k, 0..k) and mu(k), compute m(k+1), P(k+1), R(k+1, 0..k)."""
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

    def noise_covariance(self, M_C: np.ndarray) -> np.ndarray:
        """The covariance of xi that drives the nodes: the M_C being built."""
        return M_C

    def c_perp_diag(self, k: int, M_C: np.ndarray) -> float:
        """C_perp(k, k) from kernels of steps < k."""
        if self.uniform:
            Rk = self.R[k, :k]
            return self.R0 * self.P[k] ** 2 + self.eta**2 * Rk @ M_C[:k, :k] @ Rk
        Rk = self.R_steps[k, :k]
        return self.R0 * self.P[k] ** 2 + Rk @ M_C[:k, :k] @ Rk

    def c_perp(self, M_C: np.ndarray) -> np.ndarray:
        """The whole C_perp(k, k') matrix."""
        if self.uniform:
            return self.R0 * np.outer(self.P, self.P) + self.eta**2 * self.R @ M_C @ self.R.T
        return self.R0 * np.outer(self.P, self.P) + self.R_steps @ M_C @ self.R_steps.T


class FrozenWeights(WeightSide):
    """A solved weight side that does not advance: m, P, R and the M_C of a finished solve.

    An *observer pass* drives new nodes through the solved dynamics with it: the nodes see the
    converged m, P, R and a noise xi ~ GP(0, solved M_C), and only the observables they produce
    are new (e.g. the training accuracy of a rule whose nodes integrate it badly).
    """

    def __init__(self, K: int, eta: float, lam: float, R0: float, solved):
        super().__init__(K, eta, lam, float(solved.m[0]), R0)
        self.m[:], self.P[:], self.R[:] = solved.m, solved.P, solved.response
        if not self.uniform:
            self.R_steps[:, :-1] = self.R[:, :-1] * self.eta[None, :]
        self.solved_M_C = solved.M_C

    def advance(self, k: int, gamma_row: np.ndarray, mu_k: float) -> None:
        """Nothing: the weight side is given."""

    def noise_covariance(self, M_C: np.ndarray) -> np.ndarray:
        return self.solved_M_C
