r"""Deterministic quadrature rules: Gauss-Hermite, anisotropic Smolyak grids, Karhunen-Loeve modes.

* ``gauss_hermite(n)``: the n-point rule for E[f(g)], g ~ N(0, 1) (weights normalised here, and
  only here: numpy's ``hermegauss`` weights sum to sqrt(2 pi)).
* ``half_gauss_hermite(n)``: the n-point Gauss rule for E[f(g) | g > 0], g ~ N(0, 1) (the
  half-normal law), from its moments in high precision (mpmath); exact for polynomials of degree
  <= 2n - 1 on the half-line, so a function smooth on each side of 0 but not across (the label
  of a sign teacher) is integrated spectrally by the two halves ``split_gauss_hermite(n)``.
* ``smolyak(costs, level)``: the anisotropic Smolyak combination of 1-D Gauss-Hermite rules
  (n(l) = 2 l - 1 points at level l >= 1) over the downward-closed index set
      I = { l in N^D, l_i >= 1 : sum_i costs_i (l_i - 1) <= level - 1 },
  Q = sum_{l in I} c_l (Q_{l_1} x ... x Q_{l_D}),  c_l = sum_{z in {0,1}^D, l + z in I} (-1)^{|z|}.
  A dimension of cost a >= 1 gets roughly (level - 1)/a refinements; coinciding nodes of the
  tensor grids are merged. Weights may be negative; they sum to 1.
* ``karhunen_loeve(M, tol, max_modes)``: eigen-decomposition of a covariance matrix M, keeping
  modes until the discarded variance fraction is <= tol; returns B with x = B zeta, zeta ~ N(0, I).
* ``tensor_product(*factors)``: the product of weighted node sets (every node of one factor with
  every node of the others), the one place where rules combine their coordinates.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

__all__ = ["gauss_hermite", "half_gauss_hermite", "smolyak", "smolyak_size", "smolyak_refines",
           "combination_grid", "karhunen_loeve",
           "KLModes", "tensor_product", "SOBOL_MAX_DIMENSION"]

# scipy's Sobol' direction numbers cover this many dimensions (the QMC and Quadrature rules).
SOBOL_MAX_DIMENSION = 21201


@lru_cache(maxsize=64)
def _gauss_hermite_cached(n: int):
    nodes, weights = hermegauss(n)
    return nodes, weights / weights.sum()


def gauss_hermite(n: int):
    """Nodes and weights (summing to 1) of the n-point Gauss-Hermite rule for N(0, 1)."""
    nodes, weights = _gauss_hermite_cached(int(n))
    return nodes.copy(), weights.copy()


@lru_cache(maxsize=64)
def _half_gauss_hermite_cached(n: int):
    import mpmath

    with mpmath.workdps(40 + 4 * n):
        # Moments of the half-normal law: E[g^k | g > 0] = 2^{k/2} Gamma((k+1)/2) / sqrt(pi).
        moments = [mpmath.power(2, mpmath.mpf(k) / 2) * mpmath.gamma(mpmath.mpf(k + 1) / 2)
                   / mpmath.sqrt(mpmath.pi) for k in range(2 * n + 1)]
        hankel = mpmath.matrix(n + 1, n + 1)
        for i in range(n + 1):
            for j in range(n + 1):
                hankel[i, j] = moments[i + j]
        chol = mpmath.cholesky(hankel)  # lower: hankel = L L^T
        # Golub-Welsch from the Cholesky factor of the Hankel matrix (Golub & Welsch 1969).
        alpha = [chol[j + 1, j] / chol[j, j] - (chol[j, j - 1] / chol[j - 1, j - 1] if j else 0)
                 for j in range(n)]
        beta = [chol[j + 1, j + 1] / chol[j, j] for j in range(n - 1)]
        jacobi = np.diag([float(a) for a in alpha]) + np.diag([float(b) for b in beta], 1) \
            + np.diag([float(b) for b in beta], -1)
    nodes, vectors = np.linalg.eigh(jacobi)
    weights = vectors[0] ** 2
    return nodes, weights / weights.sum()


def half_gauss_hermite(n: int):
    """Nodes (all > 0) and weights (summing to 1) of the n-point Gauss rule for the half-normal
    law, E[f(g) | g > 0] with g ~ N(0, 1) (module docstring).

    Examples
    --------
    >>> x, w = half_gauss_hermite(4)
    >>> round(float(w @ x), 12) == round((2 / np.pi) ** 0.5, 12), round(float(w @ x**2), 12)
    (True, 1.0)
    """
    nodes, weights = _half_gauss_hermite_cached(int(n))
    return nodes.copy(), weights.copy()


def _index_set(costs, budget):
    """All l (as tuples, l_i >= 1) with sum costs_i (l_i - 1) <= budget."""
    out = []

    def extend(prefix, remaining, i):
        if i == len(costs):
            out.append(tuple(prefix))
            return
        l = 1
        while costs[i] * (l - 1) <= remaining + 1e-12:
            extend(prefix + [l], remaining - costs[i] * (l - 1), i + 1)
            l += 1

    extend([], budget, 0)
    return out


def smolyak(costs, level: int):
    """Anisotropic Smolyak grid (see module docstring): returns (nodes (n, D), weights (n,)).

    Built once per (costs, level) and cached: a modal solve asks for the same grid at every
    sweep of its fixed point, and the pure-Python loop over the 2^D corners is not free."""
    nodes, weights = _smolyak_cached(tuple(float(a) for a in costs), int(level))
    return nodes.copy(), weights.copy()


@lru_cache(maxsize=64)
def _smolyak_cached(costs: tuple, level: int):
    D = len(costs)
    if D == 0:
        return np.zeros((1, 0)), np.ones(1)
    budget = level - 1
    return _combination(set(_index_set(costs, budget)), D)


def combination_grid(members) -> tuple[np.ndarray, np.ndarray]:
    """The Smolyak combination (module docstring) over any downward-closed index set
    ``members`` (tuples l, l_i >= 1, of one length D >= 1): (nodes (n, D), weights (n,)). For
    index sets chosen otherwise than by ``smolyak``'s costs (benchmarks/adaptive_grid.py)."""
    members = set(tuple(int(li) for li in l) for l in members)
    dims = {len(l) for l in members}
    if len(dims) != 1 or min(dims) < 1 or any(li < 1 for l in members for li in l):
        raise ValueError("members must be tuples of one length D >= 1 with entries >= 1")
    D = dims.pop()
    closed = all(tuple(l[j] - (j == i) for j in range(D)) in members
                 for l in members for i in range(D) if l[i] > 1)
    if not closed:
        raise ValueError("members must be downward closed (every l - e_i with l_i > 1 in it)")
    return _combination(members, D)


def _combination(members: set, D: int):
    """The combination grid of the index set ``members`` (iterated in the set's own order, which
    the sums of merged nodes follow)."""
    all_nodes, all_weights = [], []
    for l in members:
        coeff = 0
        for z in product((0, 1), repeat=D):
            if tuple(li + zi for li, zi in zip(l, z)) in members:
                coeff += (-1) ** sum(z)
        if coeff == 0:
            continue
        rules = [gauss_hermite(2 * li - 1) for li in l]
        grids = np.meshgrid(*[r[0] for r in rules], indexing="ij")
        wgrids = np.meshgrid(*[r[1] for r in rules], indexing="ij")
        all_nodes.append(np.stack([g.ravel() for g in grids], axis=1))
        all_weights.append(coeff * np.prod(np.stack([w.ravel() for w in wgrids], axis=1), axis=1))
    nodes = np.concatenate(all_nodes)
    weights = np.concatenate(all_weights)
    # Merge coinciding nodes (symmetric rules share 0 and each other's nodes only at equal n).
    keys = np.round(nodes, 12)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    merged = np.zeros(len(unique))
    np.add.at(merged, inverse.ravel(), weights)
    keep = np.abs(merged) > 1e-15
    return unique[keep], merged[keep]


def smolyak_size(costs, level: int) -> int:
    """Number of nodes of the ``smolyak(costs, level)`` grid; an integer ``costs`` is the
    dimension of the isotropic grid (every cost 1)."""
    if np.ndim(costs) == 0:
        costs = [1.0] * int(costs)
    return int(_smolyak_cached(tuple(float(a) for a in costs), int(level))[1].size)


def smolyak_refines(coarse_costs, coarse_level: int, fine_costs, fine_level: int) -> bool:
    """Whether the grid ``smolyak(fine_costs, fine_level)`` refines ``smolyak(coarse_costs,
    coarse_level)`` in every direction: its index set contains the coarse one (on the coarse
    grid's dimensions; the fine costs may have more), and its first (leading) direction gets a
    longer 1-D rule. A difference of the two grids then sees the error of each; the error of a
    part both share (a direction at the same largest rule) it cannot see."""
    coarse_costs, fine_costs = list(map(float, coarse_costs)), list(map(float, fine_costs))
    if not coarse_costs:
        return True
    if len(fine_costs) < len(coarse_costs):
        return False
    fine_costs = fine_costs[: len(coarse_costs)]
    fine_budget = fine_level - 1 + 1e-12
    contained = all(sum(a * (li - 1) for a, li in zip(fine_costs, l)) <= fine_budget
                    for l in _index_set(coarse_costs, coarse_level - 1))
    longest = lambda costs, level: int((level - 1) / costs[0] + 1e-12)  # noqa: E731
    return contained and longest(fine_costs, fine_level) > longest(coarse_costs, coarse_level)


class KLModes:
    """Karhunen-Loeve truncation of a covariance M (K x K): x = B zeta, B = phi sqrt(lambda).

    Attributes: ``B`` (K, n_modes), ``variances`` (kept eigenvalues, decreasing),
    ``discarded`` (fraction of the trace left out). At least one mode is kept when M != 0.
    """

    def __init__(self, M: np.ndarray, tol: float, max_modes: int):
        M = 0.5 * (M + M.T)
        if M.shape[0] >= PARTIAL_EIGEN_FROM:
            values, vectors = _leading_eigenpairs(M, min(M.shape[0], 2 * max_modes + 10))
        else:
            values, vectors = np.linalg.eigh(M)
        order = np.argsort(values)[::-1]
        values = np.clip(values[order], 0.0, None)
        vectors = vectors[:, order]
        # The trace, not the sum of the computed eigenvalues: a partial decomposition sees only
        # the leading ones, and the variance left out is the rest of the trace.
        total = float(np.clip(np.trace(M), 0.0, None))
        if total <= 0.0:
            n = 0
        else:
            tail = 1.0 - np.cumsum(values) / total  # discarded fraction keeping i+1 modes
            n = int(np.argmax(tail <= tol)) + 1 if np.any(tail <= tol) else values.size
        n = int(min(max(n, min(1, values.size)), max_modes, values.size))
        self.variances = values[:n]
        self.B = vectors[:, :n] * np.sqrt(values[:n])
        self.discarded = float(max(total - values[:n].sum(), 0.0) / total) if total > 0 else 0.0

    @property
    def n_modes(self) -> int:
        return self.variances.size


# From this size on (long horizons) only the leading eigenpairs are computed, by a randomized
# subspace iteration (``_leading_eigenpairs``): a full eigendecomposition is O(K^3) and was
# measured to dominate long modal solves (7.8 s of 12 s at K = 320). Below it the full
# decomposition is kept (results of short solves unchanged bit for bit).
PARTIAL_EIGEN_FROM = 400
SUBSPACE_ITERATIONS = 6


def _leading_eigenpairs(M: np.ndarray, p: int):
    """The p leading eigenpairs of a symmetric positive semidefinite M, by subspace iteration on
    a Gaussian start (fixed seed: deterministic) and a Rayleigh-Ritz step (Halko, Martinsson,
    Tropp, SIAM Rev. 53 (2011) 217, alg. 4.4 and 5.3). The subspace error of the i-th pair is
    ~ (lambda_{p+1}/lambda_i)^(2 q + 1), q = SUBSPACE_ITERATIONS: round-off for the few modes a
    KL truncation keeps out of p = 2 max_modes + 10 (C_perp and M_C of gradient descent decay
    by orders of magnitude per mode). Cost O(K^2 p q) instead of O(K^3)."""
    start = np.random.default_rng(0).standard_normal((M.shape[0], p))
    basis, _ = np.linalg.qr(M @ start)
    for _ in range(SUBSPACE_ITERATIONS):
        basis, _ = np.linalg.qr(M @ basis)
    values, small = np.linalg.eigh(basis.T @ M @ basis)
    return values, basis @ small


def karhunen_loeve(M, tol=1e-8, max_modes=16):
    """KLModes of M keeping modes until the discarded variance fraction is <= tol."""
    return KLModes(np.asarray(M, dtype=float), tol, max_modes)


def tensor_product(*factors):
    """Tensor product of weighted node sets, the last factor running fastest.

    Each factor is ``(weights (n_i,), {name: array with n_i rows})``. Returns ``(weights, arrays)``
    with prod(n_i) rows: the weight of a node is the product of its factors' weights (multiplied
    left to right), and each array is repeated or tiled to match.

    Examples
    --------
    >>> w, a = tensor_product((np.array([0.5, 0.5]), {"c": np.array([1.0, -1.0])}),
    ...                       (np.array([0.25, 0.75]), {"h0": np.array([-1.0, 1.0])}))
    >>> w, a["c"], a["h0"]
    (array([0.125, 0.375, 0.125, 0.375]), array([ 1.,  1., -1., -1.]), array([-1.,  1., -1.,  1.]))
    """
    weight = np.ones(1)
    arrays: dict = {}
    for w, fields in factors:
        n_old, n_new = weight.size, w.size
        weight = np.repeat(weight, n_new) * np.tile(w, n_old)
        arrays = {k: np.repeat(v, n_new, axis=0) for k, v in arrays.items()}
        for k, v in fields.items():
            arrays[k] = np.tile(v, (n_old,) + (1,) * (v.ndim - 1))
    return weight, arrays
