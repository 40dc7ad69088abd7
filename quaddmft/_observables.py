r"""Observables: the curve names, the training-accuracy estimator and replicate statistics.

Curves (docs/theory.md eqs. 4.1-4.5), each of shape (K+1,): ``m`` (3.8), ``C`` = m^2 +
C_perp(k, k) (4.1), ``gen_error`` (4.2)/(4.3), ``train_loss`` e = alpha <Lambda> and
``train_accuracy`` a = <[y phi(r) > 0]> (4.4). Kernels of the solution: ``Gamma``, ``M_C``,
``mu`` (3.5)-(3.7) and the weight side ``response`` (R(k, j), 3.10), ``P`` (3.9), ``C_perp``
(3.11).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import ndtri

from ._kernels import (correct_probability_array, grouped_correct_probability,
                       interpolated_correct_probability, interpolated_indicator_probability)

__all__ = ["CURVES", "KERNELS", "interpolated_accuracy", "h0_interpolation_basis", "h0_layout",
           "barycentric_weights", "mean_and_standard_error"]

CURVES = ("m", "C", "gen_error", "train_loss", "train_accuracy")
KERNELS = ("Gamma", "M_C", "mu", "response", "P", "C_perp")

# Fine midpoint rule in u = Phi(h0) for the interpolated accuracy: an indicator's crossing
# is located to within 1/(2 * 512) of probability (errors of either sign, averaging out over
# the inner points); a smooth integrand is integrated to O(1/512^2).
_FINE_H0 = ndtri((np.arange(512) + 0.5) / 512)


def _lagrange_basis(nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """B[f, i]: the Lagrange polynomial of ``nodes[i]`` evaluated at x[f]."""
    basis = np.ones((x.size, nodes.size))
    for i, xi in enumerate(nodes):
        for j, xj in enumerate(nodes):
            if j != i:
                basis[:, i] *= (x - xj) / (xi - xj)
    return basis


def h0_interpolation_basis(h0_nodes: np.ndarray) -> np.ndarray:
    """Lagrange basis of the h0 nodes on the fine grid (``interpolated_accuracy``)."""
    return np.ascontiguousarray(_lagrange_basis(h0_nodes, _FINE_H0))


@functools.lru_cache(maxsize=64)
def _subset_basis(h0_nodes: tuple) -> np.ndarray:
    """``h0_interpolation_basis`` of a subset of the h0 nodes, computed once per subset: the
    nested accuracy (``_nested_accuracy``) needs the same few subsets at every step."""
    return h0_interpolation_basis(np.asarray(h0_nodes))


def antithetic_prefix(u: int, half: int) -> np.ndarray:
    """Where the first u points of an antithetic block sit: the block holds its points, then
    from ``half`` on their partners in the same order, so the first u are the first u/2 points
    and their partners (the nested h0 layout, ``NodeSet.antithetic``)."""
    return np.concatenate([np.arange(u // 2), half + np.arange(u // 2)])


def h0_layout(labels) -> dict:
    """The ``h0_basis``, ``h0_nodes`` and ``h0_groups`` of a node set built with the label
    groups ``labels`` (``_problem.LabelFactor``) as its outer factors: the Gauss-Hermite
    interpolation layout of the training accuracy when the groups allow it
    (``labels.interpolable``: the mixtures); else, when the groups give their own fine grids
    (``labels.fine``: teacher-student data, whose labels depend on h0), the per-group layout
    ``h0_groups = (basis (G, F, n), weight (G, F), y (G, F))``; else none (the plain mean)."""
    if labels.interpolable:
        nodes = labels.h0[0]
        return {"h0_basis": h0_interpolation_basis(nodes), "h0_nodes": nodes, "h0_groups": None}
    if labels.fine is None:
        return {"h0_basis": None, "h0_nodes": None, "h0_groups": None}
    fine_h0, weight, y = labels.fine
    basis = np.stack([_lagrange_basis(nodes, points) for nodes, points in zip(labels.h0, fine_h0)])
    return {"h0_basis": None, "h0_nodes": None,
            "h0_groups": (np.ascontiguousarray(basis), np.ascontiguousarray(weight),
                          np.ascontiguousarray(y))}


def barycentric_weights(nodes: np.ndarray) -> np.ndarray:
    """w_i = 1 / prod_{j != i} (x_i - x_j) of the barycentric interpolation formula, scaled to
    max |w| = 1 (the formula is invariant under a common factor)."""
    diff = np.subtract.outer(nodes, nodes)
    np.fill_diagonal(diff, 1.0)
    weights = 1.0 / np.prod(diff, axis=1)
    return weights / np.abs(weights).max()


def interpolated_accuracy(nodes, rbar: np.ndarray, sd: float, mixture) -> float:
    r"""P(y phi(r) > 0) averaged over the node set, with h0 integrated by interpolation.

    docs/theory.md eq. 4.5. Per node, the Rao-Blackwellised probability
    p = P(y phi(N(rbar, sd^2)) > 0) is a smooth function of h0 only while sd is not small; under
    full-batch GD the newest innovation carries almost no variance (M_C is nearly singular), p
    is a 0/1 step in h0, and the Gauss-Hermite rule over h0 biases its average by O(1e-3)
    (measured 5e-3 with 6 nodes, three-cluster GD) without the replicate spread seeing it. Here
    rbar, smooth in h0 at fixed (c, inner point), is interpolated by the polynomial through the
    n_h0 Gauss-Hermite nodes, and p(rbar(h0)) is integrated over h0 ~ N(0, 1) on a fine grid
    (``_FINE_H0``). With sd = 0 (nothing left to Rao-Blackwellise: the nodes carry htilde
    itself, or R = 0 at k = 0) p is a 0/1 step of rbar(h0) and the fine grid would place it only
    to 1/1024 of probability (measured 1e-3 errors on a sparse grid, whose few inner points do
    not average them out): the crossings of the interpolant are then located by bisection and
    the normal mass between them summed exactly (``interpolated_indicator_probability``). Label
    groups with their own fine grids (``nodes.h0_groups``: teacher-student data, docs/theory.md
    section 8.1) are integrated the same way on each group's grid, the label taken at each
    fine point (``grouped_correct_probability``; at sd = 0 the indicator on the fine grid).
    Node sets without either layout (Monte Carlo) get the plain weighted mean of p.
    """
    act, L = mixture.activation_code, mixture.L
    if nodes.h0_sizes is not None:
        return _nested_accuracy(nodes, rbar, sd, act, L)
    if nodes.h0_groups is not None:
        basis, fine_weight, fine_y = nodes.h0_groups
        grid = (basis.shape[0], basis.shape[2], nodes.n_inner)
        inner_weight = nodes.weight.reshape(grid).sum(axis=1)  # (G, inner): P(g) w(p)
        prob = grouped_correct_probability(act, L, fine_y, np.ascontiguousarray(rbar.reshape(grid)),
                                           sd, basis, fine_weight)
        return float(np.sum(inner_weight * prob))
    if sd == 0.0 and nodes.h0_nodes is not None:
        grid = (-1, nodes.h0_nodes.size, nodes.n_inner)
        inner_weight = nodes.weight.reshape(grid).sum(axis=1)
        y = np.ascontiguousarray(nodes.y.reshape(grid)[:, 0, :])
        x = nodes.h0_nodes
        prob = interpolated_indicator_probability(act, L, y, np.ascontiguousarray(rbar.reshape(grid)),
                                                  x, barycentric_weights(x), 8 * x.size)
        return float(np.sum(inner_weight * prob))
    if nodes.h0_basis is None:
        return float(nodes.weight @ correct_probability_array(act, L, nodes.y, rbar, sd))
    grid = (-1, nodes.h0_basis.shape[1], nodes.n_inner)
    inner_weight = nodes.weight.reshape(grid).sum(axis=1)  # (outer, inner): P(c) / n_inner
    y = np.ascontiguousarray(nodes.y.reshape(grid)[:, 0, :])
    prob = interpolated_correct_probability(act, L, y, np.ascontiguousarray(rbar.reshape(grid)),
                                            sd, nodes.h0_basis)
    return float(np.sum(inner_weight * prob))


def _nested_accuracy(nodes, rbar: np.ndarray, sd: float, act: int, L: float) -> float:
    r"""``interpolated_accuracy`` on a nested h0 layout (``NodeSet.h0_sizes``: h0 node i carries
    the first n_i inner points). With the distinct sizes u_1 < ... < u_V and S_v the h0 nodes
    with n_i >= u_v (S_1 all of them), a telescoping sum over the inner points each term has:

        A = <J_{S_V}>_{u_V} + sum_{v < V} <J_{S_v} - J_{S_{v+1}}>_{u_v},

    J_S(p) the accuracy at inner point p integrated across h0 through the interpolant on the
    nodes S (as ``interpolated_accuracy``), <.>_u the mean over the first u inner points. Its
    value is that of J on every node where all the nodes are present, the coarser interpolants
    only carrying the inner points the outer nodes lack (a multilevel estimate). With antithetic
    pairs, "the first u inner points" are the first u/2 and their partners, in every block."""
    sizes = np.asarray(nodes.h0_sizes)
    per_group = int(sizes.sum())
    G = nodes.size // per_group
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group_prob = nodes.weight.reshape(G, per_group).sum(axis=1)
    y_group = nodes.y.reshape(G, per_group)[:, 0]
    levels = np.unique(sizes)

    def integral(subset, u):
        """J_subset(p) over the first u inner points p, per group: (G, u)."""
        within = np.stack([antithetic_prefix(u, int(sizes[i]) // 2) if nodes.antithetic
                           else np.arange(u) for i in subset])  # (|subset|, u)
        index = (np.arange(G)[:, None, None] * per_group + start[subset][None, :, None]
                 + within[None, :, :])
        grid = np.ascontiguousarray(rbar[index])
        y = np.ascontiguousarray(np.repeat(y_group[:, None], u, axis=1))
        x = nodes.h0_nodes[subset]
        if sd == 0.0:
            return interpolated_indicator_probability(act, L, y, grid, x, barycentric_weights(x),
                                                      8 * x.size)
        return interpolated_correct_probability(act, L, y, grid, sd, _subset_basis(tuple(x)))

    total = np.zeros(G)
    for v, u in enumerate(levels):
        subset = np.flatnonzero(sizes >= u)
        term = integral(subset, int(u))
        if v + 1 < levels.size:
            term = term - integral(np.flatnonzero(sizes >= levels[v + 1]), int(u))
        total += term.mean(axis=1)
    return float(group_prob @ total)


def mean_and_standard_error(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the first axis and one standard error of it (std with ddof = 1 / sqrt(n))."""
    stack = np.stack(values)
    return stack.mean(axis=0), stack.std(axis=0, ddof=1) / math.sqrt(len(values))
