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

from ._causal import causal_sweep
from ._errors import ParameterError
from ._fixed_point import anderson
from ._inputs import check_run, horizon
from ._observables import CURVES, KERNELS, mean_and_standard_error
from ._progress import Progress
from ._result import DMFTResult
from .rules import AveragingRule, Quadrature, RefinedRule, SampledRule

__all__ = ["solve", "horizon"]


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
              momentum):
    """The fixed point C_perp = sweep(nodes(KL(C_perp))).C_perp of one rung, from ``start``."""
    lower = np.tril_indices(K + 1)
    gamma_prev = [None]

    def evaluate(x):
        C = np.zeros((K + 1, K + 1))
        C[lower] = x
        C = C + np.tril(C, -1).T
        nodes = rule.nodes(problem, chain, K, resolution, covariance=C)
        sweep = causal_sweep(problem, chain, eta, K, nodes, momentum=momentum, accuracy=False)
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


def _rung(rule, problem, chain, eta, K, index, resolution, start, history, momentum):
    label = f"rung {index}"
    if start is not None:
        return _converge(rule, problem, chain, eta, K, resolution, start, history, label, momentum)
    nodes = rule.nodes(problem, chain, K, resolution)
    sweep = causal_sweep(problem, chain, eta, K, nodes, momentum=momentum)
    history.append({"stage": label, "iteration": 1, "change": 0.0, "n_nodes": int(nodes.size)})
    return sweep


def _refined(rule: RefinedRule, problem, chain, eta, K, tracker, momentum):
    rungs = rule.rungs(problem, chain, K)
    history = []
    start = None
    if rule.modal(problem, chain, K):  # the first covariance: one causal sweep of the coarsest causal nodes
        start = causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rungs[0]),
                             momentum=momentum, accuracy=False).C_perp
    solved, errors, accepted = [], None, False
    for index, resolution in enumerate(rungs):
        sweep = _rung(rule, problem, chain, eta, K, index, resolution, start, history, momentum)
        tracker.step(f"rung {index}")
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
    worst = max(float(errors[name].max()) for name in CURVES)
    kind = "KL modes of C_perp" if rule.modal(problem, chain, K) else "causal sweep, Sobol' points"
    message = (f"{rule.name}: rung {index} of {len(rungs) - 1} ({kind}), {len(history)} sweeps, "
               f"largest estimated error {worst:.2g}")
    return fields, history, message


def solve(problem, schedule=None, *, eta: float, t_max: float, rule: AveragingRule | None = None,
          momentum=None, progress: bool = False) -> DMFTResult:
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

    Returns
    -------
    DMFTResult

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range).
    DivergenceError when the dynamics blows up (step and reason given).
    ConvergenceError when an iterative rule does not reach its tolerance.
    """
    run = check_run(problem, schedule, eta, t_max, momentum)
    rule = Quadrature() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (Quadrature, QMC, MonteCarlo), got {rule!r}")
    K, chain = run.K, run.chain

    started = time.perf_counter()
    if isinstance(rule, RefinedRule):
        tracker = Progress(progress, len(rule.rungs(problem, chain, K)), f"quaddmft {rule.name}")
        fields, history, message = _refined(rule, problem, chain, run.eta, K, tracker, run.momentum)
    else:
        tracker = Progress(progress, rule.n_replicates * (K + 1), "quaddmft solve")
        fields, history, message = _sampled(rule, problem, chain, run.eta, K, tracker, run.momentum)
    return DMFTResult(
        t=run.eta * np.arange(K + 1), params={**run.params(), **rule.params()},
        error_kind=rule.error_kind, message=message, history=history,
        wall_time=time.perf_counter() - started, **fields,
    )
