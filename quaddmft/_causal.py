r"""The causal sweep: one forward march k = 0..K of the discrete-time DMFT over a node set.

Causality (THEORY section 3): the effective process at step k needs the kernels Gamma, M_C, mu
of steps < k only, and the weight side at step k+1 needs the kernels of step k. So the equations
are solved exactly (up to the averaging rule) by marching k = 0..K once. Each step:

1. the noise row: row k-1 of the causal Cholesky factor of M_C (``CausalCholesky``), unless the
   nodes carry htilde itself (``GivenHtilde``: Karhunen-Loeve coordinates of C_perp mapped
   through the rule's basis),
2. the numba kernel ``effective_step`` (h(k), r(k), losses, response row rho(k, .)), and from
   ``ResponseOptions.blocked_from`` on the blocked response (``_response.response_rows``),
3. the kernel rows, as weighted averages over nodes (docs/theory.md eqs. 3.5-3.7):
       Gamma(k, l) = alpha Delta < s(k) Lambda''(r(k)) rho(k, l) >,
       M_C(k, k')  = alpha Delta < s(k) Lambda'(r(k)) s(k') Lambda'(r(k')) >,
       mu(k)       = alpha < s(k) Lambda'(r(k)) (c + sqrt(Delta) h0) >,
   with s(k) replaced by its conditional expectation given s(k-1) (``_March._kernel_rows``),
   and the observables e(k) = alpha <Lambda(r(k))>, a(k) = <[y phi(r(k)) > 0]> (eq. 4.4),
   (with a ``selector`` on the nodes, s(k) itself is drawn between steps 2 and 3:
   ``_selection.SortedSelection``),
4. the weight-side step (``WeightSide.advance``, or its momentum and spherical variants built
   by ``_weights.weight_side``; nothing for ``FrozenWeights``, the observer pass of
   ``observe``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ._errors import DivergenceError, UnresolvedSelectionError, divergence_reason
from ._kernels import (NodeArrays, StepModel, StepState, SweepBuffers, cholesky_append_row,
                       cholesky_jitter, effective_step)
from ._observables import interpolated_accuracy
from ._response import ResponseBlocks, ResponseOptions, response_rows
from ._weights import FrozenWeights, WeightSide, weight_side

__all__ = ["Sweep", "causal_sweep", "observe", "CausalCholesky", "GivenHtilde"]



@dataclass
class Sweep:
    """Everything one causal sweep produces: the curves and kernels of ``_observables``."""

    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    Gamma: np.ndarray
    M_C: np.ndarray
    mu: np.ndarray
    response: np.ndarray
    P: np.ndarray
    C_perp: np.ndarray
    # With the accuracy deferred (``causal_sweep(..., accuracy=False)``): rbar of every node and
    # step, and the sd of the newest innovation per step, for ``accuracy``.
    rbar: np.ndarray | None = None
    newest_sd: np.ndarray | None = None
    # A tolerant sweep whose M_C turned indefinite: (first grid index, pivot / scale).
    indefinite: tuple | None = None

    def accuracy(self, nodes, mixture) -> np.ndarray:
        """The training accuracy curve (eq. 4.5) from the stored rbar of a deferred sweep."""
        return np.array([interpolated_accuracy(nodes, np.ascontiguousarray(self.rbar[:, k]),
                                               float(self.newest_sd[k]), mixture)
                         for k in range(self.newest_sd.size)])


# A pivot below -INDEFINITE_PIVOT max M_C(i, i) is no round-off (the jitter is ~1e-14 j of it;
# a deterministic selection gives a Gram matrix, whose pivots stay >= 0 up to round-off); with a
# random selection it marks a node set that no longer resolves M_C (UnresolvedSelectionError).
INDEFINITE_PIVOT = 1e-8

class CausalCholesky:
    """xi(j) = sum_{i<=j} L(j, i) z(i), L the Cholesky factor of M_C, appended row by row as the
    sweep builds M_C (exactly causal; the innovation z(j) enters first at step j+1)."""

    def __init__(self, K: int, n_cols: int, strict: bool = False):
        self.chol = np.zeros((K + 1, K + 1))
        self.n_cols = n_cols
        self.scale = 0.0  # max_{i<=j} M_C(i, i): the scale of the Cholesky jitter
        self.strict = strict
        self.indefinite = None  # (first grid index, its pivot / scale) of a tolerant sweep

    def row(self, j: int, covariance: np.ndarray):
        """(B(j, :), sigma_j): the noise row, and the factor of the innovation new at step j+1.

        A pivot negative beyond round-off (M_C not positive semi-definite: a random selection
        the node set is too small to resolve) raises UnresolvedSelectionError when ``strict``;
        otherwise its column is zeroed (the factor of the nearest covariance it can build) and the
        first such index is kept in ``indefinite``."""
        self.scale = max(self.scale, covariance[j, j])
        pivot = cholesky_append_row(self.chol, covariance, j, cholesky_jitter(j, self.scale))
        indefinite = pivot < -INDEFINITE_PIVOT * self.scale
        if indefinite and self.strict:
            raise UnresolvedSelectionError(
                j + 1, f"the averaged noise covariance M_C of this node set is not positive "
                       f"semi-definite at grid index {j} (Cholesky pivot {pivot / self.scale:.1e} of "
                       f"its scale): the node set is too small to resolve the random selection this "
                       f"far; use more points (a finer Quadrature rung or tolerance, a larger "
                       f"QMC or MonteCarlo set)")
        if indefinite:
            self.indefinite = self.indefinite or (j, pivot / self.scale)
        return np.ascontiguousarray(self.chol[j, : self.n_cols]), self.chol[j, j]


class GivenHtilde:
    """The nodes carry htilde = U zeta itself (KL coordinates zeta of C_perp mapped through the
    rule's basis U): no noise row. For the Rao-Blackwellised accuracy, the part of htilde(k) not
    determined by htilde(0..k-1) is v_k . zeta with v_k the component of U(k, .) orthogonal to
    the rows U(0..k-1, .): a N(0, |v_k|^2) variable independent of the past, integrated in closed
    form (``newest``). With n modes it exists for the first n steps only (later rows lie in the
    span of the earlier ones) -- exactly the early steps where m ~ 0 leaves the accuracy a step
    function of zeta that a sparse grid integrates badly."""

    # Below this fraction of sqrt(C_perp(k, k)) the unpredictable part is left in the nodes (the
    # accuracy is then integrated across h0 through the crossings, ``interpolated_accuracy``).
    MIN_FRACTION = 1e-2

    def __init__(self, basis: np.ndarray, coords: np.ndarray):
        self.basis, self.coords = basis, coords
        self.q = np.zeros((basis.shape[1], 0))  # orthonormal basis of the rows seen so far

    def newest(self, k: int):
        """(|v_k|, standardised coordinate v_k . zeta / |v_k| per node), or (0, None)."""
        u = self.basis[k]
        v = u - self.q @ (self.q.T @ u)
        v -= self.q @ (self.q.T @ v)  # second Gram-Schmidt pass
        norm = float(np.linalg.norm(v))
        if norm <= 1e-12 * max(float(np.linalg.norm(u)), 1e-300):
            return 0.0, None
        direction = v / norm
        self.q = np.column_stack([self.q, direction])
        if norm < self.MIN_FRACTION * float(np.linalg.norm(u)):
            return 0.0, None
        return norm, self.coords @ direction


def _eta_text(eta) -> str:
    """eta for a message: the number, or the largest step of a variable grid."""
    return f"{eta}" if np.ndim(eta) == 0 else f"max(eta_k) = {np.max(eta):g}"


class _March:
    """The state of one sweep between steps: buffers, kernels being built, weight side."""

    def __init__(self, problem, chain, eta, K, nodes, weights, response, accuracy, strict=False):
        mixture = problem.mixture
        self.problem, self.eta, self.K, self.nodes, self.weights = problem, eta, K, nodes, weights
        self.chain = chain
        given = nodes.htilde_basis is not None
        # On a variable grid the nodes see R(k, j) eta_j with unit scale (``node_response``).
        self.node_R, scale = weights.node_response()
        self.model = StepModel(problem.loss.code, mixture.activation_code, mixture.L,
                               mixture.delta, scale, given)
        coords = nodes.innovations @ nodes.htilde_basis.T if given else nodes.innovations
        self.node_arrays = NodeArrays(nodes.c, nodes.y, nodes.h0, nodes.h_init,
                                      np.ascontiguousarray(coords), nodes.s)
        self.buffers = SweepBuffers.zeros(nodes.size, K)
        self.projection = nodes.c + math.sqrt(mixture.delta) * nodes.h0
        self.noise = (GivenHtilde(nodes.htilde_basis, nodes.innovations) if given
                      else CausalCholesky(K, nodes.innovations.shape[1], strict))
        self.Gamma = np.zeros((K + 1, K + 1))
        self.M_C = np.zeros((K + 1, K + 1))
        self.mu = np.zeros(K + 1)
        self.c_perp_diag = np.zeros(K + 1)
        self.norms = np.zeros(K + 1)  # |w|^2/d = m^2 + C_perp(k, k): the divergence monitor
        self.train_loss = np.zeros(K + 1)
        self.train_accuracy = np.zeros(K + 1)
        self.noise_row = np.zeros(nodes.innovations.shape[1])
        self.sqrt_R = math.sqrt(problem.R)
        self.response = response
        self.blocks = ResponseBlocks(K, response)
        self.deferred = None if accuracy else (np.empty((nodes.size, K + 1)), np.empty(K + 1))

    def _advance_nodes(self, k: int) -> float:
        """Steps 1-2 of the module docstring; returns the sd of r(k) from the newest innovation."""
        weights, delta, scale = self.weights, self.model.delta, self.model.eta
        covariance = weights.noise_covariance(self.M_C)
        # sd of r(k) carried by the innovation that enters first at step k (Rao-Blackwellised
        # accuracy): h(0) at k = 0; z(k-1) with the causal Cholesky map; none when htilde is
        # given (its KL coordinates are not innovations of single steps).
        given = self.model.htilde_given
        newest_sd = 0.0 if given else math.sqrt(delta) * weights.P[0] * self.sqrt_R
        if k >= 1 and not given:
            self.noise_row, sigma = self.noise.row(k - 1, covariance)
            # z(k-1) enters h(k) through eta_{k-1} R(k, k-1) xi(k-1): R(k, k-1) is 1 for plain GD,
            # b0 under Nesterov momentum, 1/n(k) under the spherical projection (docs/theory.md
            # 8.7, 8.9); eta_{k-1} the step of a variable grid (eq. 8.1).
            newest_sd = math.sqrt(delta) * weights.step(k - 1) * weights.R[k, k - 1] * sigma
        self.c_perp_diag[k] = weights.c_perp_diag(k, covariance)
        self.norms[k] = weights.m[k] ** 2 + self.c_perp_diag[k]
        reason = divergence_reason(self.norms, k)
        if reason is not None:
            raise DivergenceError(k, f"{reason} (is eta = {_eta_text(self.eta)} beyond the "
                                     "stability limit?)")
        self.blocks.add_row(self.node_R, k)
        # Early blocking pays under full-batch GD only: with a random selection the per-node
        # substitution skips the unselected steps, which the low-rank kernel does not.
        blocked = k >= self.response.blocked_from or (
            self.chain.deterministic and k >= self.response.low_rank_from
            and self.blocks.n_closed and self.blocks.all_low_rank)
        state = StepState(weights.m[k], weights.P[k], self.sqrt_R, newest_sd)
        effective_step(k, self.model, state, self.node_R, self.noise_row, self.node_arrays,
                       self.buffers, not blocked)
        if blocked:
            # R^T only for dense blocks: the fused low-rank kernel reads R (a (k+1)^2 copy saved
            # at every step: 2% of a GD solve at K = 500)
            R_T = (None if self.blocks.all_low_rank
                   else np.ascontiguousarray(self.node_R[: k + 1, : k + 1].T))
            response_rows(k, scale, delta, self.node_R, R_T, self.buffers.curv,
                          self.buffers.response, self.blocks)
        if given:
            sigma, coordinate = self.noise.newest(k)
            if coordinate is not None:
                newest_sd = math.sqrt(delta) * sigma
                self.buffers.rbar[:] -= newest_sd * coordinate
        return newest_sd

    def _kernel_rows(self, k: int) -> None:
        """Gamma(k, .), M_C(k, .), mu(k) (eqs. 3.5-3.7). With a random selection, s(k) enters
        row k only as a factor in front of Lambda'(r(k)), Lambda''(r(k)), while r(k), rho(k, .)
        and the earlier s(k') depend on s(0..k-1) only; by the Markov property s(k) is then
        replaced by its conditional expectation p(s(k-1)) (b at k = 0): exact in expectation,
        and it removes the sampling noise of s(k) itself."""
        alpha, delta = self.problem.alpha, self.model.delta
        w, buffers, chain = self.nodes.weight, self.buffers, self.chain
        if chain.deterministic:
            wg = w * buffers.grad[:, k]
            self.Gamma[k, : k + 1] = alpha * delta * ((w * buffers.curv[:, k]) @ buffers.response[:, : k + 1])
            self.M_C[k, : k + 1] = alpha * delta * (wg @ buffers.grad[:, : k + 1])
        else:
            p = chain.b if k == 0 else np.where(self.nodes.s[:, k - 1] > 0.5, chain.p_stay, chain.p_on)
            wp = w * p
            wg = wp * buffers.d1
            self.Gamma[k, : k + 1] = alpha * delta * ((wp * buffers.d2) @ buffers.response[:, : k + 1])
            self.M_C[k, :k] = alpha * delta * (wg @ buffers.grad[:, :k])
            self.M_C[k, k] = alpha * delta * (wg @ buffers.d1)
        self.M_C[: k + 1, k] = self.M_C[k, : k + 1]
        self.mu[k] = alpha * (wg @ self.projection)

    def _select(self, k: int) -> None:
        """s(k) of every node, drawn by the node set's selector against the state at step k
        (r(k) depends on s(0..k-1) only, and step k has used s(k) only in the columns k of grad
        and curv, which are set here)."""
        buffers = self.buffers
        self.nodes.selector.choose(k, self.nodes.s, buffers.feedback, buffers.d1)
        buffers.grad[:, k] = self.nodes.s[:, k] * buffers.d1
        buffers.curv[:, k] = self.nodes.s[:, k] * buffers.d2

    def step(self, k: int) -> None:
        newest_sd = self._advance_nodes(k)
        if self.nodes.selector is not None:
            self._select(k)
        alpha = self.problem.alpha
        w, buffers = self.nodes.weight, self.buffers
        self._kernel_rows(k)
        self.train_loss[k] = alpha * (w @ buffers.loss)
        if self.deferred is None:
            self.train_accuracy[k] = interpolated_accuracy(self.nodes, buffers.rbar, newest_sd,
                                                           self.problem.mixture)
        else:
            self.deferred[0][:, k] = buffers.rbar
            self.deferred[1][k] = newest_sd
        if not (np.all(np.isfinite(self.Gamma[k, : k + 1])) and np.isfinite(self.M_C[k, k])
                and np.isfinite(self.mu[k]) and np.isfinite(self.train_loss[k])):
            raise DivergenceError(k, "a kernel (Gamma, M_C or mu) is not finite")
        if k < self.K:
            self.weights.advance(k, self.Gamma[k, : k + 1], self.mu[k], self.M_C)

    def result(self) -> Sweep:
        weights = self.weights
        C = weights.m**2 + self.c_perp_diag
        return Sweep(
            m=weights.m.copy(), C=C,
            gen_error=np.asarray(self.problem.mixture.gen_error(weights.m, C), dtype=float),
            train_loss=self.train_loss, train_accuracy=self.train_accuracy, Gamma=self.Gamma,
            M_C=self.M_C, mu=self.mu, response=weights.R, P=weights.P,
            C_perp=weights.c_perp(self.M_C),
            **({} if self.deferred is None else {"rbar": self.deferred[0], "newest_sd": self.deferred[1]}),
            indefinite=getattr(self.noise, "indefinite", None),
        )


def causal_sweep(problem, chain, eta, K: int, nodes, *, weights: WeightSide | None = None,
                 momentum=None, response: ResponseOptions = ResponseOptions(), progress=None,
                 accuracy: bool = True, strict: bool = False) -> Sweep:
    """Solve the discrete-time DMFT on k = 0..K by one forward sweep over ``nodes``.

    docs/theory.md eqs. 3.1-3.11; ``eta`` a scalar (uniform grid) or the array of the K steps of
    a variable grid (eq. 9.1, gradient descent with a time-dependent rate; plain GD only). The
    noise xi of the nodes is drawn through the causal Cholesky factor of the M_C being built (``nodes.htilde_basis`` None: the innovations are standard
    normals), or htilde = innovations @ htilde_basis^T is given (KL coordinates of C_perp).
    ``chain`` is the selection law, for the conditional expectation of s(k) in the kernel rows.
    ``accuracy`` False defers the training accuracy (``Sweep.accuracy``; the iterations of a
    fixed point do not need it). ``weights``
    (default: a new ``_weights.weight_side(problem, momentum, K, eta)``, advanced by the sweep:
    plain, momentum (``momentum``: a ``HeavyBall`` or ``Nesterov``, docs/theory.md eq. 8.6) or
    spherical, with the problem's Langevin temperature) may be ``FrozenWeights`` (see
    ``observe``). ``progress``: an object with ``step(note)``, called once per step.
    ``strict``: an M_C that turns indefinite (a node set that cannot resolve the random selection,
    docs/theory.md after eq. 3.12) raises UnresolvedSelectionError; otherwise the sweep goes on
    and ``Sweep.indefinite`` says where it turned. Raises DivergenceError on a blow-up. Its memory is ``_resources.sweep_memory`` (checked by
    ``solve`` before it starts).
    """
    if weights is None:
        weights = weight_side(problem, momentum, K, eta)
    march = _March(problem, chain, eta, K, nodes, weights, response, accuracy, strict)
    # One BLAS thread: the numba kernels run on every core, and OpenBLAS threads, which
    # spin-wait after each call, take the cores from the numba regions that follow. Measured
    # (same process, Persistent-SGD b = 0.3, K = 500, dense-blocked response): 9.9 s with two
    # BLAS threads, 0.47 s with one (128 nodes); 13.6 s vs 2.8-3.5 s (1024 nodes). GD (low-rank
    # kernel, few BLAS calls): 0.72 s vs 0.69 s.
    t = eta * np.arange(K + 1) if np.ndim(eta) == 0 else np.concatenate([[0.0], np.cumsum(eta)])
    with threadpool_limits(limits=1, user_api="blas"):
        for k in range(K + 1):
            march.step(k)
            if progress is not None:
                progress.step(f"t = {t[k]:.4g} of {t[K]:.4g}", units=nodes.size)
    return march.result()


def observe(problem, chain, eta, K: int, nodes, solved: Sweep) -> Sweep:
    """Observer pass: drive ``nodes`` through the solved m, P, R and M_C of ``solved``.

    Only the observables of the returned sweep are new (its kernels are averages the dynamics
    never used); used for the training accuracy of rules whose nodes integrate an indicator
    badly (``rules.Quadrature``).
    """
    frozen = FrozenWeights(K, eta, problem.lam, problem.R, solved, problem.temperature)
    return causal_sweep(problem, chain, eta, K, nodes, weights=frozen)
