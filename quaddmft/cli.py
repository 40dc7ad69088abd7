"""Command-line interface: ``quaddmft solve`` (DMFT) and ``quaddmft simulate`` (finite d).

This module parses the command line and writes the outputs; the settings become objects in
``_config`` (the one table of names, shared with TOML files), the plot is ``plotting``'s.
A ParameterError anywhere prints ``quaddmft: error: <message>`` and exits with status 2; a
DivergenceError or ConvergenceError exits with status 1.
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
    g.add_argument("--law", metavar="linear|exact",
                   help="Persistent-SGD per-step law: the paper's linear law (needs "
                        "tau >= eta*max(1, (1-b)/b)) or the exact one-step law of the "
                        "continuous-time chain (default linear)")
    g.add_argument("--momentum", metavar="none|heavy-ball|nesterov",
                   help="momentum of the update, with any schedule (default none)")
    g.add_argument("--beta", type=float, help="momentum coefficient in [0, 1) (default 0)")


def _io_options(common: argparse.ArgumentParser) -> None:
    g = common.add_argument_group("input and output")
    g.add_argument("--config", metavar="FILE.toml",
                   help="read options from a TOML file (keys as the long options, dashes or "
                        "underscores); command-line options override it")
    g.add_argument("--json", metavar="PATH", help="write curves, error estimates and params as JSON")
    g.add_argument("--save", metavar="PATH.npz", help="save the full result (reload with quaddmft.load)")
    g.add_argument("--plot", metavar="PATH.png", help="plot gen_error(t) with train accuracy inset")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="report progress on stderr (default: when stderr is a terminal)")


def _solve_options(solve: argparse.ArgumentParser) -> None:
    g = solve.add_argument_group("averaging rule", "Options not given keep the rule's own "
                                 "defaults (see quaddmft.Quadrature, quaddmft.QMC, "
                                 "quaddmft.MonteCarlo).")
    g.add_argument("--rule", metavar="quadrature|qmc|montecarlo",
                   help="deterministic quadrature with a refinement error estimate (default), "
                        "randomized quasi-Monte Carlo, or plain Monte Carlo")
    g.add_argument("--tolerance", type=float,
                   help="quadrature: stop refining when the estimated error of m, C, gen_error "
                        "and train_loss is below this (default 1e-5)")
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


def _simulate_options(simulate: argparse.ArgumentParser) -> None:
    g = simulate.add_argument_group("simulation")
    g.add_argument("--d", type=int, help="dimension (default 500)")
    g.add_argument("--seeds", type=int, help="independent runs averaged, >= 2 "
                                             "(default: quaddmft.simulate's)")
    g.add_argument("--seed", type=int, help="base seed (default: quaddmft.simulate's)")
    g.add_argument("--test-points", type=int,
                   help="fresh test points per run for an empirical test error "
                        "(default: none)")


def _parser() -> argparse.ArgumentParser:
    # Every default is SUPPRESS so that the namespace holds exactly what the user typed; defaults
    # are applied after merging with the config file (quaddmft._config).
    S = argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False, argument_default=S)
    _problem_options(common)
    _io_options(common)
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="DMFT of SGD on high-dimensional Gaussian-mixture classification "
                    "(Mignacco et al., NeurIPS 2020) and finite-d simulation of the algorithm.",
        epilog="Example: quaddmft solve --config examples/fig1_left.toml --json out/a.json "
               "--plot out/a.png")
    sub = parser.add_subparsers(dest="command", metavar="{solve,simulate}")
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
    return parser


def _write_json(result, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(result.to_json_dict(), fh)
        fh.write("\n")
    return path


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
        title = f"{line1}\n{line2}, η={_fmt(eta)}\n{method(result)}"
        bayes = problem.mixture.bayes_optimal_error()
        reference = None if bayes is None else (bayes, "Bayes-optimal")
        written.append(("plot", plot_result(result, outputs["plot"], title, reference)))
    return written


# --------------------------------------------------------------------------------------------


def _error(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


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


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failed run, 2 bad input).

    ``argv``: the arguments after the program name (default ``sys.argv[1:]``); the options are
    listed in docs/guide.md. The one-line summary goes to stdout, warnings and errors to stderr.

    Examples
    --------
    >>> main(["solve", "--schedule", "gd", "--t-max", "0.4", "--points", "32",
    ...       "--h0-nodes", "4", "--replicates", "2", "--no-progress"])  # doctest: +ELLIPSIS
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

    # Imported here so that --help and usage errors answer without compiling anything.
    import quaddmft as qd
    from ._config import build

    try:
        settings, outputs, progress = _settings(command, options)
        problem, schedule, kwargs, unused = build(command, settings)
        if unused:
            _warn("ignored (not used by this model/schedule/rule): " + ", ".join(unused))
        if command == "solve" and problem.mixture.w_sign_symmetric and problem.m0 == 0.0:
            _warn(f"{problem.mixture.title} model with m0 = 0: by symmetry the DMFT stays at "
                  f"m = 0; the paper starts at m0 = sqrt(2 R/(pi d)) (quaddmft.finite_d_m0)")
        start = time.perf_counter()
        run = qd.solve if command == "solve" else qd.simulate
        result = run(problem, schedule, progress=progress, **kwargs)
        wall = time.perf_counter() - start
    except qd.ParameterError as exc:
        return _error(_with_option_hint(str(exc)), 2)
    except (qd.DivergenceError, qd.ConvergenceError) as exc:
        return _error(str(exc), 1)

    try:
        written = _write_outputs(outputs, result, problem, schedule, kwargs["eta"])
    except OSError as exc:
        return _error(f"cannot write output: {exc}", 1)
    print(_summary(command, result, wall, written))
    if not result.success:
        return _error(f"{command} finished with status {result.status.value!r}: {result.message}", 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
