r"""Hierarchically off-diagonal low-rank (HODLR) compression of the two-time kernels.

A two-time kernel X(t_k, t_l) on K+1 grid points (Gamma, M_C, the response R, C_perp) is smooth
away from the diagonal (R and Gamma are triangular, with their jump or their lambda-hat on it).
HODLR storage (Ambikasaran and Darve, J. Sci. Comput. 57 (2013) 477) splits the index range in
two halves recursively down to leaves of at most ``leaf`` points; the leaves are kept dense and
each off-diagonal block X[I, J] of a split is stored as a truncated singular value decomposition
U V^T. With the truncation of a block B of a matrix X of n rows chosen as

    || B - U V^T ||_F^2 <= tol^2 ||X||_F^2 |B| / n^2,      |B| = the number of entries of B,   (1)

the errors of the disjoint blocks add up to the stated tolerance (docs/theory.md eq. 9.7):

    || X - HODLR(X) ||_F <= tol || X ||_F.

Storage O(n r log n) and a matrix-vector product O(n r log n) instead of O(n^2), r the largest
block rank; a zero block (the upper half of a lower-triangular kernel) costs nothing.

``HODLR.from_dense`` builds the form from a dense matrix (O(n^3) through block SVDs: a tool to
measure and to store, not a part of the sweep: on graded meshes the dense kernels are ~4% of a
solve's memory, docs/performance.md);
``kernel_compression`` measures every two-time kernel of a result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_int, check_real

__all__ = ["HODLR", "kernel_compression", "TWO_TIME_KERNELS"]

TWO_TIME_KERNELS = ("Gamma", "M_C", "response", "C_perp")


@dataclass(frozen=True)
class _Block:
    rows: tuple
    cols: tuple
    U: np.ndarray  # (rows, rank), singular values included
    V: np.ndarray  # (cols, rank)


class HODLR:
    """A square matrix in HODLR form with a stated relative Frobenius tolerance (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from quaddmft._compression import HODLR
    >>> t = np.linspace(0.0, 10.0, 300)
    >>> X = np.exp(-np.abs(t[:, None] - t[None, :]))        # smooth off the diagonal
    >>> H = HODLR.from_dense(X, tol=1e-10, leaf=32)
    >>> bool(np.linalg.norm(H.to_dense() - X) <= 1e-10 * np.linalg.norm(X)), H.nbytes < X.nbytes
    (True, True)
    """

    def __init__(self, n: int, tol: float, leaves: list, blocks: list):
        self.n, self.tol, self.leaves, self.blocks = n, tol, leaves, blocks

    @classmethod
    def from_dense(cls, X, tol: float = 1e-10, leaf: int = 64) -> "HODLR":
        """Compress a square array ``X`` to relative Frobenius error ``tol`` (0 <= tol < 1),
        leaves of at most ``leaf`` >= 1 points. Raises ParameterError on bad input."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] != X.shape[1] or X.shape[0] == 0:
            raise ParameterError(f"X must be a non-empty square matrix, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ParameterError("X must be finite")
        tol = check_real("tol", tol, low=0.0, high=1.0, low_open=False)
        leaf = check_int("leaf", leaf, low=1)
        n = X.shape[0]
        budget = (tol * np.linalg.norm(X)) ** 2 / n**2  # allowed squared error per entry, eq. (1)
        leaves, blocks = [], []
        stack = [(0, n)]
        while stack:
            a, b = stack.pop()
            if b - a <= leaf:
                leaves.append(((a, b), X[a:b, a:b].copy()))
                continue
            m = (a + b) // 2
            for rows, cols in (((a, m), (m, b)), ((m, b), (a, m))):
                block = _truncated(X[rows[0]:rows[1], cols[0]:cols[1]], budget)
                if block is not None:
                    blocks.append(_Block(rows, cols, *block))
            stack += [(a, m), (m, b)]
        return cls(n, tol, leaves, blocks)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """H @ x for x of shape (n,) or (n, m)."""
        x = np.asarray(x, dtype=float)
        if x.shape[0] != self.n:
            raise ParameterError(f"x must have {self.n} rows, got shape {x.shape}")
        y = np.zeros(x.shape)
        for (a, b), D in self.leaves:
            y[a:b] += D @ x[a:b]
        for blk in self.blocks:
            y[blk.rows[0]:blk.rows[1]] += blk.U @ (blk.V.T @ x[blk.cols[0]:blk.cols[1]])
        return y

    def to_dense(self) -> np.ndarray:
        out = np.zeros((self.n, self.n))
        for (a, b), D in self.leaves:
            out[a:b, a:b] = D
        for blk in self.blocks:
            out[blk.rows[0]:blk.rows[1], blk.cols[0]:blk.cols[1]] = blk.U @ blk.V.T
        return out

    @property
    def nbytes(self) -> int:
        return (sum(D.nbytes for _, D in self.leaves)
                + sum(blk.U.nbytes + blk.V.nbytes for blk in self.blocks))

    @property
    def max_rank(self) -> int:
        return max((blk.U.shape[1] for blk in self.blocks), default=0)


def _truncated(B: np.ndarray, budget: float):
    """(U S, V) of the smallest rank with ||B - U S V^T||_F^2 <= budget |B|; None for rank 0."""
    allowed = budget * B.size
    if float(np.sum(B * B)) <= allowed:
        return None
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    tail = np.concatenate([np.cumsum((s**2)[::-1])[::-1], [0.0]])  # tail[r] = sum_{i>=r} s_i^2
    rank = int(np.argmax(tail <= allowed))
    return U[:, :rank] * s[:rank], Vt[:rank].T.copy()


def kernel_compression(kernels: dict, tol: float = 1e-10, leaf: int = 64) -> dict:
    """Per two-time kernel of ``kernels`` (a result's or a sweep's fields by name): the HODLR
    form, its relative Frobenius error, its largest block rank and its size against dense."""
    out = {}
    for name in TWO_TIME_KERNELS:
        X = np.asarray(kernels[name], dtype=float)
        H = HODLR.from_dense(X, tol, leaf)
        norm = float(np.linalg.norm(X))
        error = float(np.linalg.norm(H.to_dense() - X)) / norm if norm > 0 else 0.0
        out[name] = {"hodlr": H, "relative_error": error, "max_rank": H.max_rank,
                     "bytes": H.nbytes, "dense_bytes": X.nbytes}
    return out
