r"""The blocked response: every node's row rho(k, .) by backward substitution in column blocks.

The per-node backward substitution of ``_kernels.effective_step`` is a chain of dot products at
~2 GFlop/s. From step ``ResponseOptions.blocked_from`` on, the columns are processed in fixed
blocks of ``block`` columns from the right: the top (partial) block alone, then each full block
with its coupling to the later columns as a matrix product, low-rank where R allows it
(``ResponseBlocks``). Same equations (docs/theory.md eq. 3.4), another summation order.
Measured (N = 2048 nodes, same process): blocked/per-node time 1.3x at k = 200, 0.5x at
k = 400, 0.15x at k = 2000 (benchmarks/response.py, benchmarks/scaling.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._errors import check_int, check_real
from ._kernels import response_block_kernel, response_low_rank_kernel

__all__ = ["ResponseOptions", "ResponseBlocks", "response_rows"]


@dataclass(frozen=True)
class ResponseOptions:
    """How the response rows are computed (defaults: the measured best, docs/performance.md).

    ``blocked_from``: first step computed blocked (before it, per node in ``effective_step``);
    ``low_rank_from``: under full-batch GD, first step computed blocked when every closed block
    of R is low-rank (measured 4x faster than per node at K = 250, 1552 nodes);
    ``block``: columns per block; ``low_rank``: compress the column blocks of R (False: every
    block dense, a benchmark baseline); ``low_rank_tol``: residual tolerance of the row-space
    bases, relative to the block's largest row; ``max_rank_fraction``: the rank (fraction of
    the block) beyond which a block stays dense.
    """

    blocked_from: int = 256
    low_rank_from: int = 64
    block: int = 64
    low_rank: bool = True
    low_rank_tol: float = 1e-14
    max_rank_fraction: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "blocked_from", check_int("blocked_from", self.blocked_from, low=1))
        object.__setattr__(self, "low_rank_from", check_int("low_rank_from", self.low_rank_from, low=1))
        object.__setattr__(self, "block", check_int("block", self.block, low=1))
        object.__setattr__(self, "low_rank_tol",
                           check_real("low_rank_tol", self.low_rank_tol, low=0.0, high=1.0))
        object.__setattr__(self, "max_rank_fraction", check_real(
            "max_rank_fraction", self.max_rank_fraction, low=0.0, high=1.0, high_open=False))


class ResponseBlocks:
    r"""Column blocks [ib B, (ib+1) B) of the weight response R, each with a basis of its row space.

    The response row of a node couples column l to the later columns through R(j, l), j > l. For
    the block of columns [b0, b1) and rows j >= b1 (the coupling ``response_rows`` does with a
    matrix product), R(j, b0:b1) = coef(j) W^T with W an orthonormal (B x r) basis built
    incrementally: every new row of R is projected on W and its residual, if larger than
    ``low_rank_tol`` times the block's largest row, becomes a new basis vector. Under full-batch
    GD R is smooth and r is ~6-10 at 1e-14 for B = 64 (measured on Fig. 1 settings, K = 500), so
    the coupling costs N (k - b1) r + N r B instead of N (k - b1) B. Blocks whose rank exceeds
    ``max_rank_fraction`` * B (Persistent-SGD: R carries the sharp selection correlations, rank
    ~B) are used dense. The representation error is <= ``low_rank_tol`` relative per row.
    """

    def __init__(self, K: int, options: ResponseOptions = ResponseOptions()):
        self.K, self.block, self.dense = K, options.block, not options.low_rank
        self.tol = options.low_rank_tol
        self.max_rank = max(1, int(options.max_rank_fraction * self.block))
        n_blocks = K // self.block + 1
        self.n_closed = 0  # blocks ib with (ib + 1) B <= k: the ones with rows j >= b1 so far
        # Block ib: orthonormal basis bases[ib, :, :rank[ib]], row coefficients
        # coef[ib, j, :rank[ib]] for j >= b1, rank -1 when dense; stacked arrays, as the fused
        # kernel reads them.
        self.bases = np.zeros((n_blocks, self.block, self.max_rank))
        self.coef = np.zeros((n_blocks, K + 1, self.max_rank))
        self.rank = np.zeros(n_blocks, dtype=np.int64)
        self.row_scale = np.zeros(n_blocks)  # largest row norm seen in the block

    def add_row(self, R: np.ndarray, k: int) -> None:
        """Take row k of R (final once the weight side has advanced to step k)."""
        B = self.block
        while (self.n_closed + 1) * B <= k:  # block ib closes when k reaches its end (ib+1) B
            self.rank[self.n_closed] = -1 if self.dense else 0
            self.n_closed += 1
        for ib in range(self.n_closed):
            r = self.rank[ib]
            if r < 0:
                continue
            W = self.bases[ib]
            row = R[k, ib * B : (ib + 1) * B]
            self.row_scale[ib] = max(self.row_scale[ib], float(np.linalg.norm(row)))
            coef = W[:, :r].T @ row
            residual = row - W[:, :r] @ coef
            correction = W[:, :r].T @ residual  # second Gram-Schmidt pass
            coef += correction
            residual -= W[:, :r] @ correction
            norm = float(np.linalg.norm(residual))
            if norm > self.tol * self.row_scale[ib]:
                if r == self.max_rank:
                    self.rank[ib] = -1  # not compressible: stays dense
                    continue
                W[:, r] = residual / norm
                self.coef[ib, k, r] = norm
                self.rank[ib] = r + 1
            self.coef[ib, k, :r] = coef

    @property
    def all_low_rank(self) -> bool:
        return bool(np.all(self.rank[: self.n_closed] >= 0))

    def coupling(self, ib: int, response: np.ndarray, R: np.ndarray, k: int) -> np.ndarray:
        """sum_{j = b1}^{k} response[:, j] R(j, b0:b1) for block ib = [b0, b1)."""
        B = self.block
        b0, b1 = ib * B, (ib + 1) * B
        r = self.rank[ib]
        if r < 0:
            return response[:, b1 : k + 1] @ R[b1 : k + 1, b0:b1]
        return (response[:, b1 : k + 1] @ self.coef[ib, b1 : k + 1, :r]) @ self.bases[ib, :, :r].T


def response_rows(k, eta, delta, R, R_T, curv, response, blocks: ResponseBlocks):
    """rho(k, .) of every node by blocked backward substitution (same equations as the per-node
    loop in ``effective_step``). Columns go in the fixed blocks of ``blocks`` from the right: the
    top (partial) block [floor(k/B) B, k) alone, then each full block with its coupling to the
    later columns as matrix products (``ResponseBlocks.coupling``, low-rank where possible). When
    every full block is low-rank, the fused per-node kernel ``response_low_rank_kernel`` does it
    all (and ``R_T``, R transposed, needed by the dense blocks only, may be None)."""
    if blocks.all_low_rank:
        response_low_rank_kernel(k, curv, R, blocks.bases, blocks.coef, blocks.rank, blocks.block,
                                 -eta * delta, response)
        return
    response[:, k] = 1.0
    B = blocks.block
    top = (k // B) * B
    if top < k:
        response_block_kernel(response, curv, R_T, np.zeros((response.shape[0], k - top)), top, k,
                              k + 1, -eta * delta)
    for ib in range(top // B - 1, -1, -1):
        acc = blocks.coupling(ib, response, R, k)
        response_block_kernel(response, curv, R_T, acc, ib * B, (ib + 1) * B, (ib + 1) * B,
                              -eta * delta)
