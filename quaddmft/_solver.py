r"""``solve``: the DMFT of THEORY section 3 by the causal sweep, driven by an averaging rule.

The solver orchestrates; the rule only produces node sets (``rules``):

* ``SampledRule`` (QMC, MonteCarlo): one causal sweep per independent replicate
  (``_causal.causal_sweep``); the result is their mean, ``*_err`` one standard error of it.
* ``ModalRule`` (Quadrature): nodes over Karhunen-Loeve coordinates of a covariance of xi. For
  each of the rule's parts (sets of selection paths) the covariance is iterated to a fixed
  point, M_C -> causal sweep over nodes(KL(M_C)) -> M_C (``_fixed_point.anderson``), from the
  causal sweep of the rule's ``start_rule``; the same is done for each ``coarser`` variant from
  the converged kernels, and ``*_err`` is the refinement indicator sum |fine - coarse| (combined
  with the spread of sampled parts); the training accuracy comes from an observer pass
  (``_causal.observe``) over the rule's ``observer`` nodes.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from ._causal import Sweep, causal_sweep, observe, sweep_memory
from ._errors import ConvergenceError, ParameterError
from ._fixed_point import anderson
from ._inputs import check_run, horizon
from ._observables import CURVES, KERNELS, mean_and_standard_error
from ._progress import Progress
from ._result import DMFTResult
from .rules import QMC, AveragingRule, ModalRule, SampledRule

__all__ = ["solve", "horizon", "default_rule", "memory_estimate"]


def default_rule() -> AveragingRule:
    """The averaging rule ``solve`` uses when none is given (also the default of ``qd.sweep``)."""
    return QMC()


# Bytes of a solve that no array count sees (see memory_estimate).
RUN_OVERHEAD = 2**20


def memory_estimate(problem, schedule=None, *, eta: float, t_max: float,
                    rule: AveragingRule | None = None) -> int | None:
    """Bytes a solve holds at its peak, by the count of ``_causal.sweep_memory``; None for modal
    rules (their node count is known only once the KL modes are).

    A sampled rule sweeps its n replicates one after the other, keeping four (K+1)^2 kernels
    (Gamma, M_C, R, C_perp) of each; the peak is the larger of the last sweep (one sweep over
    the N nodes of a replicate, per-node buffers and kernels as ``sweep_memory`` counts them,
    the replicate's selection paths, N (K+1) doubles, and the kernels of the n - 1 sweeps
    before) and the averaging that follows (the 4 n kept kernels, one of them stacked over the
    replicates, n more, and the four means); plus ``RUN_OVERHEAD`` for what the count leaves
    out (Python objects, allocator slack, page granularity: 0.05-0.4 MiB measured). N is
    counted by building the first replicate's node set.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic")
    >>> memory_estimate(problem, eta=0.2, t_max=2.0, rule=qd.QMC(n_points=16, n_h0=4))
    1148676
    """
    run = check_run(problem, schedule, eta, t_max)
    rule = default_rule() if rule is None else rule
    if not isinstance(rule, SampledRule):
        return None
    K = run.K
    N = rule.nodes(problem, run.chain, K, rule.parts(problem, run.chain, K)[0]).size
    per_node, kernels = sweep_memory(N, K)
    matrix, n = 8 * (K + 1) ** 2, rule.n_replicates
    last_sweep = per_node + kernels + 8 * N * (K + 1) + 4 * (n - 1) * matrix
    averaging = (4 * n + n + 4) * matrix
    return max(last_sweep, averaging) + RUN_OVERHEAD


def _sampled(rule: SampledRule, problem, chain, eta, K, tracker):
    """Independent causal sweeps, one per replicate of ``rule``; mean and standard error."""
    sweeps = [causal_sweep(problem, eta, K, rule.nodes(problem, chain, K, rng), progress=tracker)
              for rng in rule.parts(problem, chain, K)]
    fields = {}
    for name in CURVES:
        fields[name], fields[f"{name}_err"] = mean_and_standard_error([getattr(s, name) for s in sweeps])
    for name in KERNELS:
        fields[name] = np.mean([getattr(s, name) for s in sweeps], axis=0)
    message = f"causal sweep of K = {K} steps, {len(sweeps)} replicates of {rule.name} nodes"
    return fields, [], message


def _converge(rule: ModalRule, problem, chain, eta, K, part, start: np.ndarray, history, tag):
    """The fixed point M_C = sweep(nodes(KL(M_C))).M_C of one part, from the covariance ``start``."""
    lower = np.tril_indices(K + 1)
    gamma_prev = [None]

    def evaluate(x):
        M = np.zeros((K + 1, K + 1))
        M[lower] = x
        M = M + np.tril(M, -1).T
        modes = rule.modes(M, K)
        nodes = rule.nodes(problem, chain, K, part, modes)
        sweep = causal_sweep(problem, eta, K, nodes)
        change = np.abs(sweep.M_C - M).max() / max(np.abs(sweep.M_C).max(), 1e-300)
        if gamma_prev[0] is not None:
            change = max(change, np.abs(sweep.Gamma - gamma_prev[0]).max()
                         / max(np.abs(sweep.Gamma).max(), 1e-300))
        gamma_prev[0] = sweep.Gamma
        record = {"n_modes": modes.n_modes, "discarded": modes.discarded,
                  "n_nodes": int(nodes.size), **rule.describe()}
        return sweep.M_C[lower], change, sweep, record

    options = rule.fixed_point
    label = tag + ", ".join(f"{key} {value:g}" for key, value in rule.describe().items())
    return anderson(evaluate, start[lower], tol=options.tol, max_iter=options.max_iter,
                    depth=options.anderson, history=history, label=label)


def _solve_part(rule, problem, chain, eta, K, part, start, history, tag):
    """Converged sweep of one part, and its refinement indicator per curve (None: no coarser)."""
    fine = _converge(rule, problem, chain, eta, K, part, start, history, tag)
    coarse = [_converge(c, problem, chain, eta, K, part, fine.M_C, history, tag)
              for c in rule.coarser()]
    if not coarse:
        return fine, None
    indicator = {name: sum(np.abs(getattr(fine, name) - getattr(c, name)) for c in coarse)
                 for name in CURVES}
    return fine, indicator


def _observed_accuracy(rule: ModalRule, problem, chain, eta, K, solved: Sweep):
    """Training accuracy by the observer pass over ``rule.observer``'s replicates."""
    observer = rule.observer
    values = [observe(problem, eta, K, observer.nodes(problem, chain, K, rng), solved).train_accuracy
              for rng in observer.parts(problem, chain, K)]
    return mean_and_standard_error(values)


def _combine(results, sampled: bool, K: int) -> dict:
    """Curves: mean over parts, err = hypot(spread of sampled parts, mean indicator)."""
    fields = {}
    for name in CURVES:
        values = np.stack([getattr(r[0], name) for r in results])
        spread = values.std(axis=0, ddof=1) / math.sqrt(len(results)) if sampled else 0.0
        quad = np.mean([r[1][name] for r in results], axis=0) if results[0][1] is not None else 0.0
        fields[name] = values.mean(axis=0)
        fields[f"{name}_err"] = np.hypot(spread, quad) + np.zeros(K + 1)
    for name in KERNELS:
        fields[name] = np.mean([getattr(r[0], name) for r in results], axis=0)
    return fields


def _modal(rule: ModalRule, problem, chain, eta, K, tracker):
    start, _, _ = _sampled(rule.start_rule, problem, chain, eta, K, None)
    parts, sampled = rule.parts(problem, chain, K)
    history = []
    candidates = rule.candidates()
    M0 = start["M_C"]
    for candidate in candidates:
        results = []
        for i, part in enumerate(parts):
            tag = f"paths {i}: " if sampled else ""
            results.append(_solve_part(candidate, problem, chain, eta, K, part, M0, history, tag))
            tracker.step(", ".join(f"{k} {v:g}" for k, v in candidate.describe().items()))
        fields = _combine(results, sampled, K)
        solved = results[0][0] if len(results) == 1 else replace(
            results[0][0], **{n: np.mean([getattr(r[0], n) for r in results], axis=0)
                              for n in ("m", "P", "response", "M_C")})
        fields["train_accuracy"], fields["train_accuracy_err"] = _observed_accuracy(
            candidate, problem, chain, eta, K, solved)
        if rule.accepts(fields["gen_error_err"] if results[0][1] is not None else None):
            break
        M0 = fields["M_C"]
    else:
        raise ConvergenceError(rule.search_exhausted(fields["gen_error_err"]), history=history)
    main = [h for h in history if all(h.get(k) == v for k, v in candidate.describe().items())][-1]
    message = (f"{rule.name}: {', '.join(f'{k} {v:g}' for k, v in candidate.describe().items())}, "
               f"{len(history)} sweeps in all, last change {main['change']:.2g}, "
               f"{main['n_modes']} KL modes (discarded variance {main['discarded']:.1e}), "
               f"{main['n_nodes']} nodes" + (", nested path averaging" if sampled else ""))
    return fields, history, message


def solve(problem, schedule=None, *, eta: float, t_max: float, rule: AveragingRule | None = None,
          progress: bool = False) -> DMFTResult:
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
        standard error of that mean (``error_kind`` "standard error"); ``Quadrature`` iterates
        Karhunen-Loeve modes to a fixed point and reports its refinement indicator
        (``error_kind`` "refinement"; see its docstring).
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
    run = check_run(problem, schedule, eta, t_max)
    rule = default_rule() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (QMC, MonteCarlo, Quadrature), got {rule!r}")
    K, chain = run.K, run.chain

    started = time.perf_counter()
    if isinstance(rule, ModalRule):
        steps = len(rule.candidates()) * len(rule.parts(problem, chain, K)[0])
        tracker = Progress(progress, steps, f"quaddmft {rule.name}")
        fields, history, message = _modal(rule, problem, chain, run.eta, K, tracker)
    else:
        tracker = Progress(progress, rule.n_replicates * (K + 1), "quaddmft solve")
        fields, history, message = _sampled(rule, problem, chain, run.eta, K, tracker)
    return DMFTResult(
        t=run.eta * np.arange(K + 1), params={**run.params(), **rule.params()},
        error_kind=rule.error_kind.value, message=message, history=history,
        wall_time=time.perf_counter() - started, **fields,
    )
