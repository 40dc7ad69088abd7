"""Command-line interface: ``quaddmft solve`` (DMFT), ``quaddmft simulate`` (finite d),
``quaddmft sweep`` (a parameter grid on dask.distributed) and ``quaddmft plot-sweep``.

This module parses the command line and writes the outputs; the settings become objects in
``_config`` (the one table of names, shared with TOML files), the plot is ``plotting``'s.
A ParameterError anywhere prints ``quaddmft: error: <message>`` and exits with status 2; a
DivergenceError or ConvergenceError exits with status 1 (a sweep: when a point failed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

__all__ = ["main"]

PROG = "quaddmft"


# --------------------------------------------------------------------------------------------
# argument parsing


def _problem_options(common: argparse.ArgumentParser) -> None:
    g = common.add_argument_group("problem (defaults: the paper's Fig. 1 left setting)")
    g.add_argument("--model", metavar="two|three|noise|teacher-student",
                   help="data: two clusters, three clusters (door activation), pure noise, or "
                        "teacher-student data (default two)")
    g.add_argument("--alpha", type=float, help="samples per dimension n/d > 0 (default 2)")
    g.add_argument("--delta", type=float, help="cluster noise variance Delta > 0 (default 0.5)")
    g.add_argument("--L", type=float, help="door half-width L > 0, three-cluster model only "
                                           "(default 0.7)")
    g.add_argument("--teacher", metavar="linear|sign",
                   help="teacher-student only: the teacher f, y = f(w*.x/sqrt(d) + noise) "
                        "(default linear)")
    g.add_argument("--noise", type=float, help="teacher-student only: variance >= 0 of the "
                                               "Gaussian noise on the teacher's field (default 0)")
    g.add_argument("--flip", type=float, help="teacher-student only: label-flip probability in "
                                              "[0, 1/2] (default 0)")
    g.add_argument("--loss", metavar="NAME", help="logistic|square|squared-hinge (default logistic)")
    g.add_argument("--lam", type=float, help="ridge penalty lambda >= 0 (default 0)")
    g.add_argument("--eta", type=float, help="learning rate > 0 (default 0.2)")
    g.add_argument("--t-max", type=float, help="time horizon, t = k*eta (default 20)")
    g.add_argument("--R", type=float, help="initial weight variance, w(0) ~ N(0, R I) (default 0.01)")
    g.add_argument("--m0", type=float, help="initial overlap m(0) of the DMFT (default 0)")
    g.add_argument("--temperature", type=float,
                   help="Langevin temperature T >= 0: sqrt(2 eta T) N(0, I) added to every step "
                        "(default 0)")
    g.add_argument("--constraint", metavar="none|spherical",
                   help="spherical: |w|^2 = d by projection after every step, in place of ridge "
                        "(needs --lam 0 and m0^2 + R = 1; default none)")
    g = common.add_argument_group("selection process")
    g.add_argument("--schedule", metavar="gd|sgd|persistent",
                   help="full-batch GD, classical SGD or Persistent-SGD (default persistent)")
    g.add_argument("--b", type=float, help="batch fraction in (0, 1] (default 0.3)")
    g.add_argument("--tau", type=float, help="Persistent-SGD persistence time > 0 "
                                             "(default 1/0.6)")
    g.add_argument("--inv-tau", type=float, help="persistence rate 1/tau > 0, instead of --tau")
    g.add_argument("--law", metavar="linear|exact|linear-clipped",
                   help="Persistent-SGD per-step law: the paper's linear law (needs "
                        "tau >= eta*max(1, (1-b)/b)), the exact one-step law of the "
                        "continuous-time chain, or the linear law with its probabilities "
                        "clipped to [0, 1] (what a direct simulation of the paper's update "
                        "does) (default linear)")
    g.add_argument("--momentum", metavar="none|heavy-ball|nesterov",
                   help="momentum of the update, with any schedule (default none)")
    g.add_argument("--beta", type=float, help="momentum coefficient in [0, 1) (default 0)")


def _io_options(common: argparse.ArgumentParser) -> None:
    g = common.add_argument_group("input and output")
    g.add_argument("--config", metavar="FILE.toml",
                   help="read options from a TOML file (keys as the long options, dashes or "
                        "underscores); command-line options override it")
    g.add_argument("--json", metavar="PATH",
                   help="write curves, error estimates and params as JSON ('-': to stdout)")
    g.add_argument("--save", metavar="PATH.npz", help="save the full result (reload with quaddmft.load)")
    g.add_argument("--plot", metavar="PATH.png",
                   help="plot gen_error(t) with train accuracy inset (.png, .pdf or .svg)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="report progress on stderr (default: when stderr is a terminal)")
    g.add_argument("--max-memory", type=float, metavar="GIB",
                   help="refuse a run whose estimated memory exceeds this many GiB "
                        "(default: 3/4 of this machine's memory)")


def _growth(text: str):
    """--growth: a time scale (a number) or the name 'adaptive' (checked by ContinuousTime)."""
    try:
        return float(text)
    except ValueError:
        return text


def _solve_options(solve: argparse.ArgumentParser) -> None:
    g = solve.add_argument_group("averaging rule", "Options not given keep the rule's own "
                                 "defaults (see quaddmft.Quadrature, quaddmft.QMC, "
                                 "quaddmft.MonteCarlo).")
    g.add_argument("--rule", metavar="quadrature|qmc|montecarlo",
                   help="deterministic quadrature with a refinement error estimate (default), "
                        "randomized quasi-Monte Carlo, or plain Monte Carlo")
    g.add_argument("--tolerance", type=float,
                   help="quadrature: refine until the estimated error of m, C, gen_error and "
                        "train_loss is below this (default: the rule's standard rung)")
    g.add_argument("--resolution", type=int,
                   help="quadrature: solve rungs 0..N of the ladder instead (expert)")
    g.add_argument("--max-resolution", type=int,
                   help="quadrature: the finest rung the ladder may reach")
    g.add_argument("--points", type=int, help="qmc: Sobol' points per replicate (a power of 2); "
                                              "montecarlo: samples per replicate")
    g.add_argument("--h0-nodes", type=int, help="qmc: Gauss-Hermite nodes for h0")
    g.add_argument("--replicates", type=int, help="independent replicates for the error "
                                                  "estimate, >= 2")
    g.add_argument("--seed", type=int, help="seed of the rule")
    g = solve.add_argument_group("continuous time", "The eta -> 0 (gradient-flow) limit by "
                                 "Richardson extrapolation over a ladder of grids "
                                 "(quaddmft.ContinuousTime; docs/theory.md section 9).")
    g.add_argument("--time", metavar="discrete|continuous",
                   help="discrete dynamics at --eta (default), or its eta -> 0 limit (no --eta)")
    g.add_argument("--step", type=float, help="continuous: coarse step at t = 0 (default 0.2)")
    g.add_argument("--levels", type=int, help="continuous: grids of the ladder, >= 2 (default 3)")
    g.add_argument("--growth", type=_growth, metavar="TIME|adaptive",
                   help="continuous: the step grows like step (1 + t/growth), or 'adaptive': "
                        "chosen from a pilot solve (default: uniform)")
    g.add_argument("--max-step", type=float, help="continuous: cap of the graded step")
    g.add_argument("--stability", type=float,
                   help="continuous, adaptive: fraction in (0, 1] of the explicit stability "
                        "limit the steps may reach (default 0.25)")


def _simulate_options(simulate: argparse.ArgumentParser) -> None:
    g = simulate.add_argument_group("simulation")
    g.add_argument("--d", type=int, help="dimension (default 500)")
    g.add_argument("--seeds", type=int, help="independent runs averaged, >= 2 "
                                             "(default: quaddmft.simulate's)")
    g.add_argument("--seed", type=int, help="base seed (default: quaddmft.simulate's)")
    g.add_argument("--test-points", type=int,
                   help="fresh test points per run for an empirical test error "
                        "(default: none)")


def _sweep_options(sweep: argparse.ArgumentParser) -> None:
    g = sweep.add_argument_group("sweep")
    g.add_argument("--config", metavar="SWEEP.toml", required=True,
                   help="the sweep: fixed settings, and a [sweep] table of swept keys (lists or "
                        "ranges) or [[point]] tables (docs/guide.md, Parameter sweeps)")
    g.add_argument("--output", metavar="PATH.nc",
                   help="the dataset (netCDF); per-run files go to the folder NAME.points "
                        "beside it (default: the config's output, else the config's name with "
                        ".nc)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="use the running dask cluster at ADDRESS (e.g. tcp://host:8786) as it "
                        "is (default: a local cluster of one worker process per core)")
    g.add_argument("--workers", type=int, help="worker processes of the local cluster "
                                               "(default: the number of cores)")
    g.add_argument("--simulate", action=argparse.BooleanOptionalAction,
                   help="also simulate every point at finite d (default: the config's simulate)")
    g.add_argument("--d", type=int, help="simulation: dimension (default 500)")
    g.add_argument("--seeds", type=int, help="simulation: independent runs averaged, >= 2")
    g.add_argument("--test-points", type=int, help="simulation: fresh test points per run")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="progress bar on stderr (default: when stderr is a terminal)")


def _plot_sweep_options(plot: argparse.ArgumentParser) -> None:
    plot.add_argument("dataset", metavar="DATASET.nc", help="a dataset written by quaddmft sweep")
    plot.add_argument("--variable", help="the summary variable to draw (default gen_error_min; "
                                         "also t_min, gen_error_final, train_loss_final, ...)")
    plot.add_argument("--x", help="swept key on the horizontal axis (default: the first)")
    plot.add_argument("--y", help="swept key on the vertical axis, or of the line family "
                                  "(default: the second)")
    plot.add_argument("--kind", metavar="heatmap|lines", help="heat map (default) or one line "
                                                              "per value of --y")
    plot.add_argument("--select", metavar="KEY=VALUE", action="append",
                      help="fix a further swept key at (the nearest) VALUE; repeatable")
    plot.add_argument("--out", metavar="PATH.png", help="the figure (default: DATASET.VARIABLE.png)")


def _parser() -> argparse.ArgumentParser:
    # Every default is SUPPRESS so that the namespace holds exactly what the user typed; defaults
    # are applied after merging with the config file (quaddmft._config).
    S = argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False, argument_default=S)
    _problem_options(common)
    _io_options(common)
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="DMFT of SGD on high-dimensional Gaussian-mixture classification "
                    "(Mignacco et al., NeurIPS 2020)\nand finite-d simulation of the algorithm.",
        epilog="Each command lists its options: quaddmft solve --help, quaddmft simulate --help,\n"
               "quaddmft sweep --help, quaddmft plot-sweep --help.\n"
               "Example:\n  quaddmft solve --config examples/fig1_left.toml --json out/a.json "
               "--plot out/a.png\n"
               "Exit status: 0 success, 1 failed run (divergence, write error, a failed sweep "
               "point), 2 bad input, 130 interrupted.")
    sub = parser.add_subparsers(dest="command", metavar="{solve,simulate,sweep,plot-sweep}")
    solve = sub.add_parser("solve", parents=[common], allow_abbrev=False, argument_default=S,
                           help="solve the d -> infinity DMFT equations",
                           description="Solve the discrete-time DMFT equations.")
    _solve_options(solve)
    simulate = sub.add_parser("simulate", parents=[common], allow_abbrev=False,
                              argument_default=S,
                              help="simulate the algorithm at finite dimension d",
                              description="Simulate the real algorithm at finite d, averaged "
                                          "over independent seeds.")
    _simulate_options(simulate)
    problem = argparse.ArgumentParser(add_help=False, allow_abbrev=False, argument_default=S)
    _problem_options(problem)
    sweep = sub.add_parser("sweep", parents=[problem], allow_abbrev=False, argument_default=S,
                           help="solve a grid of parameters on dask.distributed (resumable)",
                           description="Solve (and optionally simulate) every point of a "
                                       "parameter grid on dask.distributed and write the "
                                       "results as one labelled netCDF dataset. A rerun "
                                       "computes only the points not yet done. Problem and "
                                       "rule options override the config's fixed settings.")
    _solve_options(sweep)
    _sweep_options(sweep)
    plot = sub.add_parser("plot-sweep", allow_abbrev=False, argument_default=S,
                          help="heat map or line family of a sweep's summary variable",
                          description="Draw one summary variable of a sweep dataset over two "
                                      "swept parameters (PNG).")
    _plot_sweep_options(plot)
    return parser


def _write_json(result, path) -> str:
    """JSON to a file (atomically) or, for "-", to stdout."""
    text = json.dumps(result.to_json_dict()) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return "stdout"
    from ._io import atomic_write

    with atomic_write(path, "w") as fh:
        fh.write(text)
    return str(path)


def _fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _summary(command, result, wall, outputs) -> str:
    g, err = result.gen_error, result.gen_error_err
    k_min = int(g.argmin())
    parts = [
        f"{command}: t_max={_fmt(float(result.t[-1]))}",
        f"final gen_error={g[-1]:.5f} ± {err[-1]:.1e}",
        f"min gen_error={g[k_min]:.5f} at t={result.t[k_min]:.3g}",
        f"train_accuracy={result.train_accuracy[-1]:.4f}",
        f"train_loss={result.train_loss[-1]:.4g}",
        f"status={result.status.value}",
        f"{wall:.1f} s",
    ]
    parts += [f"{kind} -> {path}" for kind, path in outputs]
    return "; ".join(parts)


def _check_outputs(outputs: dict) -> dict:
    """Validate every output path before any computation (``_io.check_output_path``); create a
    missing last folder (saying so). Returns the paths to write, ``--save`` with ``.npz``."""
    from ._io import IMAGE_SUFFIXES, check_output_path

    checked = {}
    for key, path in outputs.items():
        if key == "json" and str(path) == "-":
            checked[key] = "-"
            continue
        if key == "save" and not str(path).endswith(".npz") and not Path(path).is_dir():
            path = f"{path}.npz"
        target = check_output_path(path, what=f"--{key}",
                                   suffixes=IMAGE_SUFFIXES if key == "plot" else None)
        if not target.parent.exists():
            _note(f"creating the folder {target.parent}")
            target.parent.mkdir()
        checked[key] = target
    return checked


def _write_outputs(outputs: dict, result, problem, schedule, eta) -> list:
    from .plotting import describe, method, plot_result

    written = []
    if "json" in outputs:
        written.append(("json", _write_json(result, outputs["json"])))
    if "save" in outputs:
        written.append(("npz", result.save(outputs["save"])))
    if "plot" in outputs:
        line1, line2 = describe(problem, schedule)
        if "momentum" in result.params:
            line2 += f", {result.params['momentum']} β={_fmt(result.params['beta'])}"
        step = f"η={_fmt(eta)}" if eta is not None else "continuous time (η → 0)"
        title = f"{line1}\n{line2}, {step}\n{method(result)}"
        bayes = problem.mixture.bayes_optimal_error()
        reference = None if bayes is None else (bayes, "Bayes-optimal")
        written.append(("plot", plot_result(result, outputs["plot"], title, reference)))
    return written


# --------------------------------------------------------------------------------------------


def _error(message: str, code: int) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _with_option_hint(message: str) -> str:
    """Point from a constructor argument named in ``message`` (n_points, ...) to its option."""
    from ._config import ALIASES

    hints = [f"--{option.replace('_', '-')}" for name, option in ALIASES.items()
             if re.match(rf"\W*{name}\b", message)]
    return f"{message} (option {hints[0]})" if hints else message


def _settings(command: str, options: dict):
    """Merge the TOML file and the options; return (settings, outputs, progress)."""
    from ._config import COMMAND_KEYS, CONFIG_KEYS, OUTPUT_KEYS, PROBLEM_KEYS, read_config

    settings = read_config(options.pop("config")) if "config" in options else {}
    settings.update(options)
    progress = settings.pop("progress", sys.stderr.isatty())
    outputs = {key: settings.pop(key) for key in ("json", "save", "plot") if key in settings}
    other = set(CONFIG_KEYS) - set(PROBLEM_KEYS) - set(COMMAND_KEYS[command]) - set(OUTPUT_KEYS)
    return {k: v for k, v in settings.items() if k not in other}, outputs, bool(progress)


def _prepare(command: str, options: dict):
    """Settings to objects and checked outputs: (problem, schedule, kwargs, outputs)."""
    from ._config import build

    settings, outputs, progress = _settings(command, options)
    max_memory = settings.pop("max_memory", None)
    problem, schedule, kwargs, unused = build(command, settings)
    outputs = _check_outputs(outputs)
    if unused:
        _warn("ignored (not used by this model/schedule/rule): " + ", ".join(unused))
    if command == "solve" and problem.mixture.w_sign_symmetric and problem.m0 == 0.0:
        _warn(f"{problem.mixture.title} model with m0 = 0: by symmetry the DMFT stays at m = 0; "
              f"the paper starts at m0 = sqrt(2 R/(pi d)) (quaddmft.finite_d_m0)")
    if max_memory is not None:
        from ._errors import check_real

        kwargs["max_memory"] = check_real("max_memory", max_memory, low=0.0) * 2**30
    return problem, schedule, {**kwargs, "progress": progress}, outputs


def _announce(command: str, problem, schedule, kwargs) -> None:
    """Print the resource estimate of a long run before it starts (refusal happens in the run)."""
    from ._inputs import check_run
    from ._resources import check_simulate, check_solve

    if kwargs.get("time") is not None:
        return _announce_ladder(problem, schedule, kwargs)
    run = check_run(problem, schedule, kwargs["eta"], kwargs["t_max"], kwargs.get("momentum"))
    if command == "solve":
        from .rules import Quadrature

        estimate = check_solve(kwargs.get("rule") or Quadrature(), problem, run.chain, run.K,
                               kwargs.get("max_memory"))
    else:
        from ._simulator import n_samples, simulation_state_vectors

        d = kwargs.get("d", 500)
        estimate = check_simulate(n_samples(problem, d), d, run.K, kwargs.get("seeds", 8),
                                  kwargs.get("test_points", 0), not run.chain.deterministic,
                                  kwargs.get("max_memory"),
                                  state_vectors=simulation_state_vectors(problem, run.momentum))
    if estimate.seconds > 30:
        _note(f"estimated {estimate.describe()}")


def _announce_ladder(problem, schedule, kwargs) -> None:
    """The resource estimate of a continuous-time ladder (its finest level's memory, the sum of
    its levels' times; an adaptive mesh: of its pilot's grids, about its own size), printed
    when long. ``solve`` itself refuses a level beyond ``max_memory`` before anything runs."""
    import numpy as np

    from ._resources import check_solve
    from .rules import Quadrature

    model = kwargs["time"]
    grids = model.planned_grids(kwargs["t_max"])
    estimates = [check_solve(kwargs.get("rule") or Quadrature(), problem,
                             schedule.chain(float(np.diff(t).min())), t.size - 1,
                             kwargs.get("max_memory")) for t in grids]
    seconds = sum(e.seconds for e in estimates)
    if seconds > 30:
        _note(f"estimated {estimates[-1].describe()} for the finest of {len(grids)} levels; "
              f"about {seconds:.0f} s in all")


def _run(command: str, options: dict) -> int:
    import warnings

    import quaddmft as qd

    problem, schedule, kwargs, outputs = _prepare(command, options)
    _announce(command, problem, schedule, kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = (qd.solve if command == "solve" else qd.simulate)(problem, schedule, **kwargs)
    for warning in caught:
        if not str(warning.message).startswith(("solve: diverged", "simulate: the run diverged")):
            _warn(warning.message)
    wall = time.perf_counter() - start
    if not result.success:  # a diverged run: its curves stop early; keep any previous outputs
        return _error(f"{command} {result.status.value}: {result.message}; nothing written", 1)
    written = _write_outputs(outputs, result, problem, schedule, kwargs["eta"])
    summary = _summary(command, result, wall, written)
    print(summary, file=sys.stderr if outputs.get("json") == "-" else sys.stdout)
    return 0


def _sweep(options: dict) -> int:
    """``quaddmft sweep``: 0 when every point succeeded, 1 when some failed (the dataset is
    written all the same; a rerun retries them) or the cluster failed; bad input raises
    ParameterError (status 2, in ``main``)."""
    import warnings

    from ._errors import FileFormatError, ParameterError
    from ._sweep_grid import SweepGrid, read_sweep_config
    from ._sweep_run import run_sweep

    config = options.pop("config")
    grid, settings = read_sweep_config(config)
    output = options.pop("output", settings.get("output")) or str(Path(config).with_suffix(".nc"))
    scheduler = options.pop("scheduler", settings.get("scheduler"))
    workers = options.pop("workers", settings.get("workers"))
    progress = options.pop("progress", settings.get("progress", sys.stderr.isatty()))
    simulate = options.pop("simulate", grid.simulate)
    fixed = dict(grid.fixed)
    for given, other in (("tau", "inv_tau"), ("inv_tau", "tau")):
        if given in options:
            fixed.pop(other, None)
    fixed.update(options)
    grid = SweepGrid(fixed=fixed, over=grid.over, points=grid.points, simulate=simulate)
    unused = grid.unused()
    if unused:
        _warn("ignored (not used by this model/schedule/rule): " + ", ".join(unused))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds, counts = run_sweep(grid, output, client=scheduler, workers=workers,
                                   progress=progress)
    except (ParameterError, FileFormatError):
        raise
    except Exception as exc:  # the cluster, the connection, the files: a failed run, status 1
        return _error(f"sweep failed: {type(exc).__name__}: {exc}", 1)
    for warning in caught:  # ours as quaddmft warnings, the libraries' as usual
        if "quaddmft" in warning.filename and issubclass(warning.category, UserWarning):
            _warn(warning.message)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    print(_sweep_summary(grid, ds, counts, time.perf_counter() - start, output))
    if counts["failed_points"]:
        return _error(f"{counts['failed_points']} of {counts['points']} points failed (status and "
                      f"message in the dataset); a rerun retries them", 1)
    return 0


def _sweep_summary(grid, ds, counts: dict, wall: float, output) -> str:
    import numpy as np

    best = ""
    values = ds["gen_error_min"].values
    if np.isfinite(values).any():
        index = np.unravel_index(np.nanargmin(values), values.shape)
        where = grid.values(index) if grid.over is not None else grid.points[index[0]]
        best = (f"; lowest early-stopping error {values[index]:.5f} at "
                + ", ".join(f"{k}={_fmt(v)}" for k, v in where.items()))
    return (f"sweep: {counts['points']} points, {counts['computed']} runs computed, "
            f"{counts['reused']} reused, {counts['failed_points']} points failed, "
            f"{counts['diverged_points']} diverged{best}; "
            f"{wall:.1f} s; dataset -> {output}")


def _plot_sweep(options: dict) -> int:
    """``quaddmft plot-sweep``: bad input raises ParameterError (status 2, in ``main``)."""
    from ._errors import ParameterError
    from .plotting import plot_sweep

    select = {}
    for item in options.pop("select", []):
        key, sep, value = item.partition("=")
        if not sep:
            raise ParameterError(f"--select {item!r}: expected KEY=VALUE")
        try:
            select[key] = float(value)
        except ValueError:
            select[key] = value  # a swept name (loss, schedule, ...)
    path = plot_sweep(options["dataset"], options.get("variable", "gen_error_min"),
                      options.get("out"), x=options.get("x"), y=options.get("y"),
                      kind=options.get("kind", "heatmap"), select=select or None)
    print(f"plot-sweep: {path}")
    return 0


def main(argv=None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failed run, 2 bad input, 130
    interrupted).

    ``argv``: the arguments after the program name (default ``sys.argv[1:]``); the options are
    listed in docs/guide.md. The one-line summary goes to stdout (to stderr when ``--json -``
    writes the JSON there), notes, warnings and errors to stderr, each error on one line
    ``quaddmft: error: ...``. Output paths are checked before the run; every file is written
    atomically, so a failed or interrupted write leaves the previous file as it was.

    Examples
    --------
    >>> main(["solve", "--schedule", "gd", "--t-max", "0.4", "--resolution", "1",
    ...       "--no-progress"])  # doctest: +ELLIPSIS
    solve: t_max=0.4; final gen_error=...; status=success; ... s
    0
    >>> main(["solve", "--b", "1.5"])
    2
    """
    parser = _parser()
    try:
        namespace = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a malformed option (2, message printed)
        return exc.code if isinstance(exc.code, int) else 2
    options = vars(namespace)
    command = options.pop("command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    # Imported here, not at the top: --help and usage errors answer without loading numba.
    from ._errors import ConvergenceError, DivergenceError, FileFormatError, ParameterError
    from ._progress import Progress

    try:
        if command == "sweep":
            return _sweep(options)
        if command == "plot-sweep":
            return _plot_sweep(options)
        return _run(command, options)
    except (ParameterError, FileFormatError) as exc:
        return _error(_with_option_hint(str(exc)), 2)
    except (DivergenceError, ConvergenceError) as exc:
        return _error(str(exc), 1)
    except KeyboardInterrupt:
        where = f" at {Progress.last}" if Progress.last else ""
        kept = ("; the finished points are kept, a rerun computes the rest" if command == "sweep"
                else "; nothing written")
        print(f"{PROG}: interrupted{where}{kept}", file=sys.stderr)
        return 130
    except MemoryError:
        return _error("out of memory (the run's estimate was below --max-memory: lower it, or "
                      "shorten t_max)", 1)
    except OSError as exc:
        return _error(f"cannot write output: {exc}", 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
