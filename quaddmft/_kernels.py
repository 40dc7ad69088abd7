r"""Numba kernels: the hot loops of the causal sweep, each with a slow numpy twin for the tests.

At step k, for each node n (THEORY section 3, docs/theory.md eqs. 3.1-3.4):

    xi(k-1)  = sum_i B(k-1, i) z(i)      (B: the causal Cholesky factor of M_C)
    htilde(k) = P(k) sqrt(R) h_init + eta sum_{j<k} R(k, j) xi(j)
                (or given: htilde(k) = U(k, .) zeta on the KL modes U of C_perp, ``htilde_given``)
    h(k)     = htilde(k) - eta sqrt(Delta) sum_{j<k} R(k, j) s(j) Lambda'(y, r(j))
    r(k)     = sqrt(Delta) h(k) + m(k) (c + sqrt(Delta) h0)
    rho(k,k) = 1,  rho(k, l) = -eta Delta sum_{j=l}^{k-1} R(k, j) s(j) Lambda''(y, r(j)) rho(j, l)

Per-node products are stored so that the kernel rows are weighted matrix-vector products done by
the caller with BLAS: grad(k) = s(k) Lambda'(r(k)), curv(k) = s(k) Lambda''(r(k)), rho(k, .).

The response row rho(k, .) of each node is computed afresh at every step by backward
substitution in rho = (I - T)^{-1} (see ``effective_step``), so only one row per node is stored:
O(N K) memory instead of the O(N K^2) history the forward recursion would need.

Training accuracy is Rao-Blackwellised: the newest Gaussian innovation (z(k-1), or h_init at
k = 0) enters h(k) only through the term sigma_k z with sigma_k = eta L(k-1, k-1) (sqrt(R) at
k = 0) and affects nothing earlier, so given the rest r(k) ~ N(rbar, Delta sigma_k^2) and
P(y phi(r(k)) > 0 | rest) has a closed form (``correct_probability``). The kernel outputs rbar
per node; ``_observables.interpolated_accuracy`` averages that probability over the nodes.

Arguments travel in a few small records (``StepModel``, ``StepState``, ``NodeArrays``,
``SweepBuffers``: NamedTuples, which numba compiles as typed tuples). A kernel unpacks the
arrays of a record before its parallel loop: numba (0.68) loses the writes made through a
record's attribute inside ``prange``.

Numpy twins (bottom of the file): ``reference_step`` (``effective_step``),
``correct_probability_reference`` (``correct_probability``),
``grouped_correct_probability_reference`` (``grouped_correct_probability``),
``interpolated_correct_probability_reference``, ``cholesky_reference``
(``cholesky_append_row``) and ``response_row_reference`` (the blocked response kernels).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from scipy.special import ndtr

from ._loss import ACT_DOOR, activation, loss_terms

__all__ = [
    "StepModel", "StepState", "NodeArrays", "SweepBuffers", "effective_step",
    "correct_probability", "correct_probability_array", "interpolated_correct_probability",
    "fine_grid_probability", "banded_fine_probability", "chunk_drift",
    "grouped_correct_probability", "grouped_correct_probability_reference",
    "cholesky_append_row", "cholesky_jitter", "response_block_kernel", "response_low_rank_kernel",
    "reference_step", "correct_probability_reference", "interpolated_correct_probability_reference",
    "cholesky_reference", "response_row_reference",
]


class StepModel(NamedTuple):
    """Constants of a solve: loss and activation codes (``_loss``), door half-width L, Delta, eta,
    and whether the nodes carry htilde itself (``htilde_given``: ``innovations[n, k]`` is
    htilde(k), KL coordinates already mapped) instead of the innovations of xi."""

    loss_code: int
    activation_code: int
    L: float
    delta: float
    eta: float
    htilde_given: bool = False


class StepState(NamedTuple):
    """The weight side at step k: m(k), P(k), sqrt(R), and the sd of r(k) carried by the newest
    innovation alone (0 when none enters only at step k)."""

    m: float
    P: float
    sqrt_R: float
    newest_sd: float


class NodeArrays(NamedTuple):
    """The node coordinates (``rules.NodeSet``): c, y, h0, h_init (N,); innovations (N, n_cols);
    s (N, K+1)."""

    c: np.ndarray
    y: np.ndarray
    h0: np.ndarray
    h_init: np.ndarray
    innovations: np.ndarray
    s: np.ndarray


class SweepBuffers(NamedTuple):
    """Per-node state of a sweep: xi (N, K), grad and curv (N, K+1) = s Lambda' and s Lambda'',
    response (N, K+1) = rho(k, .), this step's loss, rbar, Lambda', Lambda'' and selection
    feedback F(k) = sum_{j<k} R(k, j) grad(j) (N,); and the active steps of each node, the l
    with curv(l) != 0 in ascending order, ``active[n, :n_active[n]]`` ((N, K+1) and (N,) int64),
    collected from the steps l < ``scanned[n]`` ((N,) int64; curv(l) is final once step l is
    done, so each step adds only its predecessor)."""

    xi: np.ndarray
    grad: np.ndarray
    curv: np.ndarray
    response: np.ndarray
    loss: np.ndarray
    rbar: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    feedback: np.ndarray
    active: np.ndarray
    n_active: np.ndarray
    scanned: np.ndarray

    @classmethod
    def zeros(cls, N: int, K: int) -> "SweepBuffers":
        return cls(np.zeros((N, max(K, 1))), np.zeros((N, K + 1)), np.zeros((N, K + 1)),
                   np.zeros((N, K + 1)), np.empty(N), np.empty(N), np.empty(N), np.empty(N),
                   np.empty(N), np.zeros((N, K + 1), dtype=np.int64), np.zeros(N, dtype=np.int64),
                   np.zeros(N, dtype=np.int64))


# Beyond |x| = 8.5 the normal CDF is 1 to double precision (1 - 9.5e-18 rounds to 1.0) or below
# 9.5e-18: saturating there skips erfc (~25 ns) for most fine-grid points of the accuracy, whose
# r(h0) lies many sd from 0 once m has grown (measured 1.65x on the accuracy of Persistent-SGD).
CDF_SATURATION = 8.5


@numba.njit(cache=True)
def _normal_cdf(x):
    if x > CDF_SATURATION:
        return 1.0
    if x < -CDF_SATURATION:
        return 0.0
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
    # Only the sign of y matters (regression labels of teacher-student data are real).
    return _normal_cdf(rbar / sd) if y > 0.0 else _normal_cdf(-rbar / sd)


@numba.njit(cache=True)
def correct_probability_array(act_code, L, y, rbar, sd):
    """``correct_probability`` elementwise over arrays y, rbar (a common sd)."""
    out = np.empty(rbar.size)
    for i in range(rbar.size):
        out[i] = correct_probability(act_code, L, y[i], rbar[i], sd)
    return out


# Inner points per block of ``interpolated_correct_probability``: bounds its temporary r(h0_f)
# to FINE_BLOCK x n_fine doubles (16 MiB with the 512-point fine grid).
FINE_BLOCK = 4096
# Fine points per chunk of ``banded_fine_probability``, and the band, in sd, outside which a
# chunk counts as saturated: beyond CDF_SATURATION, widened so that the rounding of r / sd cannot
# bring a point of a saturated chunk back inside.
FINE_CHUNK = 16
FINE_BAND = CDF_SATURATION + 0.1


def interpolated_correct_probability(act_code, L, y, rbar, sd, basis):
    """Mean over the fine h0 grid of P(y phi(N(rbar(h0), sd^2)) > 0), rbar(h0) = basis @ rbar[c, :, p].

    y: (n_outer, n_inner); rbar: (n_outer, n_h0, n_inner); basis: (n_fine, n_h0). Returns
    (n_outer, n_inner) (see ``_observables.interpolated_accuracy``). The linear activation with
    sd > 0 goes to ``banded_fine_probability``; otherwise the interpolation to the fine grid is
    one BLAS product per block of inner points (2.6x faster than per-point loops, measured with
    the saturated CDF) and the probabilities are summed by ``fine_grid_probability``.
    """
    n_outer, n_h0, n_inner = rbar.shape
    basis = np.ascontiguousarray(np.asarray(basis, dtype=float))
    if act_code != ACT_DOOR and sd > 0.0:
        return banded_fine_probability(y, rbar, sd, basis, chunk_drift(basis))
    out = np.empty((n_outer, n_inner))
    basis_T = np.ascontiguousarray(basis.T)
    for c in range(n_outer):
        for lo in range(0, n_inner, FINE_BLOCK):
            hi = min(lo + FINE_BLOCK, n_inner)
            r_fine = np.ascontiguousarray(rbar[c, :, lo:hi].T) @ basis_T  # (block, n_fine)
            out[c, lo:hi] = fine_grid_probability(act_code, L, np.ascontiguousarray(y[c, lo:hi]),
                                                  r_fine, sd)
    return out


def chunk_drift(basis: np.ndarray) -> np.ndarray:
    """D[ch, i] = max over the fine points f of chunk ch of |basis[f, i] - basis[f0, i]|, f0 the
    chunk's first point: |r(f) - r(f0)| <= sum_i D[ch, i] |rbar_i| for r = basis @ rbar."""
    n_fine, n_h0 = basis.shape
    n_chunks = -(-n_fine // FINE_CHUNK)
    # The last chunk padded with copies of the last point: they change none of its maxima.
    padded = np.concatenate([basis, np.repeat(basis[-1:], n_chunks * FINE_CHUNK - n_fine, axis=0)])
    chunks = padded.reshape(n_chunks, FINE_CHUNK, n_h0)
    return np.abs(chunks - chunks[:, :1]).max(axis=1)


@numba.njit(cache=True, parallel=True)
def banded_fine_probability(y, rbar, sd, basis, drift):
    """``interpolated_correct_probability`` for the linear activation and sd > 0.

    Once m has grown, r(h0) lies more than CDF_SATURATION sd from 0 on most of the fine grid
    (measured, Persistent-SGD b = 0.3: on 88-99% of it after the first step), where
    P = Phi(y r / sd) is exactly 0 or 1. Per chunk of FINE_CHUNK fine points, r at its first
    point and the bound ``drift`` on how far r moves within it (``chunk_drift``) decide whether
    every point is beyond FINE_BAND sd on one side: then the chunk adds its count or nothing,
    the terms the CDF would give; otherwise r and the CDF are evaluated point by point. The
    same terms as ``fine_grid_probability`` (r by per-point sums instead of BLAS): round-off
    only."""
    n_outer, n_h0, n_inner = rbar.shape
    n_fine = basis.shape[0]
    out = np.empty((n_outer, n_inner))
    band = FINE_BAND * sd
    for cp in numba.prange(n_outer * n_inner):
        c, p = cp // n_inner, cp % n_inner
        if y[c, p] == 0.0:
            out[c, p] = 0.0
            continue
        sign = 1.0 if y[c, p] > 0.0 else -1.0
        v = np.empty(n_h0)
        for i in range(n_h0):
            v[i] = rbar[c, i, p]
        total = 0.0
        for ch in range(drift.shape[0]):
            lo = ch * FINE_CHUNK
            hi = min(lo + FINE_CHUNK, n_fine)
            r0 = 0.0
            bound = 0.0
            for i in range(n_h0):
                r0 += basis[lo, i] * v[i]
                bound += drift[ch, i] * abs(v[i])
            if abs(r0) - bound > band:
                if sign * r0 > 0.0:
                    total += hi - lo
            else:
                for f in range(lo, hi):
                    r = 0.0
                    for i in range(n_h0):
                        r += basis[f, i] * v[i]
                    total += _normal_cdf(sign * r / sd)
        out[c, p] = total / n_fine
    return out


@numba.njit(cache=True, parallel=True)
def fine_grid_probability(act_code, L, y, r_fine, sd):
    """Per point p: the mean over f of P(y[p] phi(N(r_fine[p, f], sd^2)) > 0)."""
    n, n_fine = r_fine.shape
    out = np.empty(n)
    for p in numba.prange(n):
        total = 0.0
        for f in range(n_fine):
            total += correct_probability(act_code, L, y[p], r_fine[p, f], sd)
        out[p] = total / n_fine
    return out


@numba.njit(cache=True, parallel=True)
def grouped_correct_probability(act_code, L, y_fine, rbar, sd, basis, weight):
    """Per label group g and inner point p: sum_f weight[g, f] P(y_fine[g, f] phi(N(r_f, sd^2)) > 0),
    r_f = basis[g, f] @ rbar[g, :, p] (each group's h0 nodes interpolated to its own fine grid).

    y_fine, weight: (G, F) (weights of a group sum to 1); rbar: (G, n_h0, n_inner); basis:
    (G, F, n_h0). Returns (G, n_inner) (see ``_observables.interpolated_accuracy``).
    """
    G, n_h0, n_inner = rbar.shape
    F = basis.shape[1]
    out = np.empty((G, n_inner))
    for gp in numba.prange(G * n_inner):
        g, p = gp // n_inner, gp % n_inner
        total = 0.0
        for f in range(F):
            r = 0.0
            for i in range(n_h0):
                r += basis[g, f, i] * rbar[g, i, p]
            total += weight[g, f] * correct_probability(act_code, L, y_fine[g, f], r, sd)
        out[g, p] = total
    return out


@numba.njit(cache=True, inline="always")
def _collect_active(n, k, curv, active, n_active, scanned):
    """Append to node n's active steps (``SweepBuffers``) the l in [scanned[n], k) with
    curv(l) != 0; returns how many it has."""
    count = n_active[n]
    for l in range(scanned[n], k):
        if curv[n, l] != 0.0:
            active[n, count] = l
            count += 1
    n_active[n] = count
    scanned[n] = k
    return count


@numba.njit(cache=True, inline="always")
def _response_row(n, k, R, curv, response, active, n_active, scale):
    """Row k of node n's response rho = (I - T)^{-1}, T(j, l) = -eta Delta R(j, l) curv(l)
    (``scale`` = -eta Delta), by backward substitution x^T (I - T) = e_k^T:  x(k) = 1,
    x(l) = scale curv(l) acc(l),  acc(l) = sum_{j=l+1}^{k} x(j) R(j, l).

    Same O(k^2) work as updating from stored rows, but it reads only R (shared by all nodes,
    cache-resident) and this node's curv: no O(N K^2) history. Right-looking, in the row
    itself: acc starts as R(k, .), and each x(l), once known, adds x(l) R(l, :l) to the entries
    left of it. x(l) = 0 wherever curv(l) = 0 (an unselected step: most of them for b < 1), so
    only the ``n_active`` active steps are visited and the inactive entries are zeroed at the
    end. Every pass over the row is a contiguous loop that numba vectorises; the left-looking
    form (a scalar gather of x(j) R(j, l) over the active j > l for each l) was measured 1.37x
    slower at b = 0.3 (Persistent-SGD, 65536 nodes, K = 100, one thread; benchmarks/response.py):
    scalar loop steps cost ~5-10 ns each here, ten times a vectorised one."""
    for l in range(k):
        response[n, l] = R[k, l]
    response[n, k] = 1.0
    a = n_active - 1
    while a >= 0:  # the active steps, descending (numba's range(.., -1, -1) is slower)
        l = active[n, a]
        x = scale * curv[n, l] * response[n, l]
        response[n, l] = x
        for m in range(l):
            response[n, m] += x * R[l, m]
        a -= 1
    for l in range(k):
        response[n, l] = 0.0 if curv[n, l] == 0.0 else response[n, l]


@numba.njit(cache=True, parallel=True)
def effective_step(k, model, state, R, noise_row, nodes, buffers, with_response):
    """Advance every node to step k (see module docstring); fills xi[:, k-1], grad[:, k],
    curv[:, k], response[:, :k+1] = rho(k, .), the per-node loss, Lambda', Lambda'', the
    selection feedback F(k) and rbar = r(k) minus the newest innovation's term (the mean of r(k)
    given the rest, for the Rao-Blackwellised accuracy).

    ``model``: StepModel; ``state``: StepState at step k; ``nodes``: NodeArrays; ``buffers``:
    SweepBuffers. ``R`` is the response matrix of the weight side, rows j <= k filled (only
    those are read). ``noise_row`` is B(k-1, :) (length innovations.shape[1]; its entries from
    k on, zero in a Cholesky row, are not read).
    ``with_response`` False leaves the response to ``_response.response_rows`` (blocked, BLAS).
    """
    loss_code, act_code, L, delta, eta, htilde_given = model
    m_k, P_k, sqrt_R, newest_sd = state
    c, y, h0, h_init, innovations, s = nodes
    (xi, grad, curv, response, loss_out, rbar_out, d1_out, d2_out, feedback_out, active,
     n_active_out, scanned) = buffers
    n_nodes = c.size
    sqrt_delta = np.sqrt(delta)
    for n in numba.prange(n_nodes):
        feedback = 0.0
        if htilde_given:
            for j in range(k):
                feedback += R[k, j] * grad[n, j]
            h = innovations[n, k] - eta * sqrt_delta * feedback
        else:
            if k >= 1:
                acc = 0.0
                # B(k-1, i) = 0 for i >= k (a Cholesky row): skipping those exact zeros reads
                # half the innovations on average, for the same sum.
                for i in range(min(k, innovations.shape[1])):
                    acc += noise_row[i] * innovations[n, i]
                xi[n, k - 1] = acc
            noise = 0.0
            for j in range(k):
                noise += R[k, j] * xi[n, j]
                feedback += R[k, j] * grad[n, j]
            h = P_k * sqrt_R * h_init[n] + eta * noise - eta * sqrt_delta * feedback
        feedback_out[n] = feedback
        r = sqrt_delta * h + m_k * (c[n] + sqrt_delta * h0[n])
        value, d1, d2 = loss_terms(loss_code, act_code, L, y[n], r)
        grad[n, k] = s[n, k] * d1
        curv[n, k] = s[n, k] * d2
        d1_out[n] = d1
        d2_out[n] = d2
        loss_out[n] = value
        newest = 0.0
        if newest_sd > 0.0 and not htilde_given:
            newest = innovations[n, k - 1] if k >= 1 else h_init[n]
        rbar_out[n] = r - newest_sd * newest

        # The active steps l < k, kept across steps and brought up to date from ``scanned``
        # on (curv(l) is final once step l is done), so the list is right whichever steps
        # came before: per node, blocked, or none (a single call, as in the tests).
        n_active = _collect_active(n, k, curv, active, n_active_out, scanned)
        if with_response:
            _response_row(n, k, R, curv, response, active, n_active, -eta * delta)


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


@numba.njit(cache=True)
def cholesky_append_row(chol, M, j, jitter):
    """Fill row j of the lower Cholesky factor ``chol`` of M + D (rows < j done), D(j) = ``jitter``.

    With jitter = 0 (only when M(i, i) = 0 for every i <= j: vanishing gradients) a pivot <= 0
    gives a zero column. Returns the pivot (its square root is the diagonal entry): negative
    beyond round-off when M is not positive semi-definite (``_causal.CausalCholesky`` checks).
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
    return pivot


@numba.njit(cache=True, parallel=True)
def response_block_kernel(response, curv, R_T, acc, b0, b1, j_end, scale):
    """Columns l = b1-1..b0 of every node's response row, given acc[:, l - b0] =
    sum_{j >= j_end} response[:, j] R(j, l) (the part from later blocks; zeros for the top
    block, whose j_end is k + 1)."""
    for n in numba.prange(response.shape[0]):
        for l in range(b1 - 1, b0 - 1, -1):
            curv_l = curv[n, l]
            if curv_l == 0.0:
                response[n, l] = 0.0
                continue
            total = acc[n, l - b0]
            for j in range(l + 1, j_end):
                total += response[n, j] * R_T[l, j]
            response[n, l] = scale * curv_l * total


# Nodes per tile of ``response_low_rank_kernel``: the tile's nodes run in lockstep with the node as
# the innermost (SIMD) index; 4 doubles fill a 256-bit vector (the helpers are written for 4
# lanes). Measured 1.4-2.2x faster than one
# node at a time at k = 100-500 (2520 nodes, Fig. 1 GD R); 8 was slower.
RESPONSE_TILE = 4


@numba.njit(cache=True, parallel=True)
def response_low_rank_kernel(k, curv, R, bases, coef, rank, block, scale, response):
    """rho(k, .) of every node, all full blocks low-rank (``_response.ResponseBlocks``): per node,
    the top block and then each full block from the right; the far-field coupling of block ib is
    sum_q W_ib(l, q) sum_{j >= b1} rho(k, j) coef_ib(j, q), the near field a right-looking
    triangular solve. The nodes go in tiles of RESPONSE_TILE, in lockstep (the node index
    innermost, vectorised); each node's sums are those of a node on its own, in the same order,
    so the result does not depend on the tiling, bit for bit. One parallel region; a tile's rows
    stay in cache."""
    T = RESPONSE_TILE
    top = (k // block) * block
    N = response.shape[0]
    for tile in numba.prange((N + T - 1) // T):
        n0 = tile * T
        size = min(T, N - n0)
        # A short last tile repeats its last node; the copies are not written back.
        cv = np.empty((k + 1, T))
        for t in range(T):
            n = n0 + min(t, size - 1)
            for l in range(k):
                cv[l, t] = scale * curv[n, l]
        rows = np.zeros((k + 1, T))
        acc = np.zeros((block, T))
        far = np.zeros((bases.shape[2], T))
        for t in range(T):
            rows[k, t] = 1.0
            for l in range(top, k):
                acc[l - top, t] = R[k, l]
        for ib in range(top // block, -1, -1):
            b0 = ib * block
            b1 = k if ib == top // block else b0 + block
            if ib < top // block:
                _tile_product(coef[ib], rows, b0 + block, k + 1, rank[ib], far)  # far field
                _tile_product(bases[ib].T, far, 0, rank[ib], block, acc)  # its expansion
            _tile_near_field(rows, acc, cv, R, b0, b1)
        for t in range(size):
            for l in range(k + 1):
                response[n0 + t, l] = rows[l, t]


@numba.njit(cache=True, inline="always")
def _tile_product(mat, x, lo, hi, n_out, out):
    """out[o, t] = sum_{s = lo}^{hi - 1} mat[s, o] x[s, t] for o < n_out, ascending s; two o at a
    time (the accumulators stay in registers). The far field: mat = coef (rows j), x = the
    tile's rows; the expansion: mat = basis^T (rows q), x = far."""
    for o in range(0, n_out - 1, 2):
        p0 = p1 = p2 = p3 = s0 = s1 = s2 = s3 = 0.0
        for j in range(lo, hi):
            c, d = mat[j, o], mat[j, o + 1]
            x0, x1, x2, x3 = x[j, 0], x[j, 1], x[j, 2], x[j, 3]
            p0 += x0 * c; p1 += x1 * c; p2 += x2 * c; p3 += x3 * c  # noqa: E702
            s0 += x0 * d; s1 += x1 * d; s2 += x2 * d; s3 += x3 * d  # noqa: E702
        out[o, 0], out[o, 1], out[o, 2], out[o, 3] = p0, p1, p2, p3
        out[o + 1, 0], out[o + 1, 1], out[o + 1, 2], out[o + 1, 3] = s0, s1, s2, s3
    if n_out % 2:
        for t in range(RESPONSE_TILE):
            out[n_out - 1, t] = 0.0
        for j in range(lo, hi):
            for t in range(RESPONSE_TILE):
                out[n_out - 1, t] += x[j, t] * mat[j, n_out - 1]


@numba.njit(cache=True, inline="always")
def _tile_near_field(rows, acc, cv, R, b0, b1):
    """rows[l, t] = cv[l, t] acc[l - b0, t] for l = b1-1 down to b0, each followed by
    acc[m - b0, t] += rows[l, t] R(l, m), m < l; two l per pass over acc, each acc entry
    receiving the same additions in the same order as one l at a time."""
    T = RESPONSE_TILE
    x = np.empty(T)
    y = np.empty(T)
    l = b1 - 1
    while l > b0:
        for t in range(T):
            x[t] = cv[l, t] * acc[l - b0, t]
            rows[l, t] = x[t]
            acc[l - 1 - b0, t] += x[t] * R[l, l - 1]
            y[t] = cv[l - 1, t] * acc[l - 1 - b0, t]
            rows[l - 1, t] = y[t]
        for m in range(b0, l - 1):
            a, c = R[l, m], R[l - 1, m]
            for t in range(T):
                acc[m - b0, t] = (acc[m - b0, t] + x[t] * a) + y[t] * c
        l -= 2
    if l == b0:
        for t in range(T):
            rows[l, t] = cv[l, t] * acc[0, t]


# ----------------------------------------------------------------------------- numpy twins


def reference_step(k, loss, mixture, model, state, R_row, noise_row, nodes, buffers, rho_rows):
    """Slow numpy twin of ``effective_step``: rho kept as a list of (N, k+1) arrays (row k
    appended); ``nodes`` has the fields of ``NodeArrays`` (with ``model.htilde_given``,
    ``nodes.innovations[:, k]`` is htilde(k)). Returns the per-node loss and rbar."""
    _, _, _, delta, eta, htilde_given = model
    m_k, P_k, sqrt_R, newest_sd = state
    xi, grad, curv = buffers.xi, buffers.grad, buffers.curv
    sqrt_delta = np.sqrt(delta)
    feedback = grad[:, :k] @ R_row[:k]
    buffers.feedback[:] = feedback
    if htilde_given:
        h = nodes.innovations[:, k] - eta * sqrt_delta * feedback
    else:
        if k >= 1:
            xi[:, k - 1] = nodes.innovations @ noise_row
        h = P_k * sqrt_R * nodes.h_init + eta * xi[:, :k] @ R_row[:k] - eta * sqrt_delta * feedback
    r = sqrt_delta * h + m_k * (nodes.c + sqrt_delta * nodes.h0)
    value, d1, d2 = loss.terms(nodes.y, r, activation_code=mixture.activation_code, L=mixture.L)
    grad[:, k] = nodes.s[:, k] * d1
    curv[:, k] = nodes.s[:, k] * d2
    buffers.d1[:] = d1
    buffers.d2[:] = d2
    row = np.zeros((r.size, k + 1))
    row[:, k] = 1.0
    for j in range(k):
        coef = -eta * delta * R_row[j] * curv[:, j]
        row[:, : j + 1] += coef[:, None] * rho_rows[j]
    rho_rows.append(row)
    newest = 0.0
    if newest_sd > 0 and not htilde_given:
        newest = nodes.innovations[:, k - 1] if k >= 1 else nodes.h_init
    return value, r - newest_sd * newest


def correct_probability_reference(act_code, L, y, rbar, sd):
    """Numpy twin of ``correct_probability`` (arrays y, rbar; a common sd)."""
    y, rbar = np.broadcast_arrays(np.asarray(y, float), np.asarray(rbar, float))
    if sd <= 0.0:
        phi = rbar * rbar - L * L if act_code == ACT_DOOR else rbar
        return (y * phi > 0.0).astype(float)
    if act_code == ACT_DOOR:
        outside = ndtr((rbar - L) / sd) + ndtr((-L - rbar) / sd)
        return np.where(y > 0.0, outside, np.where(y < 0.0, 1.0 - outside, 0.0))
    return np.where(y == 0.0, 0.0, ndtr(np.sign(y) * rbar / sd))


def grouped_correct_probability_reference(act_code, L, y_fine, rbar, sd, basis, weight):
    """Numpy twin of ``grouped_correct_probability``."""
    r = np.einsum("gfi,gip->gfp", basis, rbar)
    prob = correct_probability_reference(act_code, L, y_fine[:, :, None], r, sd)
    return np.einsum("gf,gfp->gp", weight, prob)


def interpolated_correct_probability_reference(act_code, L, y, rbar, sd, basis):
    """Numpy twin of ``interpolated_correct_probability``."""
    r = np.einsum("fi,cip->cfp", basis, rbar)
    return correct_probability_reference(act_code, L, y[:, None, :], r, sd).mean(axis=1)


def cholesky_reference(M, jitter):
    """Numpy twin of the causal factor built row by row by ``cholesky_append_row``: the lower
    Cholesky factor of M + diag(jitter) (positive definite)."""
    return np.linalg.cholesky(M + np.diag(jitter))


def response_row_reference(k, eta, delta, R, curv):
    """Numpy twin of the response kernels: rho(k, .) of every node by the forward recursion of
    the module docstring, rho(j, l) for all j <= k (O(N k^2) memory)."""
    N = curv.shape[0]
    rows = []
    for j in range(k + 1):
        row = np.zeros((N, j + 1))
        row[:, j] = 1.0
        for i in range(j):
            row[:, : i + 1] += (-eta * delta * R[j, i] * curv[:, i])[:, None] * rows[i]
        rows.append(row)
    return rows[k]


@numba.njit(cache=True)
def _barycentric(x, nodes, bweights, values):
    """The polynomial through (nodes, values) at x (barycentric form; exact at a node)."""
    num = 0.0
    den = 0.0
    for i in range(nodes.size):
        diff = x - nodes[i]
        if diff == 0.0:
            return values[i]
        t = bweights[i] / diff
        num += t * values[i]
        den += t
    return num / den


@numba.njit(cache=True)
def _margin_sign_value(act_code, L, y, x, nodes, bweights, values):
    return y * activation(act_code, L, _barycentric(x, nodes, bweights, values))[0]


@numba.njit(cache=True, parallel=True)
def interpolated_indicator_probability(act_code, L, y, rbar, nodes, bweights, n_search):
    """P_h0(y phi(rbar(h0)) > 0), h0 ~ N(0, 1), with rbar(h0) the polynomial through the values
    rbar[c, :, p] at the Gauss-Hermite ``nodes`` (barycentric ``bweights``).

    The sign changes of y phi(rbar(h0)) are bracketed on ``n_search`` equal cells between the
    outermost nodes and located by bisection to round-off; the probability is the exact normal
    mass of the intervals where the sign is positive, the tails beyond the outermost nodes taking
    the sign there. A margin exactly 0 at every search point (r = 0 for all h0, e.g. the centre
    of a symmetric rule at k = 0 from m0 = 0) is a tie of probability zero: it counts 1/2, the
    limit of the Rao-Blackwellised probability. y: (n_outer, n_inner); rbar: (n_outer, n_h0,
    n_inner). Returns (n_outer, n_inner).
    """
    n_outer, n_h0, n_inner = rbar.shape
    lo, hi = nodes.min(), nodes.max()
    out = np.empty((n_outer, n_inner))
    for cp in numba.prange(n_outer * n_inner):
        c, p = cp // n_inner, cp % n_inner
        values = np.empty(n_h0)
        for i in range(n_h0):
            values[i] = rbar[c, i, p]
        yy = y[c, p]
        total = 0.0
        start = -np.inf
        g_left = _margin_sign_value(act_code, L, yy, lo, nodes, bweights, values)
        positive = g_left > 0.0
        all_zero = g_left == 0.0
        left = lo
        for j in range(1, n_search + 1):
            right = lo + (hi - lo) * j / n_search
            g_right = _margin_sign_value(act_code, L, yy, right, nodes, bweights, values)
            all_zero = all_zero and g_right == 0.0
            if (g_right > 0.0) != (g_left > 0.0):
                a, b, ga = left, right, g_left
                for _ in range(60):
                    mid = 0.5 * (a + b)
                    gm = _margin_sign_value(act_code, L, yy, mid, nodes, bweights, values)
                    if (gm > 0.0) == (ga > 0.0):
                        a, ga = mid, gm
                    else:
                        b = mid
                    if b - a <= 1e-15 * (1.0 + abs(a)):
                        break
                root = 0.5 * (a + b)
                if positive:
                    total += _normal_cdf(root) - _normal_cdf(start)
                positive = not positive
                start = root
            left, g_left = right, g_right
        if positive:
            total += 1.0 - _normal_cdf(start)
        out[c, p] = 0.5 if (all_zero and yy != 0.0) else total
    return out
