r"""The DMFT solver: one causal forward sweep of the discrete-time equations per replicate.

Causality (THEORY section 3): the effective process at step k needs the kernels Gamma, M_C, mu
of steps < k only, and the weight side at step k+1 needs the kernels of step k. So the equations
are solved exactly (up to the averaging rule) by marching k = 0..K once; there is no global
fixed-point iteration to converge. Each step:

1. the Cholesky row k-1 of M_C (to draw xi(k-1) for every node),
2. the numba kernel ``effective_step`` (h(k), r(k), losses, response row rho(k, .)),
3. the kernel rows, as weighted averages over nodes (eqs. 3.5-3.7 of docs/theory.md):
       Gamma(k, l) = alpha Delta < s(k) Lambda''(r(k)) rho(k, l) >,
       M_C(k, k')  = alpha Delta < s(k) Lambda'(r(k)) s(k') Lambda'(r(k')) >,
       mu(k)       = alpha < s(k) Lambda'(r(k)) (c + sqrt(Delta) h0) >,
   and the observables e(k) = alpha <Lambda(r(k))>, a(k) = <[y phi(r(k)) > 0]>,
4. the weight-side step (``WeightSide.advance``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ._averaging import QMC, AveragingRule, NodeSet, interpolated_accuracy
from ._errors import DivergenceError, ParameterError, check_real
from ._problem import Problem
from ._result import DMFTResult
from ._selection import Chain, FullBatch, SelectionProcess
from . import _sweep
from ._sweep import ResponseBlocks, cholesky_append_row, cholesky_jitter, effective_step, response_rows
from ._weights import WeightSide

__all__ = ["solve", "horizon"]

# Per-node buffers are O(N K) doubles; refuse beyond this.
MEMORY_LIMIT_BYTES = 12 * 2**30
# |w|^2/d beyond this is a blow-up (eta beyond stability): stop before inf/NaN appear.
BLOWUP_NORM = 1e100


def horizon(eta: float, t_max: float) -> int:
    """Number of steps K with K eta <= t_max (a tolerance absorbs round-off in t_max/eta)."""
    return int(math.floor(t_max / eta + 1e-9))


@dataclass
class _Sweep:
    """Everything one replicate's causal sweep produces."""

    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    Gamma: np.ndarray
    M_C: np.ndarray
    mu: np.ndarray
    R: np.ndarray
    P: np.ndarray
    C_perp: np.ndarray


class _Progress:
    """A one-line progress report on stderr, refreshed at most every half second."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label
        self.done = 0
        self.last = 0.0
        self.start = time.perf_counter()

    def step(self, note: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.5 and self.done < self.total:
            return
        self.last = now
        frac = self.done / self.total
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% {note} {now - self.start:6.1f}s")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def causal_sweep(problem: Problem, chain: Chain, eta: float, K: int, nodes: NodeSet,
                 progress: _Progress | None = None, noise_map: np.ndarray | None = None,
                 frozen: _Sweep | None = None) -> _Sweep:
    """Solve the discrete-time DMFT on k = 0..K by one forward sweep over the given nodes.

    ``noise_map`` None: xi(j) = sum_i L(j, i) z(i) with L the Cholesky factor of the M_C being
    built (exactly causal). Otherwise a fixed (K, n_modes) matrix B with xi = B z (the
    Karhunen-Loeve modes of a previous iterate's M_C; used by the global iteration).
    ``frozen``: a solved sweep whose m, P, R and M_C drive the nodes instead of the kernels
    being averaged (an observer pass: only the observables of the returned sweep are new).
    """
    mixture, loss = problem.mixture, problem.loss
    alpha, delta = mixture.alpha, mixture.delta
    N = nodes.size
    per_node = 8 * N * (K + 1) * 5  # xi, g, a, response, innovations
    # Gamma, M_C, its Cholesky factor, R, R^T, C_perp, and the low-rank coefficients of R
    # (ResponseBlocks: (K / 64) x K x 32 doubles, i.e. half a K x K matrix).
    kernels = 8 * (K + 1) ** 2 * 6.5
    if per_node + kernels > MEMORY_LIMIT_BYTES:
        raise ParameterError(
            f"the sweep needs {(per_node + kernels) / 2**30:.1f} GiB for {N} nodes and K = {K} "
            f"steps (per-node buffers {per_node / 2**30:.1f} GiB, (K+1)^2 kernels "
            f"{kernels / 2**30:.1f} GiB; limit {MEMORY_LIMIT_BYTES / 2**30:.0f} GiB); use fewer "
            "nodes or a shorter t_max"
        )
    response = np.zeros((N, K + 1))
    xi = np.zeros((N, max(K, 1)))
    g = np.zeros((N, K + 1))
    a = np.zeros((N, K + 1))
    loss_out = np.empty(N)
    rbar_out = np.empty(N)
    w = nodes.weight
    projection = nodes.c + math.sqrt(delta) * nodes.h0

    weights = WeightSide(K, eta, problem.lam, problem.m0, problem.R)
    if frozen is not None:
        weights.m[:], weights.P[:], weights.R[:] = frozen.m, frozen.P, frozen.R
    Gamma = np.zeros((K + 1, K + 1))
    M_C = np.zeros((K + 1, K + 1))
    noise_cov = M_C if frozen is None else frozen.M_C
    chol = np.zeros((K + 1, K + 1))
    mu = np.zeros(K + 1)
    c_perp_diag = np.zeros(K + 1)
    train_loss = np.zeros(K + 1)
    train_accuracy = np.zeros(K + 1)
    sqrt_R = math.sqrt(problem.R)
    n_cols = nodes.innovations.shape[1]
    noise_row = np.zeros(n_cols)
    noise_scale = 0.0  # max_{i<k} M_C(i, i): the scale of the Cholesky jitter
    blocks = ResponseBlocks(K, _sweep.RESPONSE_BLOCK, dense=not _sweep.LOW_RANK_BLOCKS)

    # One BLAS thread: the numba kernels run on every core, and OpenBLAS threads, which
    # spin-wait after each call, take the cores from the numba regions that follow. Measured
    # (same process, Persistent-SGD b = 0.3, K = 500, dense-blocked response): 9.9 s with two
    # BLAS threads, 0.47 s with one (128 nodes); 13.6 s vs 2.8-3.5 s (1024 nodes). GD (low-rank
    # kernel, few BLAS calls): 0.72 s vs 0.69 s.
    with threadpool_limits(limits=1, user_api="blas"):
        for k in range(K + 1):
            # sd of r(k) carried by the innovation that enters first at step k (Rao-Blackwellised
            # accuracy): h(0) at k = 0; z(k-1) with the causal Cholesky map; none with KL modes.
            newest_sd = math.sqrt(delta) * weights.P[0] * sqrt_R if k == 0 else 0.0
            if k >= 1 and noise_map is None:
                noise_scale = max(noise_scale, noise_cov[k - 1, k - 1])
                cholesky_append_row(chol, noise_cov, k - 1, cholesky_jitter(k - 1, noise_scale))
                noise_row = np.ascontiguousarray(chol[k - 1, :n_cols])
                newest_sd = math.sqrt(delta) * eta * chol[k - 1, k - 1]
            elif k >= 1:
                noise_row = np.ascontiguousarray(noise_map[k - 1])
            c_perp_diag[k] = weights.c_perp_diag(k, noise_cov)
            norm = weights.m[k] ** 2 + c_perp_diag[k]
            if not np.isfinite(norm) or norm > BLOWUP_NORM:
                raise DivergenceError(k, f"|w|^2/d = {norm:.3g}: the dynamics blows up "
                                         f"(is eta = {eta} beyond the stability limit?)")
            R_T = np.ascontiguousarray(weights.R[: k + 1, : k + 1].T)
            blocks.add_row(weights.R, k)
            blocked = k >= _sweep.BLOCKED_RESPONSE_FROM
            effective_step(
                k, loss.code, mixture.activation_code, mixture.L, delta, eta,
                weights.m[k], weights.P[k], sqrt_R, R_T, noise_row, newest_sd,
                nodes.c, nodes.y, nodes.h0, nodes.h_init, nodes.innovations, nodes.s,
                xi, g, a, response, loss_out, rbar_out, not blocked,
            )
            if blocked:
                response_rows(k, eta, delta, weights.R, R_T, a, response, blocks)
            wg = w * g[:, k]
            Gamma[k, : k + 1] = alpha * delta * ((w * a[:, k]) @ response[:, : k + 1])
            M_C[k, : k + 1] = alpha * delta * (wg @ g[:, : k + 1])
            M_C[: k + 1, k] = M_C[k, : k + 1]
            mu[k] = alpha * (wg @ projection)
            train_loss[k] = alpha * (w @ loss_out)
            train_accuracy[k] = interpolated_accuracy(nodes, rbar_out, newest_sd, mixture)
            if not (np.all(np.isfinite(Gamma[k, : k + 1])) and np.isfinite(M_C[k, k])
                    and np.isfinite(mu[k]) and np.isfinite(train_loss[k])):
                raise DivergenceError(k, "a kernel (Gamma, M_C or mu) is not finite")
            if k < K and frozen is None:
                weights.advance(k, Gamma[k, : k + 1], mu[k])
            if progress is not None:
                progress.step(f"k={k}/{K}")

    C = weights.m**2 + c_perp_diag
    return _Sweep(
        m=weights.m.copy(), C=C, gen_error=np.asarray(mixture.gen_error(weights.m, C), dtype=float),
        train_loss=train_loss, train_accuracy=train_accuracy, Gamma=Gamma, M_C=M_C, mu=mu,
        R=weights.R, P=weights.P, C_perp=weights.c_perp(M_C),
    )


def _mean_and_error(values: list[np.ndarray]):
    stack = np.stack(values)
    return stack.mean(axis=0), stack.std(axis=0, ddof=1) / math.sqrt(len(values))


def run_replicates(rule: AveragingRule, problem: Problem, chain: Chain, eta: float, K: int,
                   progress: bool):
    """Independent causal sweeps, one per replicate of ``rule``; mean and standard error."""
    generators = rule.replicate_generators()
    tracker = _Progress(progress, len(generators) * (K + 1), "quaddmft solve")
    sweeps = [causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rng), tracker)
              for rng in generators]
    fields = {}
    for name in ("m", "C", "gen_error", "train_loss", "train_accuracy"):
        fields[name], fields[f"{name}_err"] = _mean_and_error([getattr(s, name) for s in sweeps])
    for name in ("Gamma", "M_C", "mu", "R", "P", "C_perp"):
        fields[name] = np.mean([getattr(s, name) for s in sweeps], axis=0)
    return fields, [], f"causal sweep of K = {K} steps, {len(sweeps)} replicates of {rule.name} nodes"


def solve(problem: Problem, schedule: SelectionProcess | None = None, *, eta: float, t_max: float,
          rule: AveragingRule | None = None, progress: bool = False) -> DMFTResult:
    r"""Solve the discrete-time DMFT of THEORY section 3 on t_k = k eta, k = 0..K, K = floor(t_max/eta).

    Parameters
    ----------
    problem : Problem
        Mixture, loss, ridge lam, initial variance R and overlap m0.
    schedule : SelectionProcess, default FullBatch()
        FullBatch(), SGD(b) or PersistentSGD(b, tau, law); its discrete law at this eta is used.
    eta : float > 0
        Learning rate, also the time step of the grid.
    t_max : float >= eta
        Horizon in time units.
    rule : AveragingRule, default QMC()
        How <.> is discretised (``QMC``, ``MonteCarlo``, ``Quadrature``). For the sampling rules
        each replicate is an independent causal sweep, the result their mean and ``*_err`` one
        standard error of that mean; ``Quadrature`` iterates Karhunen-Loeve modes to a fixed
        point and reports its error indicator (see its docstring).
    progress : bool
        Report progress on stderr.

    Returns
    -------
    DMFTResult

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range).
    DivergenceError when the dynamics blows up (step and reason given).
    ConvergenceError when an iterative rule does not reach its tolerance.
    """
    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a quaddmft.Problem, got {problem!r}")
    schedule = FullBatch() if schedule is None else schedule
    if not isinstance(schedule, SelectionProcess):
        raise ParameterError(f"schedule must be FullBatch(), SGD(b) or PersistentSGD(b, tau), got {schedule!r}")
    rule = QMC() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (QMC, MonteCarlo), got {rule!r}")
    eta = check_real("eta", eta, low=0.0)
    t_max = check_real("t_max", t_max, low=0.0)
    K = horizon(eta, t_max)
    if K < 1:
        raise ParameterError(f"t_max = {t_max} must be at least one step, eta = {eta}")
    chain = schedule.chain(eta)

    started = time.perf_counter()
    fields, history, message = rule.run(problem, chain, eta, K, progress)
    params = {**problem.params(), **schedule.params(), **rule.params(),
              "eta": eta, "t_max": t_max, "K": K,
              "chain": {"b": chain.b, "p_on": chain.p_on, "p_stay": chain.p_stay}}
    return DMFTResult(
        t=eta * np.arange(K + 1), params=params, status="success",
        message=message, history=history,
        wall_time=time.perf_counter() - started, **fields,
    )
