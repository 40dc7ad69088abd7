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

Continuous time (``time=ContinuousTime(...)``, docs/theory.md section 9): the same solve on every
grid of a ladder (``_continuous.ContinuousTime.grids``: uniform, or graded with variable steps
eta_k, eq. 9.1), each modal level warm-started from the C_perp of the level before interpolated
to its grid, and the curves and kernels at the coarse times extrapolated to eta -> 0 by
Richardson's tableau (``_continuous.extrapolate``).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from time import perf_counter as _clock

import numpy as np
from threadpoolctl import threadpool_limits

from ._causal import causal_sweep
from ._continuous import (ADAPT_CURVES, TIME_MODELS, ContinuousTime, adapt_mesh, extrapolate,
                          refine_two_time)
from ._errors import (ConvergenceError, DivergenceError, ErrorKind, ParameterError,
                      UnresolvedSelectionError, choose)
from ._fixed_point import anderson, coarse_corrected
from ._inputs import check_run, horizon
from ._observables import CURVES, KERNELS, mean_and_standard_error
from ._progress import Progress
from ._resources import check_solve, check_spare_rung
from ._result import DMFTResult, Status
from ._selection import SGD, FullBatch
from .rules import AveragingRule, Quadrature, RefinedRule, SampledRule

__all__ = ["solve", "horizon", "default_rule", "estimate", "TIME_MODELS"]


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
    turned = [s.indefinite[0] for s in sweeps if s.indefinite is not None]
    if turned:
        message += "; " + _indefinite_note(f"{len(turned)} of {len(sweeps)} replicates", min(turned))
        warnings.warn(f"{rule.name}: {message}", RuntimeWarning, stacklevel=4)
    return fields, [], message, None


def _indefinite_note(what: str, index: int) -> str:
    return (f"the averaged M_C of {what} turned indefinite from grid index {index} (too few points "
            f"to resolve the random selection this far, docs/theory.md after eq. 3.12): the curves "
            f"beyond are unreliable beyond their error estimate; use more points")


def _evaluator(rule: RefinedRule, problem, chain, eta, K, resolution, momentum, tracker):
    """The map C_perp -> sweep(nodes(KL(C_perp))).C_perp of one rung, on the lower triangle,
    in the form ``_fixed_point.anderson`` iterates (its change: the relative change of C_perp
    and of Gamma since the previous evaluation)."""
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

    return evaluate


def _converge(rule: RefinedRule, problem, chain, eta, K, resolution, start, history, label,
              momentum, tracker=None, coarse=None):
    """The fixed point C_perp = sweep(nodes(KL(C_perp))).C_perp of one rung, from ``start``:
    Anderson on this rung's map, or with ``coarse`` (a coarser Resolution) by coarse
    correction (``_fixed_point.coarse_corrected``, ``Quadrature.coarse_correction``)."""
    lower = np.tril_indices(K + 1)
    evaluate = _evaluator(rule, problem, chain, eta, K, resolution, momentum, tracker)
    options = rule.fixed_point
    solved = None
    if coarse is not None:
        try:
            solved = coarse_corrected(
                evaluate, _evaluator(rule, problem, chain, eta, K, coarse, momentum, tracker),
                start[lower], tol=options.tol, max_iter=options.max_iter,
                depth=options.anderson, history=history, label=label,
                coarse_label=f"{label} (coarse correction)")
        except ConvergenceError:
            # Near a divergence the coarse rung's shifted map can have no fixed point within
            # reach (measured: heavy ball beyond its stability limit, the coarse iteration
            # stalled at a change of 4e-5): Anderson on this rung's own sweeps, from the same
            # start, then meets the divergence, or the fixed point, as without correction.
            label = f"{label} (without correction)"
    if solved is None:
        solved = anderson(evaluate, start[lower], tol=options.tol, max_iter=options.max_iter,
                          depth=options.anderson, history=history, label=label)
    sweep, nodes = solved
    sweep.train_accuracy = sweep.accuracy(nodes, problem.mixture)
    return sweep


def _rung(rule, problem, chain, eta, K, index, resolution, start, history, momentum, tracker,
          strict=True, coarse=None):
    label = f"rung {index}"
    if start is not None:
        return _converge(rule, problem, chain, eta, K, resolution, start, history, label, momentum,
                         tracker, coarse)
    nodes = rule.nodes(problem, chain, K, resolution)
    sweep = causal_sweep(problem, chain, eta, K, nodes, momentum=momentum, progress=tracker,
                         strict=strict)
    history.append({"stage": label, "iteration": 1, "change": 0.0, "n_nodes": int(nodes.size)})
    return sweep


def _refined(rule: RefinedRule, problem, chain, eta, K, tracker, momentum, starts=None):
    """The rungs of ``rule``, coarse to fine. Modal rungs iterate C_perp to a fixed point, rung i
    from ``starts[i]`` when given (a warm start: the C_perp of coarser grids, interpolated), else
    from the rung before, the first from one causal sweep of the coarsest causal nodes. Returns
    the fields, history and message of the solve, and per rung its curves and C_perp."""
    rungs, spares = list(rule.rungs(problem, chain, K)), list(rule.spare_rungs(problem, chain, K))
    history, modal = [], rule.modal(problem, chain, K)
    start = None
    if modal and not (starts and starts[0] is not None):
        start = causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rungs[0]),
                             momentum=momentum, accuracy=False).C_perp
    solved, errors, accepted, skipped, indices, unresolved = [], None, False, None, [], []
    first = rule.first_rung(problem, chain, K)
    for index, resolution in enumerate(rungs):
        if index < first:
            continue
        if modal and starts and index < len(starts) and starts[index] is not None:
            start = starts[index]
        # Coarse correction against the first rung solved (``Quadrature.coarse_correction``;
        # not one skipped after a divergence).
        corrected = modal and indices and getattr(rule, "coarse_correction", False)
        coarse = rungs[indices[0]] if corrected else None
        try:
            sweep = _rung(rule, problem, chain, eta, K, index, resolution, start, history,
                          momentum, tracker, coarse=coarse)
        except DivergenceError as exc:
            # A coarse node set can blow up where the dynamics does not (measured: 512-2048
            # Sobol' paths, three-cluster Persistent-SGD, validation/report_notes.md), or stop
            # resolving the selection (M_C indefinite); the finer rungs decide, spares appended
            # for the latter. A divergence of the finest rung, or of a ladder left with fewer than
            # two rungs, is the run's; an unresolved rung that nothing can replace is solved on
            # (tolerant) and said in the message.
            if not _two_left(rungs, spares, index, len(solved), exc, problem, chain, K, rule):
                if not isinstance(exc, UnresolvedSelectionError):
                    raise
                sweep = _rung(rule, problem, chain, eta, K, index, resolution, start, history,
                              momentum, tracker, strict=False)
                unresolved.append((index, sweep.indefinite[0]))
            else:
                skipped = skipped or exc
                history.append({"stage": f"rung {index}", "iteration": 0, "change": None,
                                "n_nodes": 0, "diverged_at": exc.step})
                continue
        if modal:
            start = sweep.C_perp
        fields = {name: getattr(sweep, name) for name in CURVES + KERNELS}
        solved.append(fields)
        indices.append(index)
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
    kind = "KL modes of C_perp" if modal else "causal sweep, Sobol' points"
    estimates = ", ".join(f"{name} {errors[name].max():.1g}" for name in CURVES)
    message = (f"{rule.name}: rung {index} of {len(rungs) - 1} ({kind}), {len(history)} sweeps; "
               f"estimated errors (sup over t): {estimates}")
    if isinstance(skipped, UnresolvedSelectionError):
        message += (f"; a coarser rung could not resolve the selection beyond step k = "
                    f"{skipped.step} and was skipped (rungs solved: {indices})")
    elif skipped is not None:
        message += f"; a coarser rung diverged at step k = {skipped.step} and was skipped"
    if unresolved:
        rungs_text = ", ".join(str(i) for i, _ in unresolved)
        message += "; " + _indefinite_note(f"rung(s) {rungs_text}", min(j for _, j in unresolved))
        warnings.warn(f"{rule.name}: {message}", RuntimeWarning, stacklevel=3)
    rung_out = [{"index": i, "curves": {n: f[n] for n in CURVES}, "C_perp": f["C_perp"]}
                for i, f in zip(indices, solved)]
    return fields, history, message, rung_out


def _two_left(rungs, spares, index, n_solved, exc, problem, chain, K, rule) -> bool:
    """Whether rung ``index``, failed with ``exc``, can be skipped: it is not the last rung and two
    rungs can still be solved. For an UnresolvedSelectionError, spare rungs are appended to
    ``rungs`` (memory-checked) until that holds; a divergence of the last rung is the run's."""
    while index == len(rungs) - 1 or n_solved + len(rungs) - 1 - index < 2:
        if not (spares and isinstance(exc, UnresolvedSelectionError)):
            return False
        check_spare_rung(rule.rung_size(problem, chain, K, spares[0]), K, f"rung {len(rungs)}")
        rungs.append(spares.pop(0))
    return True


def _solve_grid(rule, problem, chain, eta, K, tracker, momentum=None, starts=None):
    """One discrete-time solve on K steps of size ``eta`` (a scalar or an array of K steps):
    (fields, history, message, per-rung curves and C_perp of a refined rule or None)."""
    if isinstance(rule, RefinedRule):
        return _refined(rule, problem, chain, eta, K, tracker, momentum, starts)
    return _sampled(rule, problem, chain, eta, K, tracker, momentum)


def _tracker(rule, problem, chain, K, progress, label=""):
    """The progress of one solve: node-sweeps times steps (``AveragingRule.cost``)."""
    return Progress(progress, rule.cost(problem, chain, K)[1] * (K + 1),
                    f"quaddmft {rule.name}{label}")


def _at_coarse_times(fields: dict, stride: int, steps: np.ndarray) -> dict:
    """Curves, their errors and kernels of one level at the coarse times (every ``stride``-th
    point). Gamma becomes the continuum kernel (docs/theory.md eq. 9.5): lambda-hat(t_k) =
    Gamma(k, k) on the diagonal, Gamma(k, l) / eta_l below it (rho(k, l) = O(eta_l))."""
    out = {name: fields[name][::stride] for name in CURVES}
    out.update({f"{name}_err": fields[f"{name}_err"][::stride] for name in CURVES})
    for name in KERNELS:
        x = fields[name]
        out[name] = x[::stride, ::stride] if x.ndim == 2 else x[::stride]
    gamma = out["Gamma"]
    density = np.tril(gamma, -1)
    density[:, :-1] /= steps[::stride][None, :]
    out["Gamma"] = density + np.diag(np.diag(gamma))
    return out


def _check_continuous(problem, schedule, model: ContinuousTime, t_max, rule, momentum,
                      max_memory):
    """Validate a continuous-time solve; returns the grids. Raises ParameterError, naming both
    sides for the combinations the limit does not cover (module docstring of ``_inputs``)."""
    for given, name in ((momentum is not None, f"momentum (got {momentum!r})"),
                        (problem.temperature > 0, f"Langevin noise (temperature = "
                                                  f"{problem.temperature})"),
                        (problem.spherical, "the spherical constraint")):
        if given:
            raise ParameterError(f"time='continuous' does not support {name}: the eta -> 0 limit "
                                 "is derived for plain gradient descent (docs/theory.md section 9)")
    if isinstance(schedule, SGD):
        raise ParameterError(
            "classical SGD(b) has no eta -> 0 limit of its own at fixed b (an i.i.d. selection per "
            "step averages out: the limit is gradient flow on b times the loss); use "
            "PersistentSGD(b, tau), whose limit at fixed b and tau is the continuous-time chain")
    run = check_run(problem, schedule, model.step, t_max)
    if not model.uniform and not run.chain.deterministic:
        raise ParameterError(
            f"a graded mesh (growth = {model.growth!r}) needs a deterministic selection (FullBatch()); "
            "Persistent-SGD runs on a uniform ladder (growth=None)")
    # An adaptive mesh is checked on its pilot's grids here and on its own after the pilot.
    grids = model.planned_grids(t_max)
    # The resource estimate of every level (``_resources.check_solve``) before any starts.
    for t in grids:
        K = t.size - 1
        check_solve(rule, problem, schedule.chain(t_max / K if model.uniform else
                                                  float(np.diff(t).min())), K, max_memory)
    return grids


def _warm_starts(previous: list):
    """Starts of every rung of the next level from the C_perp of the last one or two levels
    (``previous``: per level, the list of C_perp per rung): the last level's interpolated to the
    finer grid (``refine_two_time``), corrected by the first-order Richardson prediction
    X_{h/2} ~ X_h - (X_{2h} - X_h) / 2 when two levels are known (start error O(h^2), not O(h))."""
    if not previous or previous[-1] is None:
        return None
    last = [None if C is None else refine_two_time(C) for C in previous[-1]]
    if len(previous) < 2 or previous[-2] is None:
        return last
    before = [None if C is None else refine_two_time(refine_two_time(C)) for C in previous[-2]]
    return [fine - 0.5 * (coarse - fine)
            if fine is not None and coarse is not None and coarse.shape == fine.shape else fine
            for fine, coarse in zip(last, before)]


def _combine(levels: list, rungs: list, rule, problem, chain, K0):
    """Richardson over the levels (``_continuous.extrapolate``) of every curve and kernel; the
    curves' error: the tableau's estimate plus the rule's error of the extrapolated curves --
    a refined rule's own estimate applied to the extrapolations of its last two rungs solved on
    every level (``rungs``: per level, curves by rung index; a rung skipped after a divergence
    is missing), or the propagated standard error sqrt(sum_j (c_j err_j)^2) of a sampled rule."""
    fields, orders = {}, {}
    extrapolated = {name: extrapolate([level[name] for level in levels]) for name in CURVES}
    common = [] if rungs[0] is None else sorted(set.intersection(*(set(r) for r in rungs)))
    if len(common) >= 2:
        pair = [{name: extrapolate([r[i][name] for r in rungs]).value for name in CURVES}
                for i in common[-2:]]
        rule_errors = rule.estimate(pair, problem, chain, K0)
    elif rungs[0] is not None:  # no two rungs in common: the largest of the levels' own estimates
        rule_errors = {name: np.max([level[f"{name}_err"] for level in levels], axis=0)
                       for name in CURVES}
    else:
        rule_errors = {name: np.sqrt(sum((w * level[f"{name}_err"]) ** 2 for w, level in
                                         zip(extrapolated[name].weights, levels)))
                       for name in CURVES}
    for name, ex in extrapolated.items():
        fields[name], orders[name] = ex.value, ex.orders
        fields[f"{name}_err"] = ex.error + rule_errors[name]
    for name in KERNELS:
        fields[name] = extrapolate([level[name] for level in levels]).value
    return fields, orders


def _by_rung(rung_out: list) -> list:
    """The C_perp of every rung by its index (None for a rung skipped after a divergence)."""
    out = [None] * (rung_out[-1]["index"] + 1)
    for r in rung_out:
        out[r["index"]] = r["C_perp"]
    return out


def _fixed_resolution(rule, index: int):
    """The rule with its ladder fixed at rung ``index`` (every level then solves the same
    rungs, so that their curves extrapolate rung by rung)."""
    if isinstance(rule, Quadrature) and rule.resolution is None:
        return dataclasses.replace(rule, resolution=max(index, 1))
    return rule


def _continuous(problem, schedule, model: ContinuousTime, t_max, rule, progress, grids):
    """The ladder of ``model`` (its ``grids``, validated by ``_check_continuous``): one solve
    per level, then Richardson (module docstring)."""
    levels, rungs, previous, history, walls = [], [], [], [], []
    for j, t in enumerate(grids):
        K, steps = t.size - 1, np.diff(t)
        eta = t_max / K if model.uniform else steps
        chain = schedule.chain(t_max / K if model.uniform else float(steps.min()))
        began = _clock()
        tracker = _tracker(rule, problem, chain, K, progress,
                           f" level {j}/{model.levels - 1} (K = {K})")
        try:
            fields, level_history, message, rung_out = _solve_grid(
                rule, problem, chain, eta, K, tracker, None, _warm_starts(previous))
        finally:
            tracker.close()
        walls.append(_clock() - began)
        if j == 0 and rung_out is not None:
            rule = _fixed_resolution(rule, rung_out[-1]["index"])
            chain0 = chain
        stride = 2**j
        levels.append(_at_coarse_times(fields, stride, steps))
        rungs.append(None if rung_out is None else {
            r["index"]: {n: c[::stride] for n, c in r["curves"].items()} for r in rung_out})
        modal = rung_out is not None and rule.modal(problem, chain, 2 * K)
        previous = (previous + [_by_rung(rung_out) if modal else None])[-2:]
        # The level's own curves at the coarse times: how the ladder converges, and the exact
        # discrete dynamics of the finest schedule (what a simulation with its steps runs).
        history.append({"stage": f"level {j}", "iteration": 0, "change": 0.0, "K": K,
                        "wall_time": walls[-1], "message": message,
                        "curves": {name: levels[-1][name].tolist() for name in CURVES}})
        history.extend({**h, "level": j} for h in level_history)
        if progress and j + 1 < len(grids):
            growth = walls[-1] / walls[-2] if len(walls) > 1 else 2.0**2.5
            sys.stderr.write(f"quaddmft continuous: level {j} took {walls[-1]:.1f} s; level "
                             f"{j + 1} (K = {2 * K}) estimated ~{walls[-1] * growth:.0f} s\n")
    fields, orders = _combine(levels, rungs, rule, problem,
                              chain0 if rungs[0] is not None else chain, grids[0].size - 1)
    sizes = [t.size - 1 for t in grids]
    message = (f"continuous-time limit: Richardson extrapolation over {model.levels} "
               f"{'uniform' if model.uniform else 'graded'} grids of K = {sizes} steps, observed "
               f"orders of gen_error {[p if p is None else round(p, 2) for p in orders['gen_error']]}; "
               "finest level: "
               f"{message}")
    params = {**problem.params(), **schedule.params(), "t_max": t_max, "K": sizes[0],
              **model.params(), "level_K": sizes, "observed_orders": orders, **rule.params()}
    return grids[0], fields, history, message, params


def solve(problem, schedule=None, *, eta=None, t_max: float | None = None,
          rule: AveragingRule | None = None, momentum=None, time=None, progress: bool = False,
          max_memory: float | None = None) -> DMFTResult:
    r"""Solve the DMFT of THEORY section 3 on t_k = k eta, k = 0..K, K = floor(t_max/eta), or its
    continuous-time limit eta -> 0 (docs/theory.md section 9).

    Parameters
    ----------
    problem : Problem
        Mixture, loss, ridge lam, initial variance R and overlap m0.
    schedule : SelectionProcess, default FullBatch()
        FullBatch(), SGD(b) or PersistentSGD(b, tau, law); its discrete law at this eta is used
        (continuous time: at every step of the ladder, b and tau fixed; SGD(b) has no limit of
        its own and is refused).
    eta : float > 0, or a 1-D array of K positive steps
        Learning rate, also the time step of the grid (discrete time only; required there). An
        array is a learning-rate schedule (eq. 9.1, full-batch plain GD only): t_k = sum_{j<k}
        eta_j.
    t_max : float >= eta
        Horizon in time units (None, or the sum of the steps, with a schedule).
    rule : AveragingRule, default Quadrature()
        How <.> is discretised. ``Quadrature`` (deterministic, reproducible bit for bit):
        ``*_err`` is its refinement estimate (``error_kind`` "refinement"). The sampling rules
        ``QMC`` and ``MonteCarlo``: each replicate an independent causal sweep, the result their
        mean and ``*_err`` one standard error of it (``error_kind`` "standard error").
    momentum : Momentum, optional
        ``HeavyBall(beta)`` or ``Nesterov(beta)`` (docs/theory.md eq. 8.6), with any schedule;
        None is plain (S)GD. Not with the spherical constraint, a learning-rate schedule or
        continuous time (ParameterError naming both).
    time : None, "discrete", "continuous" or ContinuousTime
        None or "discrete": the discrete dynamics at step ``eta``. A ``ContinuousTime`` (or
        "continuous" for ``ContinuousTime()``): the gradient-flow limit by Richardson
        extrapolation over a ladder of grids (plain GD: no momentum, Langevin noise or
        sphere); the result lives on the coarse grid, its ``*_err`` is the extrapolation
        estimate plus the levels' rule errors (``error_kind`` "extrapolation"), ``Gamma`` the
        continuum kernel (eq. 9.5), and ``params`` records the observed orders of every curve.
    progress : bool
        Report progress on stderr.
    max_memory : float > 0, default 3/4 of the machine's memory
        Bytes the solve may use: its memory is estimated before it starts
        (``_resources.check_solve``; in continuous time for every level) and refused beyond this.

    Returns
    -------
    DMFTResult

    A discrete-time run that diverges (``_errors.divergence_reason``: |w|^2/d past 1e6 times
    its initial scale while growing geometrically, or not finite) is not an exception: the
    result has ``status`` "diverged", its curves stop before the step named in ``message`` (the
    horizon is solved again up to there), and a RuntimeWarning says so.

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range), runs whose estimated
                    memory exceeds max_memory, or a run that diverges at its first step.
    DivergenceError when a level of a continuous-time ladder blows up (step and reason given).
    ConvergenceError when an iterative rule does not reach its tolerance.
    """
    rule = default_rule() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (Quadrature, QMC, MonteCarlo), got {rule!r}")
    if isinstance(time, str):
        model = choose("time", time, TIME_MODELS)
        time = None if model is None else model()
    if isinstance(time, ContinuousTime):
        return _solve_continuous(problem, schedule, eta, t_max, rule, momentum, time, progress,
                                 max_memory)
    if time is not None:
        raise ParameterError(f"time must be 'discrete', 'continuous' or a ContinuousTime, got {time!r}")
    if eta is None:
        raise ParameterError("eta (the learning rate) is required in discrete time")
    if t_max is None and np.ndim(eta) == 0:
        raise ParameterError("t_max (the horizon) is required")
    return _solve_discrete(problem, schedule, eta, t_max, rule, momentum, progress, max_memory)


def _solve_discrete(problem, schedule, eta, t_max, rule, momentum, progress, max_memory):
    """``solve`` in discrete time (uniform or variable steps), stopped before a divergence."""
    run = check_run(problem, schedule, eta, t_max, momentum)
    check_solve(rule, problem, run.chain, run.K, max_memory)
    started = _clock()
    # One BLAS thread for the whole solve (see _causal.causal_sweep for the speed): it also makes
    # every BLAS and LAPACK result (the kernel rows, the KL eigendecomposition) independent of
    # the number of threads, for bit-for-bit reproducibility.
    with threadpool_limits(limits=1, user_api="blas"):
        (fields, history, message), K, divergence = _until_divergence(rule, problem, run, progress)
    status, t = Status.SUCCESS, run.t
    if divergence is not None:
        status = Status.DIVERGED
        message = (f"diverged at step k = {divergence[0]} (t = {t[divergence[0]]:.6g}): "
                   f"{divergence[1]}; curves up to t = {t[K]:.6g} ({message})")
        warnings.warn(f"solve: {message}", RuntimeWarning, stacklevel=3)
    return DMFTResult(
        t=t[: K + 1], params={**run.params(), **rule.params()},
        error_kind=rule.error_kind, status=status, message=message, history=history,
        wall_time=_clock() - started, **fields,
    )


def _until_divergence(rule, problem, run, progress):
    """Solve on the run's horizon; if the dynamics diverges at step k, solve again on steps
    0..k-1 (repeatedly, should a coarser stage diverge earlier); a learning-rate schedule is
    cut to its first k-1 steps. Returns the strategy's (fields, history, message), the horizon
    solved and (step, reason) of the divergence."""
    K, chain, divergence = run.K, run.chain, None
    while True:
        eta = run.eta if np.ndim(run.eta) == 0 else run.eta[:K]
        tracker = _tracker(rule, problem, chain, K, progress)
        try:
            fields, history, message, _ = _solve_grid(rule, problem, chain, eta, K, tracker,
                                                      run.momentum)
            return (fields, history, message), K, divergence
        except DivergenceError as exc:
            if divergence is None or exc.step < divergence[0]:
                divergence = (exc.step, exc.reason)
            if exc.step > K:  # never reached by a sweep of steps 0..K; would not shorten K
                raise
            K = exc.step - 1
            if K < 1:
                eta_text = f"{run.eta}" if np.ndim(run.eta) == 0 else f"eta_0 = {run.eta[0]:g}"
                raise ParameterError(f"the run diverges at its first step ({exc.reason}): eta = "
                                     f"{eta_text} is beyond the stability limit") from None
        finally:
            tracker.close()


def _solve_continuous(problem, schedule, eta, t_max, rule, momentum, model, progress, max_memory):
    """``solve`` with ``time=ContinuousTime(...)``: the Richardson ladder of ``_continuous``."""
    if eta is not None:
        raise ParameterError(
            "eta is the learning rate of discrete time; a continuous-time solve takes its "
            f"grids from time={model!r} (its step and levels): leave eta unset")
    began = _clock()
    schedule = FullBatch() if schedule is None else schedule
    grids = _check_continuous(problem, schedule, model, t_max, rule, momentum, max_memory)
    fit = None
    if model.adaptive:
        model, fit = _adapt(problem, schedule, model, t_max, progress, max_memory)
        grids = _check_continuous(problem, schedule, model, t_max, rule, momentum, max_memory)
    # One BLAS thread (as inside a sweep, ``_causal``): the eigendecompositions and products
    # between the sweeps of a long ladder were measured 5-250x slower with two OpenBLAS
    # threads on a busy two-core machine (spin-waiting threads).
    with threadpool_limits(limits=1, user_api="blas"):
        t, fields, history, message, params = _continuous(problem, schedule, model, t_max, rule,
                                                          progress, grids)
    if fit is not None:
        params = {**params, "growth": "adaptive", "adapted_mesh": fit.params()}
        message = f"{fit.describe()}; {message}"
    return DMFTResult(t=t, params=params, error_kind=ErrorKind.EXTRAPOLATION, message=message,
                      history=history, wall_time=_clock() - began, **fields)


def _adapt(problem, schedule, model: ContinuousTime, t_max, progress, max_memory):
    """The mesh of ``growth='adaptive'`` (docs/theory.md eq. 9.8): a discrete solve on the graded
    pilot mesh (``ContinuousTime.pilot``, its coarse grid) with ``Quadrature(resolution=1)``
    (deterministic, so the mesh is a function of the problem alone, whatever the ladder's
    rule), its curves and curvature fitted by ``_continuous.adapt_mesh``. Returns the model
    with the chosen mesh and the fit. DivergenceError if the pilot diverges."""
    t = model.pilot().grids(t_max)[0]
    pilot = _solve_discrete(problem, schedule, np.diff(t), None, Quadrature(resolution=1), None,
                            False, max_memory)  # (one BLAS thread inside, as every solve)
    if pilot.status == Status.DIVERGED:
        raise DivergenceError(pilot.t.size, f"the pilot of the adaptive mesh diverged ("
                              f"{pilot.message}); use a smaller step than {model.step}")
    fit = adapt_mesh(pilot.t, {name: getattr(pilot, name) for name in ADAPT_CURVES},
                     np.diag(pilot.Gamma), step=model.step, lam=problem.lam,
                     alpha=problem.mixture.alpha, stability=model.stability,
                     max_step=model.max_step)
    if progress:
        sys.stderr.write(f"quaddmft continuous: {fit.describe()}; pilot {pilot.wall_time:.1f} s\n")
    return model.adapted(fit), fit

