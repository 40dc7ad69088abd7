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

Continuous time (``time=ContinuousTime(...)``, docs/theory.md section 8): the same solve on every
grid of a ladder (``_continuous.ContinuousTime.grids``: uniform, or graded with variable steps
eta_k, eq. 8.1), each modal level warm-started from the C_perp of the level before interpolated
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

from ._causal import MEMORY_LIMIT_BYTES, causal_sweep
from ._continuous import ContinuousTime, extrapolate, level_memory_bytes, refine_two_time
from ._errors import ErrorKind, ParameterError, choose
from ._fixed_point import anderson
from ._inputs import check_run, horizon
from ._observables import CURVES, KERNELS, mean_and_standard_error
from ._progress import Progress
from ._result import DMFTResult
from ._selection import SGD, FullBatch
from .rules import AveragingRule, Quadrature, RefinedRule, SampledRule

__all__ = ["solve", "horizon", "TIME_MODELS"]


def _sampled(rule: SampledRule, problem, chain, eta, K, tracker):
    """Independent causal sweeps, one per replicate of ``rule``; mean and standard error."""
    sweeps = [causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rng), progress=tracker)
              for rng in rule.parts(problem, chain, K)]
    fields = {}
    for name in CURVES:
        fields[name], fields[f"{name}_err"] = mean_and_standard_error([getattr(s, name) for s in sweeps])
    for name in KERNELS:
        fields[name] = np.mean([getattr(s, name) for s in sweeps], axis=0)
    message = f"causal sweep of K = {K} steps, {len(sweeps)} replicates of {rule.name} nodes"
    return fields, [], message, None


def _converge(rule: RefinedRule, problem, chain, eta, K, resolution, start, history, label):
    """The fixed point C_perp = sweep(nodes(KL(C_perp))).C_perp of one rung, from ``start``."""
    lower = np.tril_indices(K + 1)
    gamma_prev = [None]

    def evaluate(x):
        C = np.zeros((K + 1, K + 1))
        C[lower] = x
        C = C + np.tril(C, -1).T
        nodes = rule.nodes(problem, chain, K, resolution, covariance=C)
        sweep = causal_sweep(problem, chain, eta, K, nodes, accuracy=False)
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


def _rung(rule, problem, chain, eta, K, index, resolution, start, history):
    label = f"rung {index}"
    if start is not None:
        return _converge(rule, problem, chain, eta, K, resolution, start, history, label)
    nodes = rule.nodes(problem, chain, K, resolution)
    sweep = causal_sweep(problem, chain, eta, K, nodes)
    history.append({"stage": label, "iteration": 1, "change": 0.0, "n_nodes": int(nodes.size)})
    return sweep


def _refined(rule: RefinedRule, problem, chain, eta, K, tracker, starts=None):
    """The rungs of ``rule``, coarse to fine. Modal rungs iterate C_perp to a fixed point, rung i
    from ``starts[i]`` when given (a warm start: the C_perp of coarser grids, interpolated), else
    from the rung before, the first from one causal sweep of the coarsest causal nodes. Returns
    the fields, history and message of the solve, and per rung its curves and C_perp."""
    rungs = rule.rungs(chain, K)
    history, modal = [], rule.modal(chain, K)
    start = None
    if modal and not (starts and starts[0] is not None):
        start = causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rungs[0]),
                             accuracy=False).C_perp
    solved, errors, accepted = [], None, False
    for index, resolution in enumerate(rungs):
        if modal and starts and index < len(starts) and starts[index] is not None:
            start = starts[index]
        sweep = _rung(rule, problem, chain, eta, K, index, resolution, start, history)
        tracker.step(f"rung {index}")
        if modal:
            start = sweep.C_perp
        fields = {name: getattr(sweep, name) for name in CURVES + KERNELS}
        solved.append(fields)
        if len(solved) > 1:
            errors = rule.estimate(solved, chain, K)
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
    kind = "KL modes of C_perp" if modal else "causal sweep, Sobol' points"
    message = (f"{rule.name}: rung {index} of {len(rungs) - 1} ({kind}), {len(history)} sweeps, "
               f"largest estimated error {worst:.2g}")
    rung_out = [{"curves": {n: f[n] for n in CURVES}, "C_perp": f["C_perp"]} for f in solved]
    return fields, history, message, rung_out


def _solve_grid(rule, problem, chain, eta, K, tracker, starts=None):
    """One discrete-time solve on K steps of size ``eta`` (a scalar or an array of K steps):
    (fields, history, message, per-rung curves and C_perp of a refined rule or None)."""
    if isinstance(rule, RefinedRule):
        return _refined(rule, problem, chain, eta, K, tracker, starts)
    return _sampled(rule, problem, chain, eta, K, tracker)


def _tracker(rule, chain, K, progress, label):
    if isinstance(rule, RefinedRule):
        return Progress(progress, len(rule.rungs(chain, K)), f"quaddmft {rule.name}{label}")
    return Progress(progress, rule.n_replicates * (K + 1), f"quaddmft solve{label}")


def _at_coarse_times(fields: dict, stride: int, steps: np.ndarray) -> dict:
    """Curves, their errors and kernels of one level at the coarse times (every ``stride``-th
    point). Gamma becomes the continuum kernel (docs/theory.md eq. 8.5): lambda-hat(t_k) =
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


def _check_continuous(problem, schedule, model: ContinuousTime, t_max, rule):
    """Validate a continuous-time solve; returns the grids. Raises ParameterError."""
    if isinstance(schedule, SGD):
        raise ParameterError(
            "classical SGD(b) has no eta -> 0 limit of its own at fixed b (an i.i.d. selection per "
            "step averages out: the limit is gradient flow on b times the loss); use "
            "PersistentSGD(b, tau), whose limit at fixed b and tau is the continuous-time chain")
    run = check_run(problem, schedule, model.step, t_max)
    if not model.uniform and not run.chain.deterministic:
        raise ParameterError(
            f"a graded mesh (growth = {model.growth}) needs a deterministic selection (FullBatch()); "
            "Persistent-SGD runs on a uniform ladder (growth=None)")
    grids = model.grids(t_max)
    K_fine = grids[-1].size - 1
    depth = rule.anderson if isinstance(rule, Quadrature) else 0
    need = level_memory_bytes(K_fine, depth)
    if need > MEMORY_LIMIT_BYTES:
        raise ParameterError(
            f"the finest level (K = {K_fine} steps) needs ~{need / 2**30:.1f} GiB of kernels "
            f"(limit {MEMORY_LIMIT_BYTES / 2**30:.0f} GiB); use fewer levels, a larger step or a "
            "graded mesh (growth=...)")
    return grids


def _warm_starts(previous: list):
    """Starts of every rung of the next level from the C_perp of the last one or two levels
    (``previous``: per level, the list of C_perp per rung): the last level's interpolated to the
    finer grid (``refine_two_time``), corrected by the first-order Richardson prediction
    X_{h/2} ~ X_h - (X_{2h} - X_h) / 2 when two levels are known (start error O(h^2), not O(h))."""
    if not previous or previous[-1] is None:
        return None
    last = [refine_two_time(C) for C in previous[-1]]
    if len(previous) < 2 or previous[-2] is None:
        return last
    before = [refine_two_time(refine_two_time(C)) for C in previous[-2]]
    return [fine - 0.5 * (coarse - fine) if coarse.shape == fine.shape else fine
            for fine, coarse in zip(last, before)]


def _combine(levels: list, rungs: list, rule, chain, K0):
    """Richardson over the levels (``_continuous.extrapolate``) of every curve and kernel; the
    curves' error: the tableau's estimate plus the rule's error of the extrapolated curves --
    a refined rule's own estimate applied to the extrapolations of its last two rungs, or the
    propagated standard error sqrt(sum_j (c_j err_j)^2) of a sampled rule."""
    fields, orders = {}, {}
    extrapolated = {name: extrapolate([level[name] for level in levels]) for name in CURVES}
    if rungs[0] is not None:
        pair = [{name: extrapolate([r[i]["curves"][name] for r in rungs]).value for name in CURVES}
                for i in (-2, -1)]
        rule_errors = rule.estimate(pair, chain, K0)
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


def _fixed_resolution(rule, index: int):
    """The rule with its ladder fixed at rung ``index`` (every level then solves the same
    rungs, so that their curves extrapolate rung by rung)."""
    if isinstance(rule, Quadrature) and rule.resolution is None:
        return dataclasses.replace(rule, resolution=max(index, 1))
    return rule


def _continuous(problem, schedule, model: ContinuousTime, t_max, rule, progress):
    """The ladder of ``model``: one solve per level, then Richardson (module docstring)."""
    grids = _check_continuous(problem, schedule, model, t_max, rule)
    levels, rungs, previous, history, walls = [], [], [], [], []
    for j, t in enumerate(grids):
        K, steps = t.size - 1, np.diff(t)
        eta = t_max / K if model.uniform else steps
        chain = schedule.chain(t_max / K if model.uniform else float(steps.min()))
        began = _clock()
        tracker = _tracker(rule, chain, K, progress, f" level {j}/{model.levels - 1} (K = {K})")
        fields, level_history, message, rung_out = _solve_grid(
            rule, problem, chain, eta, K, tracker, _warm_starts(previous))
        walls.append(_clock() - began)
        if j == 0 and rung_out is not None:
            rule = _fixed_resolution(rule, len(rung_out) - 1)
            chain0 = chain
        stride = 2**j
        levels.append(_at_coarse_times(fields, stride, steps))
        rungs.append(None if rung_out is None else [
            {"curves": {n: c[::stride] for n, c in r["curves"].items()}} for r in rung_out])
        modal = rung_out is not None and rule.modal(chain, 2 * K)
        previous = (previous + [[r["C_perp"] for r in rung_out] if modal else None])[-2:]
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
    fields, orders = _combine(levels, rungs, rule, chain0 if rungs[0] is not None else chain,
                              grids[0].size - 1)
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
          rule: AveragingRule | None = None, time=None, progress: bool = False) -> DMFTResult:
    r"""Solve the DMFT of THEORY section 3 on t_k = k eta, k = 0..K, K = floor(t_max/eta), or its
    continuous-time limit eta -> 0 (docs/theory.md section 8).

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
        array is a learning-rate schedule (eq. 8.1, full-batch GD only): t_k = sum_{j<k} eta_j.
    t_max : float >= eta
        Horizon in time units (None, or the sum of the steps, with a schedule).
    rule : AveragingRule, default Quadrature()
        How <.> is discretised. ``Quadrature`` (deterministic, reproducible bit for bit):
        ``*_err`` is its refinement estimate (``error_kind`` "refinement"). The sampling rules
        ``QMC`` and ``MonteCarlo``: each replicate an independent causal sweep, the result their
        mean and ``*_err`` one standard error of it (``error_kind`` "standard error").
    time : None, "discrete", "continuous" or ContinuousTime
        None or "discrete": the discrete dynamics at step ``eta``. A ``ContinuousTime`` (or
        "continuous" for ``ContinuousTime()``): the gradient-flow limit by Richardson
        extrapolation over a ladder of grids; the result lives on the coarse grid, its
        ``*_err`` is the extrapolation estimate plus the levels' rule errors (``error_kind``
        "extrapolation"), ``Gamma`` the continuum kernel (eq. 8.5), and ``params`` records the
        observed orders of every curve.
    progress : bool
        Report progress on stderr.

    Returns
    -------
    DMFTResult

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range), and runs whose kernels
                    would not fit in memory.
    DivergenceError when the dynamics blows up (step and reason given).
    ConvergenceError when an iterative rule does not reach its tolerance.
    """
    rule = Quadrature() if rule is None else rule
    if not isinstance(rule, AveragingRule):
        raise ParameterError(f"rule must be an AveragingRule (Quadrature, QMC, MonteCarlo), got {rule!r}")
    if isinstance(time, str):
        model = choose("time", time, TIME_MODELS)
        time = None if model is None else model()
    if isinstance(time, ContinuousTime):
        if eta is not None:
            raise ParameterError(
                "eta is the learning rate of discrete time; a continuous-time solve takes its "
                f"grids from time={time!r} (its step and levels): leave eta unset")
        began = _clock()
        schedule = FullBatch() if schedule is None else schedule
        # One BLAS thread (as inside a sweep, ``_causal``): the eigendecompositions and products
        # between the sweeps of a long ladder were measured 5-250x slower with two OpenBLAS
        # threads on a busy two-core machine (spin-waiting threads).
        with threadpool_limits(limits=1, user_api="blas"):
            t, fields, history, message, params = _continuous(problem, schedule, time, t_max, rule,
                                                              progress)
        return DMFTResult(t=t, params=params, error_kind=ErrorKind.EXTRAPOLATION, message=message,
                          history=history, wall_time=_clock() - began, **fields)
    if time is not None:
        raise ParameterError(f"time must be 'discrete', 'continuous' or a ContinuousTime, got {time!r}")
    if eta is None:
        raise ParameterError("eta (the learning rate) is required in discrete time")
    if t_max is None and np.ndim(eta) == 0:
        raise ParameterError("t_max (the horizon) is required")
    run = check_run(problem, schedule, eta, t_max)
    K, chain = run.K, run.chain
    began = _clock()
    tracker = _tracker(rule, chain, K, progress, "")
    fields, history, message, _ = _solve_grid(rule, problem, chain, run.eta, K, tracker)
    return DMFTResult(
        t=run.t, params={**run.params(), **rule.params()},
        error_kind=rule.error_kind, message=message, history=history,
        wall_time=_clock() - began, **fields,
    )


# Names of the time models at the edge (strings resolved in one place): None is discrete time.
TIME_MODELS = {"discrete": None, "continuous": ContinuousTime}
