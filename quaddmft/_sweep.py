r"""Numba kernels of the causal sweep: one time step of the effective process for every node.

At step k, for each node n of the current replicate (THEORY section 3, docs/theory.md eqs. 3.1-3.4):

    xi(k-1)  = sum_i B(k-1, i) z(i)      (B: causal Cholesky factor of M_C, or its KL modes)
    htilde(k) = P(k) sqrt(R) h_init + eta sum_{j<k} R(k, j) xi(j)
    h(k)     = htilde(k) - eta sqrt(Delta) sum_{j<k} R(k, j) s(j) Lambda'(y, r(j))
    r(k)     = sqrt(Delta) h(k) + m(k) (c + sqrt(Delta) h0)
    rho(k,k) = 1,  rho(k, l) = -eta Delta sum_{j=l}^{k-1} R(k, j) s(j) Lambda''(y, r(j)) rho(j, l)

Per-node products are stored so that the kernel rows are weighted matrix-vector products done by
the caller with BLAS: g(k) = s(k) Lambda'(r(k)), a(k) = s(k) Lambda''(r(k)), rho(k, .).

The response row rho(k, .) of each node is computed afresh at every step by backward
substitution in rho = (I - T)^{-1} (see ``effective_step``), so only one row per node is stored:
O(N K) memory instead of the O(N K^2) history the forward recursion would need.

Training accuracy is Rao-Blackwellised: the newest Gaussian innovation (z(k-1), or h_init at
k = 0) enters h(k) only through the term sigma_k z with sigma_k = eta L(k-1, k-1) (sqrt(R) at
k = 0) and affects nothing earlier, so given the rest r(k) ~ N(rbar, Delta sigma_k^2) and
P(y phi(r(k)) > 0 | rest) has a closed form (``correct_probability``). The kernel outputs rbar
per node; ``_averaging.interpolated_accuracy`` averages that probability over the nodes.

Each kernel has a slow numpy twin in ``reference_step`` (used by the tests).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._loss import ACT_DOOR, activation, loss_terms


@numba.njit(cache=True)
def _normal_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@numba.njit(cache=True)
def correct_probability(act_code, L, y, rbar, sd):
    """P(y phi(r) > 0) for r ~ N(rbar, sd^2); the 0/1 indicator at rbar when sd = 0."""
    if sd <= 0.0:
        return 1.0 if y * activation(act_code, L, rbar)[0] > 0.0 else 0.0
    if y == 0.0:
        return 0.0
    if act_code == ACT_DOOR:
        outside = _normal_cdf((rbar - L) / sd) + _normal_cdf((-L - rbar) / sd)  # P(|r| > L)
        return outside if y > 0.0 else 1.0 - outside
    return _normal_cdf(y * rbar / sd)


@numba.njit(cache=True)
def correct_probability_array(act_code, L, y, rbar, sd):
    """``correct_probability`` elementwise over arrays y, rbar (a common sd)."""
    out = np.empty(rbar.size)
    for i in range(rbar.size):
        out[i] = correct_probability(act_code, L, y[i], rbar[i], sd)
    return out


@numba.njit(cache=True, parallel=True)
def interpolated_correct_probability(act_code, L, y, rbar, sd, basis):
    """Mean over the fine h0 grid of P(y phi(N(rbar(h0), sd^2)) > 0), rbar(h0) = basis @ rbar[c, :, p].

    y: (n_outer, n_inner); rbar: (n_outer, n_h0, n_inner); basis: (n_fine, n_h0). Returns
    (n_outer, n_inner) (see ``_averaging.interpolated_accuracy``).
    """
    n_outer, n_h0, n_inner = rbar.shape
    n_fine = basis.shape[0]
    out = np.empty((n_outer, n_inner))
    for cp in numba.prange(n_outer * n_inner):
        c, p = cp // n_inner, cp % n_inner
        total = 0.0
        for f in range(n_fine):
            r = 0.0
            for i in range(n_h0):
                r += basis[f, i] * rbar[c, i, p]
            total += correct_probability(act_code, L, y[c, p], r, sd)
        out[c, p] = total / n_fine
    return out


@numba.njit(cache=True, parallel=True)
def effective_step(
    k, loss_code, act_code, L, delta, eta, m_k, P_k, sqrt_R,
    R_T, noise_row, newest_sd, c, y, h0, h_init, innovations, s,
    xi, g, a, response, loss_out, rbar_out, with_response,
):
    """Advance every node to step k (see module docstring); fills xi[:, k-1], g[:, k], a[:, k],
    response[:, :k+1] = rho(k, .), the per-node loss and rbar = r(k) minus the newest
    innovation's term (the mean of r(k) given the rest, for the Rao-Blackwellised accuracy).

    ``R_T`` is the transposed response matrix of the weight side, R_T[l, j] = R(j, l), with rows
    j <= k filled. ``noise_row`` is B(k-1, :) (length innovations.shape[1]); ``newest_sd`` the
    standard deviation of r(k) carried by the newest innovation alone (see the module docstring),
    or 0 when no innovation enters only at step k (then rbar = r(k)).
    ``with_response`` False leaves the response to ``response_rows`` (blocked, BLAS).
    """
    n_nodes = c.size
    sqrt_delta = np.sqrt(delta)
    for n in numba.prange(n_nodes):
        if k >= 1:
            acc = 0.0
            for i in range(innovations.shape[1]):
                acc += noise_row[i] * innovations[n, i]
            xi[n, k - 1] = acc
        noise = 0.0
        feedback = 0.0
        for j in range(k):
            noise += R_T[j, k] * xi[n, j]
            feedback += R_T[j, k] * g[n, j]
        h = P_k * sqrt_R * h_init[n] + eta * noise - eta * sqrt_delta * feedback
        r = sqrt_delta * h + m_k * (c[n] + sqrt_delta * h0[n])
        value, d1, d2 = loss_terms(loss_code, act_code, L, y[n], r)
        g[n, k] = s[n, k] * d1
        a[n, k] = s[n, k] * d2
        loss_out[n] = value
        newest = 0.0
        if newest_sd > 0.0:
            newest = innovations[n, k - 1] if k >= 1 else h_init[n]
        rbar_out[n] = r - newest_sd * newest
        if not with_response:
            continue

        # Row k of rho = (I - T)^{-1}, T(j, l) = -eta Delta R(j, l) a(l), by backward substitution
        # x^T (I - T) = e_k^T:  x(k) = 1,  x(l) = -eta Delta a(l) sum_{j=l+1}^{k} x(j) R(j, l).
        # Same O(k^2) work as updating from stored rows, but it reads only R (shared by all
        # nodes, cache-resident) and this node's a: no O(N K^2) history, no memory traffic.
        response[n, k] = 1.0
        for l in range(k - 1, -1, -1):
            a_l = a[n, l]
            if a_l == 0.0:
                response[n, l] = 0.0
                continue
            acc = 0.0
            for j in range(l + 1, k + 1):
                acc += response[n, j] * R_T[l, j]
            response[n, l] = -eta * delta * a_l * acc


# Diagonal jitter of the causal Cholesky factor: row j factors M_C + D with
# D(j) = CHOLESKY_JITTER_ULPS * (j + 1) * eps * max_{i<=j} M_C(i, i)  (eps = 2.2e-16).
# Full-batch M_C is a Gram matrix of slowly varying gradients: numerically rank-deficient
# (eigenvalues down to the round-off level within ~30 steps). Cholesky without pivoting is not
# backward stable on a semidefinite matrix: measured on a three-cluster GD M_C (K = 80), the
# plain factor had rows with |L(j, .)|^2 = 1.6 M_C(j, j), i.e. xi 60% too loud, and the
# late-time DMFT curves drifted off. (Raising only the small pivots -- modified Cholesky -- was
# tried and is worse: the errors grew geometrically on a rank-1 M_C.) With a positive jitter
# above the O(j eps) backward error of row j the factor is exact to round-off: measured on that
# matrix and on synthetic Gram matrices (K = 120-1000), |L L^T - M_C - D| <= 5e-15 max M_C as
# soon as D(j) >~ j eps max M_C, and O(1) wrong ten times below. 100 ulps per row keeps a 100x
# margin; the extra white noise (relative variance 2e-14 j) is far below every error bar and
# below the 1e-10 of the exact Marchenko-Pastur property test.
CHOLESKY_JITTER_ULPS = 100.0


def cholesky_jitter(j: int, scale: float) -> float:
    """D(j) of the causal Cholesky factor (see CHOLESKY_JITTER_ULPS); scale = max_{i<=j} M(i, i)."""
    return CHOLESKY_JITTER_ULPS * (j + 1) * np.finfo(float).eps * scale


# From this step on the response rows are computed blocked (``response_rows``): per-node
# backward substitution is a chain of dot products at ~2 GFlop/s; in blocks most of the work is
# matrix products. Measured (N = 2048 nodes, same process): blocked/per-node time 1.3x at
# k = 200, 0.5x at k = 400, 0.15x at k = 2000 (benchmarks/response.py, benchmarks/scaling.py).
BLOCKED_RESPONSE_FROM = 256
RESPONSE_BLOCK = 64
# Row-space compression of the column blocks of R (``ResponseBlocks``): residual tolerance
# relative to the block's largest row, and the rank (fraction of the block) beyond which a block
# stays dense.
LOW_RANK_BLOCKS = True  # False: every block dense (a benchmark baseline)
LOW_RANK_TOL = 1e-14
LOW_RANK_MAX_FRACTION = 0.5


class ResponseBlocks:
    r"""Column blocks [c B, (c+1) B) of the weight response R, each with a basis of its row space.

    The response row of a node couples column l to the later columns through R(j, l), j > l. For
    the block of columns [b0, b1) and rows j >= b1 (the coupling ``response_rows`` does with a
    matrix product), R(j, b0:b1) = coef(j) W^T with W an orthonormal (B x r) basis built
    incrementally: every new row of R is projected on W and its residual, if larger than
    LOW_RANK_TOL times the block's largest row, becomes a new basis vector. Under full-batch GD
    R is smooth and r is ~6-10 at 1e-14 for B = 64 (measured on Fig. 1 settings, K = 500), so
    the coupling costs N (k - b1) r + N r B instead of N (k - b1) B. Blocks whose rank exceeds
    LOW_RANK_MAX_FRACTION * B (Persistent-SGD: R carries the sharp selection correlations, rank ~B) are used
    dense. The representation error is <= LOW_RANK_TOL relative per row, round-off level.
    """

    def __init__(self, K: int, block: int, dense: bool = False):
        """``dense``: keep every block dense (the baseline of benchmarks/response.py)."""
        self.K, self.block, self.dense = K, block, dense
        self.tol = LOW_RANK_TOL
        self.max_rank = max(1, int(LOW_RANK_MAX_FRACTION * block))
        n_blocks = K // block + 1
        self.n_closed = 0  # blocks c with (c + 1) B <= k: the ones with rows j >= b1 so far
        # Block c: orthonormal basis bases[c, :, :rank[c]], row coefficients coef[c, j, :rank[c]]
        # for j >= b1, rank -1 when dense; stacked arrays, as the fused kernel reads them.
        self.bases = np.zeros((n_blocks, block, self.max_rank))
        self.coef = np.zeros((n_blocks, K + 1, self.max_rank))
        self.rank = np.zeros(n_blocks, dtype=np.int64)
        self.row_scale = np.zeros(n_blocks)  # largest row norm seen in the block

    def add_row(self, R: np.ndarray, k: int) -> None:
        """Take row k of R (final once the weight side has advanced to step k)."""
        B = self.block
        while (self.n_closed + 1) * B <= k:  # block c closes when k reaches its end (c+1) B
            self.rank[self.n_closed] = -1 if self.dense else 0
            self.n_closed += 1
        for c in range(self.n_closed):
            r = self.rank[c]
            if r < 0:
                continue
            W = self.bases[c]
            row = R[k, c * B : (c + 1) * B]
            self.row_scale[c] = max(self.row_scale[c], float(np.linalg.norm(row)))
            coef = W[:, :r].T @ row
            residual = row - W[:, :r] @ coef
            correction = W[:, :r].T @ residual  # second Gram-Schmidt pass
            coef += correction
            residual -= W[:, :r] @ correction
            norm = float(np.linalg.norm(residual))
            if norm > self.tol * self.row_scale[c]:
                if r == self.max_rank:
                    self.rank[c] = -1  # not compressible: stays dense
                    continue
                W[:, r] = residual / norm
                self.coef[c, k, r] = norm
                self.rank[c] = r + 1
            self.coef[c, k, :r] = coef

    @property
    def all_low_rank(self) -> bool:
        return bool(np.all(self.rank[: self.n_closed] >= 0))

    def coupling(self, c: int, response: np.ndarray, R: np.ndarray, k: int) -> np.ndarray:
        """sum_{j = b1}^{k} response[:, j] R(j, b0:b1) for block c = [b0, b1)."""
        B = self.block
        b0, b1 = c * B, (c + 1) * B
        r = self.rank[c]
        if r < 0:
            return response[:, b1 : k + 1] @ R[b1 : k + 1, b0:b1]
        return (response[:, b1 : k + 1] @ self.coef[c, b1 : k + 1, :r]) @ self.bases[c, :, :r].T


@numba.njit(cache=True, parallel=True)
def _response_block(response, a, R_T, acc, b0, b1, j_end, scale):
    """Columns l = b1-1..b0 of every node's response row, given acc[:, l - b0] =
    sum_{j >= j_end} response[:, j] R(j, l) (the part from later blocks; None-equivalent zeros
    for the top block, whose j_end is k + 1)."""
    for n in numba.prange(response.shape[0]):
        for l in range(b1 - 1, b0 - 1, -1):
            a_l = a[n, l]
            if a_l == 0.0:
                response[n, l] = 0.0
                continue
            total = acc[n, l - b0]
            for j in range(l + 1, j_end):
                total += response[n, j] * R_T[l, j]
            response[n, l] = scale * a_l * total


@numba.njit(cache=True, parallel=True)
def _response_low_rank(k, a, R, bases, coef, rank, block, scale, response):
    """rho(k, .) of every node, all full blocks low-rank (``ResponseBlocks``): per node, the top
    block and then each full block from the right; the far-field coupling of block c is
    sum_q W_c(l, q) sum_{j >= b1} rho(k, j) coef_c(j, q), the near field a right-looking
    triangular solve. One parallel region; each node's row stays in cache."""
    top = (k // block) * block
    for n in numba.prange(response.shape[0]):
        acc = np.zeros(block)
        far = np.zeros(bases.shape[2])
        response[n, k] = 1.0
        for l in range(top, k):
            acc[l - top] = R[k, l]
        for c in range(top // block, -1, -1):
            b0 = c * block
            b1 = k if c == top // block else b0 + block
            if c < top // block:
                r = rank[c]
                for q in range(r):
                    far[q] = 0.0
                for j in range(b0 + block, k + 1):
                    x = response[n, j]
                    if x != 0.0:
                        for q in range(r):
                            far[q] += x * coef[c, j, q]
                for i in range(block):
                    total = 0.0
                    for q in range(r):
                        total += bases[c, i, q] * far[q]
                    acc[i] = total
            for l in range(b1 - 1, b0 - 1, -1):
                x = scale * a[n, l] * acc[l - b0]
                response[n, l] = x
                if x != 0.0:
                    for m in range(b0, l):
                        acc[m - b0] += x * R[l, m]


def response_rows(k, eta, delta, R, R_T, a, response, blocks: ResponseBlocks):
    """rho(k, .) of every node by blocked backward substitution (same equations as the per-node
    loop in ``effective_step``). Columns go in the fixed blocks of ``blocks`` from the right: the
    top (partial) block [floor(k/B) B, k) alone, then each full block with its coupling to the
    later columns as matrix products (``ResponseBlocks.coupling``, low-rank where possible). When
    every full block is low-rank, the fused per-node kernel ``_response_low_rank`` does it all."""
    if blocks.all_low_rank:
        _response_low_rank(k, a, R, blocks.bases, blocks.coef, blocks.rank, blocks.block,
                           -eta * delta, response)
        return
    response[:, k] = 1.0
    B = blocks.block
    top = (k // B) * B
    if top < k:
        _response_block(response, a, R_T, np.zeros((response.shape[0], k - top)), top, k, k + 1,
                        -eta * delta)
    for c in range(top // B - 1, -1, -1):
        acc = blocks.coupling(c, response, R, k)
        _response_block(response, a, R_T, acc, c * B, (c + 1) * B, (c + 1) * B, -eta * delta)


@numba.njit(cache=True)
def cholesky_append_row(chol, M, j, jitter):
    """Fill row j of the lower Cholesky factor ``chol`` of M + D (rows < j done), D(j) = ``jitter``.

    With jitter = 0 (only when M(i, i) = 0 for every i <= j: vanishing gradients) a pivot <= 0
    gives a zero column.
    """
    for i in range(j):
        acc = M[j, i]
        for l in range(i):
            acc -= chol[j, l] * chol[i, l]
        chol[j, i] = acc / chol[i, i] if chol[i, i] > 0.0 else 0.0
    pivot = M[j, j] + jitter
    for l in range(j):
        pivot -= chol[j, l] * chol[j, l]
    chol[j, j] = np.sqrt(pivot) if pivot > 0.0 else 0.0


def reference_step(k, loss, mixture, delta, eta, m_k, P_k, sqrt_R, R_row, noise_row, newest_sd,
                   nodes, xi, g, a, rho_rows):
    """Slow numpy twin of ``effective_step`` (rho kept as a list of (N, k+1) arrays); returns the
    per-node loss and rbar."""
    sqrt_delta = np.sqrt(delta)
    if k >= 1:
        xi[:, k - 1] = nodes.innovations @ noise_row
    h = (P_k * sqrt_R * nodes.h_init + eta * xi[:, :k] @ R_row[:k]
         - eta * sqrt_delta * g[:, :k] @ R_row[:k])
    r = sqrt_delta * h + m_k * (nodes.c + sqrt_delta * nodes.h0)
    value, d1, d2 = loss.terms(nodes.y, r, activation_code=mixture.activation_code, L=mixture.L)
    g[:, k] = nodes.s[:, k] * d1
    a[:, k] = nodes.s[:, k] * d2
    row = np.zeros((r.size, k + 1))
    row[:, k] = 1.0
    for j in range(k):
        coef = -eta * delta * R_row[j] * a[:, j]
        row[:, : j + 1] += coef[:, None] * rho_rows[j]
    rho_rows.append(row)
    newest = (nodes.innovations[:, k - 1] if k >= 1 else nodes.h_init) if newest_sd > 0 else 0.0
    return value, r - newest_sd * newest
