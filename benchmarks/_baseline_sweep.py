"""Baselines for the response benchmark, kept only so that benchmarks/response.py can time them
against the current kernel in the same process; not used by the library. The first version of
the per-node step (``effective_step_stored``), which kept every node's whole response history
rho(j, l), j <= k, in memory (O(N K^2) doubles) and updated row k from it; and the left-looking
per-node response row that came after it (``response_left_looking``); and the fused low-rank
kernel of full-batch GD one node at a time (``response_low_rank_per_node``).

Its arithmetic is frozen; its arguments are the records of ``quaddmft._kernels`` (``StepModel``,
``StepState``, ``NodeArrays``) and ``StoredBuffers``, the ``SweepBuffers`` of this kernel: the
flat response history ``rho`` instead of one response row, and the per-node P(correct) and r(k)
it output instead of rbar.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from quaddmft._kernels import correct_probability
from quaddmft._loss import loss_terms


def rho_offset(k: int, n_nodes: int) -> int:
    """Start of response row k in the flat buffer."""
    return n_nodes * (k * (k + 1) // 2)


class StoredBuffers(NamedTuple):
    """Per-node state of the stored-history sweep: xi (N, K), grad and curv (N, K+1); rho, the
    rows rho(j, .) of every node for j = 0..K, flat (row j of node n at rho_offset(j, N) +
    n (j + 1)); this step's loss, P(correct) and r(k) (N,)."""

    xi: np.ndarray
    grad: np.ndarray
    curv: np.ndarray
    rho: np.ndarray
    loss: np.ndarray
    correct: np.ndarray
    r: np.ndarray

    @classmethod
    def zeros(cls, N: int, K: int) -> "StoredBuffers":
        return cls(np.zeros((N, max(K, 1))), np.zeros((N, K + 1)), np.zeros((N, K + 1)),
                   np.empty(rho_offset(K + 1, N)), np.empty(N), np.empty(N), np.empty(N))


@numba.njit(cache=True, parallel=True)
def effective_step_stored(k, model, state, R_row, noise_row, nodes, buffers):
    """Advance every node to step k (see module docstring); fills xi[:, k-1], grad[:, k],
    curv[:, k], the response row k in ``rho`` and the per-node loss, P(correct) and r(k).

    ``model``: StepModel; ``state``: StepState at step k (``newest_sd``: the standard deviation
    of r(k) carried by the newest innovation alone, or 0 when no innovation enters only at step
    k; then the accuracy is the plain indicator); ``nodes``: NodeArrays; ``buffers``:
    StoredBuffers. ``R_row`` is R(k, :); ``noise_row`` is B(k-1, :) (length
    innovations.shape[1])."""
    loss_code, act_code, L, delta, eta = model
    m_k, P_k, sqrt_R, newest_sd = state
    # Unpacked before the parallel loop: numba loses writes through record attributes in prange.
    c, y, h0, h_init, innovations, s = nodes
    xi, g, a, rho, loss_out, correct_out, r_out = buffers
    n_nodes = c.size
    sqrt_delta = np.sqrt(delta)
    base_k = n_nodes * (k * (k + 1) // 2)
    for n in numba.prange(n_nodes):
        if k >= 1:
            acc = 0.0
            for i in range(innovations.shape[1]):
                acc += noise_row[i] * innovations[n, i]
            xi[n, k - 1] = acc
        noise = 0.0
        feedback = 0.0
        for j in range(k):
            noise += R_row[j] * xi[n, j]
            feedback += R_row[j] * g[n, j]
        h = P_k * sqrt_R * h_init[n] + eta * noise - eta * sqrt_delta * feedback
        r = sqrt_delta * h + m_k * (c[n] + sqrt_delta * h0[n])
        value, d1, d2 = loss_terms(loss_code, act_code, L, y[n], r)
        g[n, k] = s[n, k] * d1
        a[n, k] = s[n, k] * d2
        loss_out[n] = value
        newest = 0.0
        if newest_sd > 0.0:
            newest = innovations[n, k - 1] if k >= 1 else h_init[n]
        correct_out[n] = correct_probability(act_code, L, y[n], r - newest_sd * newest, newest_sd)
        r_out[n] = r

        row = base_k + n * (k + 1)
        for l in range(k):
            rho[row + l] = 0.0
        rho[row + k] = 1.0
        for j in range(k):
            coef = -eta * delta * R_row[j] * a[n, j]
            if coef != 0.0:
                row_j = n_nodes * (j * (j + 1) // 2) + n * (j + 1)
                for l in range(j + 1):
                    rho[row + l] += coef * rho[row_j + l]


@numba.njit(cache=True, parallel=True)
def response_left_looking(k, R_T, curv, response, active, scale):
    """The per-node response row rho(k, .) as ``effective_step`` computed it before it went
    right-looking (issue 11): left-looking over the active steps, each x(l) a scalar gather
    sum_j x(j) R(j, l) over the active j > l in ascending order, the active list rebuilt from
    curv at every step. ``scale`` = -eta Delta; R_T[l, j] = R(j, l)."""
    for n in numba.prange(curv.shape[0]):
        response[n, k] = 1.0
        n_active = 0
        l = k - 1
        while l >= 0:
            curv_l = curv[n, l]
            if curv_l == 0.0:
                response[n, l] = 0.0
            else:
                acc = 0.0
                i = n_active - 1
                while i >= 0:
                    j = active[n, i]
                    acc += response[n, j] * R_T[l, j]
                    i -= 1
                acc += R_T[l, k]
                response[n, l] = scale * curv_l * acc
                active[n, n_active] = l
                n_active += 1
            l -= 1


@numba.njit(cache=True, parallel=True)
def response_low_rank_per_node(k, curv, R, bases, coef, rank, block, scale, response):
    """The fused low-rank response kernel as it was before its nodes went in tiles (issue 11):
    rho(k, .) of every node, all full blocks low-rank (``_response.ResponseBlocks``): per node,
    the top block and then each full block from the right; the far-field coupling of block ib is
    sum_q W_ib(l, q) sum_{j >= b1} rho(k, j) coef_ib(j, q), the near field a right-looking
    triangular solve. One parallel region; each node's row stays in cache."""
    top = (k // block) * block
    for n in numba.prange(response.shape[0]):
        acc = np.zeros(block)
        far = np.zeros(bases.shape[2])
        response[n, k] = 1.0
        for l in range(top, k):
            acc[l - top] = R[k, l]
        for ib in range(top // block, -1, -1):
            b0 = ib * block
            b1 = k if ib == top // block else b0 + block
            if ib < top // block:
                r = rank[ib]
                for q in range(r):
                    far[q] = 0.0
                for j in range(b0 + block, k + 1):
                    x = response[n, j]
                    if x != 0.0:
                        for q in range(r):
                            far[q] += x * coef[ib, j, q]
                for i in range(block):
                    total = 0.0
                    for q in range(r):
                        total += bases[ib, i, q] * far[q]
                    acc[i] = total
            for l in range(b1 - 1, b0 - 1, -1):
                x = scale * curv[n, l] * acc[l - b0]
                response[n, l] = x
                if x != 0.0:
                    for m in range(b0, l):
                        acc[m - b0] += x * R[l, m]
