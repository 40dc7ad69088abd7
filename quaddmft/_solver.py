r"""``solve``: the DMFT of THEORY section 3 by the causal sweep, driven by an averaging rule.

The solver orchestrates; the rule only produces node sets (``rules``):

* ``RefinedRule`` (Quadrature, the default): deterministic node sets on a ladder of
  resolutions, coarse to fine. Under full-batch GD a rung's nodes are KL coordinates of C_perp:
  C_perp is iterated to a fixed point, C_perp -> causal sweep over nodes(KL(C_perp)) -> C_perp
  (``_fixed_point.anderson``), each rung warm-started from the one before (the first from one
  causal sweep of the coarsest causal nodes). Otherwise a rung is one causal sweep. ``*_err``
  of a rung is the rule's estimate from its difference with the rung before; the ladder stops
  when the rule accepts it.
* ``SampledRule`` (QMC, MonteCarlo): one causal sweep per independent replicate
  (``_causal.causal_sweep``); the result is their mean, ``*_err`` one standard error of it.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ._causal import causal_sweep
from ._errors import DivergenceError, ParameterError
from ._fixed_point import anderson
from ._inputs import check_run, horizon
from ._observables import CURVES, KERNELS, mean_and_standard_error
from ._progress import Progress
from ._resources import check_solve
from ._result import DMFTResult, Status
from .rules import AveragingRule, Quadrature, RefinedRule, SampledRule

__all__ = ["solve", "horizon", "default_rule", "estimate"]


def default_rule() -> AveragingRule:
    """The averaging rule ``solve`` uses when none is given (also the default of ``qd.sweep``)."""
    return Quadrature()


def estimate(problem, schedule=None, *, eta: float, t_max: float,
             rule: AveragingRule | None = None, momentum=None, **_):
    """The ``_resources.Estimate`` (peak bytes, rough seconds) of the solve of these arguments:
    the estimate ``solve`` itself checks against ``max_memory`` (``_resources.check_solve``),
    without the refusal. Other keyword arguments of ``solve`` are accepted and ignored."""
    run = check_run(problem, schedule, eta, t_max, momentum)
    rule = default_rule() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (Quadrature, QMC, MonteCarlo), got {rule!r}")
    return check_solve(rule, problem, run.chain, run.K, 2.0**80)  # no refusal: any size


def _sampled(rule: SampledRule, problem, chain, eta, K, tracker, momentum):
    """Independent causal sweeps, one per replicate of ``rule``; mean and standard error."""
    sweeps = [causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rng),
                           momentum=momentum, progress=tracker)
              for rng in rule.parts(problem, chain, K)]
    fields = {}
    for name in CURVES:
        fields[name], fields[f"{name}_err"] = mean_and_standard_error([getattr(s, name) for s in sweeps])
    for name in KERNELS:
        fields[name] = np.mean([getattr(s, name) for s in sweeps], axis=0)
    message = f"causal sweep of K = {K} steps, {len(sweeps)} replicates of {rule.name} nodes"
    return fields, [], message


def _converge(rule: RefinedRule, problem, chain, eta, K, resolution, start, history, label,
              momentum, tracker=None):
    """The fixed point C_perp = sweep(nodes(KL(C_perp))).C_perp of one rung, from ``start``."""
    lower = np.tril_indices(K + 1)
    gamma_prev = [None]

    def evaluate(x):
        C = np.zeros((K + 1, K + 1))
        C[lower] = x
        C = C + np.tril(C, -1).T
        nodes = rule.nodes(problem, chain, K, resolution, covariance=C)
        sweep = causal_sweep(problem, chain, eta, K, nodes, momentum=momentum, accuracy=False,
                             progress=tracker)
        change = np.abs(sweep.C_perp - C).max() / max(np.abs(sweep.C_perp).max(), 1e-300)
        if gamma_prev[0] is not None:
            change = max(change, np.abs(sweep.Gamma - gamma_prev[0]).max()
                         / max(np.abs(sweep.Gamma).max(), 1e-300))
        gamma_prev[0] = sweep.Gamma
        record = {"n_modes": int(nodes.htilde_basis.shape[1]), "n_nodes": int(nodes.size)}
        return sweep.C_perp[lower], change, (sweep, nodes), record

    options = rule.fixed_point
    sweep, nodes = anderson(evaluate, start[lower], tol=options.tol, max_iter=options.max_iter,
                            depth=options.anderson, history=history, label=label)
    sweep.train_accuracy = sweep.accuracy(nodes, problem.mixture)
    return sweep


def _rung(rule, problem, chain, eta, K, index, resolution, start, history, momentum, tracker):
    label = f"rung {index}"
    if start is not None:
        return _converge(rule, problem, chain, eta, K, resolution, start, history, label, momentum,
                         tracker)
    nodes = rule.nodes(problem, chain, K, resolution)
    sweep = causal_sweep(problem, chain, eta, K, nodes, momentum=momentum, progress=tracker)
    history.append({"stage": label, "iteration": 1, "change": 0.0, "n_nodes": int(nodes.size)})
    return sweep


def _refined(rule: RefinedRule, problem, chain, eta, K, tracker, momentum):
    rungs = rule.rungs(problem, chain, K)
    history = []
    start = None
    if rule.modal(problem, chain, K):  # the first covariance: one causal sweep of the coarsest causal nodes
        start = causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rungs[0]),
                             momentum=momentum, accuracy=False).C_perp
    solved, errors, accepted, skipped = [], None, False, None
    for index, resolution in enumerate(rungs):
        try:
            sweep = _rung(rule, problem, chain, eta, K, index, resolution, start, history,
                          momentum, tracker)
        except DivergenceError as exc:
            # A coarse node set can blow up where the dynamics does not (measured: 512-2048
            # Sobol' paths, three-cluster Persistent-SGD, validation/report_notes.md); the finer
            # rungs decide. The finest rung, or a ladder left with fewer than two rungs, reports it.
            if index == len(rungs) - 1 or len(rungs) - 1 - index + len(solved) < 2:
                raise
            skipped = skipped or exc
            history.append({"stage": f"rung {index}", "iteration": 0, "change": None,
                            "n_nodes": 0, "diverged_at": exc.step})
            continue
        if start is not None:
            start = sweep.C_perp
        fields = {name: getattr(sweep, name) for name in CURVES + KERNELS}
        solved.append(fields)
        if len(solved) > 1:
            errors = rule.estimate(solved, problem, chain, K)
            accepted = rule.accepts(fields, errors)
            if accepted:
                break
    if not accepted and rule.target is not None:
        warnings.warn(f"{rule.name}: the tolerance {rule.target:g} was not reached at the "
                      f"finest rung allowed ({index}); the result carries its estimated errors "
                      f"(largest {max(float(e.max()) for e in errors.values()):.2g})",
                      RuntimeWarning, stacklevel=3)
    fields.update({f"{name}_err": errors[name] for name in CURVES})
    kind = "KL modes of C_perp" if rule.modal(problem, chain, K) else "causal sweep, Sobol' points"
    estimates = ", ".join(f"{name} {errors[name].max():.1g}" for name in CURVES)
    message = (f"{rule.name}: rung {index} of {len(rungs) - 1} ({kind}), {len(history)} sweeps; "
               f"estimated errors (sup over t): {estimates}")
    if skipped is not None:
        message += f"; a coarser rung diverged at step k = {skipped.step} and was skipped"
    return fields, history, message


def solve(problem, schedule=None, *, eta: float, t_max: float, rule: AveragingRule | None = None,
          momentum=None, progress: bool = False, max_memory: float | None = None) -> DMFTResult:
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
    rule : AveragingRule, default Quadrature()
        How <.> is discretised. ``Quadrature`` (deterministic, reproducible bit for bit):
        ``*_err`` is its refinement estimate (``error_kind`` "refinement"). The sampling rules
        ``QMC`` and ``MonteCarlo``: each replicate an independent causal sweep, the result their
        mean and ``*_err`` one standard error of it (``error_kind`` "standard error").
    momentum : Momentum, optional
        ``HeavyBall(beta)`` or ``Nesterov(beta)`` (docs/theory.md eq. 8.6), with any schedule;
        None is plain (S)GD. Not with the spherical constraint (ParameterError naming both).
    progress : bool
        Report progress on stderr.
    max_memory : float > 0, default 3/4 of the machine's memory
        Bytes the solve may use: its memory is estimated before it starts
        (``_resources.check_solve``) and refused beyond this.

    Returns
    -------
    DMFTResult

    A run that diverges (``_errors.divergence_reason``: |w|^2/d past 1e6 times its initial
    scale while growing geometrically, or not finite) is not an exception: the result has
    ``status`` "diverged", its curves stop before the step named in ``message`` (the horizon is
    solved again up to there), and a RuntimeWarning says so.

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range), or a run that diverges
                    at its first step.
    ConvergenceError when an iterative rule does not reach its tolerance.
    """
    run = check_run(problem, schedule, eta, t_max, momentum)
    rule = default_rule() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (Quadrature, QMC, MonteCarlo), got {rule!r}")
    check_solve(rule, problem, run.chain, run.K, max_memory)
    started = time.perf_counter()
    # One BLAS thread for the whole solve (see _causal.causal_sweep for the speed): it also makes
    # every BLAS and LAPACK result (the kernel rows, the KL eigendecomposition) independent of
    # the number of threads, for bit-for-bit reproducibility.
    with threadpool_limits(limits=1, user_api="blas"):
        (fields, history, message), K, divergence = _until_divergence(rule, problem, run, progress)
    status = Status.SUCCESS
    if divergence is not None:
        status = Status.DIVERGED
        message = (f"diverged at step k = {divergence[0]} (t = {divergence[0] * run.eta:.6g}): "
                   f"{divergence[1]}; curves up to t = {K * run.eta:.6g} ({message})")
        warnings.warn(f"solve: {message}", RuntimeWarning, stacklevel=2)
    return DMFTResult(
        t=run.eta * np.arange(K + 1), params={**run.params(), **rule.params()},
        error_kind=rule.error_kind, status=status, message=message, history=history,
        wall_time=time.perf_counter() - started, **fields,
    )


def _until_divergence(rule, problem, run, progress):
    """Solve on the run's horizon; if the dynamics diverges at step k, solve again on steps
    0..k-1 (repeatedly, should a coarser stage diverge earlier). Returns the strategy's
    (fields, history, message), the horizon solved and (step, reason) of the divergence."""
    K, chain, divergence = run.K, run.chain, None
    while True:
        tracker = Progress(progress, rule.cost(problem, chain, K)[1] * (K + 1),
                           f"quaddmft {rule.name}")
        strategy = _refined if isinstance(rule, RefinedRule) else _sampled
        try:
            return (strategy(rule, problem, chain, run.eta, K, tracker, run.momentum), K,
                    divergence)
        except DivergenceError as exc:
            if divergence is None or exc.step < divergence[0]:
                divergence = (exc.step, exc.reason)
            if exc.step > K:  # never reached by a sweep of steps 0..K; would not shorten K
                raise
            K = exc.step - 1
            if K < 1:
                raise ParameterError(f"the run diverges at its first step ({exc.reason}): eta = "
                                     f"{run.eta} is beyond the stability limit") from None
        finally:
            tracker.close()
