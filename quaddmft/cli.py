"""Command-line interface: ``quaddmft solve`` (DMFT) and ``quaddmft simulate`` (finite d).

Strings live only here (STYLE point 10): every name given on the command line or in a TOML
config is resolved through the package's tables (``MIXTURES``, ``LOSSES``, ``SCHEDULES``,
``RULES``) by ``_errors.choose``, and every number is validated by the object it builds. Which
option feeds which constructor argument is read from the constructors' signatures, so a new
mixture, selection process or averaging rule needs no new ``if`` here.

Precedence: built-in defaults (the paper's Fig. 1 left setting) < ``--config FILE.toml`` <
command-line options. A ParameterError anywhere prints ``quaddmft: error: <message>`` and exits
with status 2; a DivergenceError or ConvergenceError exits with status 1.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import re
import sys
import time
import tomllib
from pathlib import Path

__all__ = ["main"]

PROG = "quaddmft"

# The paper's Fig. 1 (left) setting. ``L`` is used by the three-cluster model only (paper Fig. 2);
# ``b``, ``tau`` and ``law`` only by the schedules that take them.
DEFAULTS = {
    "model": "two", "alpha": 2.0, "delta": 0.5, "L": 0.7, "loss": "logistic", "lam": 0.0,
    "eta": 0.2, "t_max": 20.0, "R": 0.01, "m0": 0.0,
    "schedule": "persistent", "b": 0.3, "tau": 1.0 / 0.6, "law": "linear",
    "rule": "qmc", "d": 500,
}

# Option name for a constructor argument whose name differs from it.
ALIASES = {"n_points": "points", "n_samples": "points", "n_h0": "h0_nodes",
           "n_replicates": "replicates", "n_paths": "points", "n_path_replicates": "replicates"}

PROBLEM_KEYS = ["model", "alpha", "delta", "L", "loss", "lam", "eta", "t_max", "R", "m0",
                "schedule", "b", "tau", "law"]
SOLVE_KEYS = ["rule", "points", "h0_nodes", "replicates", "seed", "level", "kl_tol", "target"]
SIMULATE_KEYS = ["d", "seeds", "seed", "test_points"]
OUTPUT_KEYS = ["json", "save", "plot", "progress"]
COMMAND_KEYS = {"solve": SOLVE_KEYS, "simulate": SIMULATE_KEYS}
# One config file may serve both subcommands: keys of the other one are accepted and unused.
CONFIG_KEYS = list(dict.fromkeys(PROBLEM_KEYS + SOLVE_KEYS + SIMULATE_KEYS + OUTPUT_KEYS))
_STRING_KEYS = {"model", "loss", "schedule", "law", "rule", "json", "save", "plot"}


# --------------------------------------------------------------------------------------------
# argument parsing


def _level(text: str):
    """--level: an integer or the word 'auto' (validated by quaddmft.Quadrature)."""
    return text if text == "auto" else int(text)


def _parser() -> argparse.ArgumentParser:
    # Every default is SUPPRESS so that the namespace holds exactly what the user typed; defaults
    # are applied after merging with the config file.
    S = argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False, argument_default=S)
    g = common.add_argument_group("problem (defaults: the paper's Fig. 1 left setting)")
    g.add_argument("--model", metavar="two|three|noise",
                   help="Gaussian mixture: two clusters, three clusters (door activation), pure "
                        "noise (default two)")
    g.add_argument("--alpha", type=float, help="samples per dimension n/d > 0 (default 2)")
    g.add_argument("--delta", type=float, help="cluster noise variance Delta > 0 (default 0.5)")
    g.add_argument("--L", type=float, help="door half-width L > 0, three-cluster model only "
                                           "(default 0.7)")
    g.add_argument("--loss", metavar="NAME", help="logistic|square|squared-hinge (default logistic)")
    g.add_argument("--lam", type=float, help="ridge penalty lambda >= 0 (default 0)")
    g.add_argument("--eta", type=float, help="learning rate > 0 (default 0.2)")
    g.add_argument("--t-max", type=float, help="time horizon, t = k*eta (default 20)")
    g.add_argument("--R", type=float, help="initial weight variance, w(0) ~ N(0, R I) (default 0.01)")
    g.add_argument("--m0", type=float, help="initial overlap m(0) of the DMFT (default 0)")
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
    g = common.add_argument_group("input and output")
    g.add_argument("--config", metavar="FILE.toml",
                   help="read options from a TOML file (keys as the long options, dashes or "
                        "underscores); command-line options override it")
    g.add_argument("--json", metavar="PATH", help="write curves, error estimates and params as JSON")
    g.add_argument("--save", metavar="PATH.npz", help="save the full result (reload with quaddmft.load)")
    g.add_argument("--plot", metavar="PATH.png", help="plot gen_error(t) with train accuracy inset")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="report progress on stderr (default: when stderr is a terminal)")

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
    g = solve.add_argument_group("averaging rule", "Options not given keep the rule's own "
                                 "defaults (see quaddmft.QMC, quaddmft.MonteCarlo, "
                                 "quaddmft.Quadrature).")
    g.add_argument("--rule", metavar="qmc|montecarlo|quadrature",
                   help="randomized quasi-Monte Carlo, plain Monte Carlo, or deterministic "
                        "Karhunen-Loeve x sparse-grid quadrature (default qmc)")
    g.add_argument("--points", type=int, help="qmc: Sobol' points per replicate (a power of 2); "
                                              "montecarlo: samples per replicate; quadrature: "
                                              "Sobol' selection paths (b < 1, long horizons)")
    g.add_argument("--level", type=_level, help="quadrature: Smolyak level (int >= 1) or 'auto'")
    g.add_argument("--kl-tol", type=float, help="quadrature: discarded KL variance fraction")
    g.add_argument("--target", type=float, help="quadrature, level auto: gen_error indicator target")
    g.add_argument("--h0-nodes", type=int, help="qmc: Gauss-Hermite nodes for h0")
    g.add_argument("--replicates", type=int, help="independent replicates for the error "
                                                  "estimate, >= 2")
    g.add_argument("--seed", type=int, help="seed of the rule")
    simulate = sub.add_parser("simulate", parents=[common], allow_abbrev=False,
                              argument_default=S,
                              help="simulate the algorithm at finite dimension d",
                              description="Simulate the real algorithm at finite d, averaged "
                                          "over independent seeds.")
    g = simulate.add_argument_group("simulation")
    g.add_argument("--d", type=int, help="dimension (default 500)")
    g.add_argument("--seeds", type=int, help="independent runs averaged, >= 2 "
                                             "(default: quaddmft.simulate's)")
    g.add_argument("--seed", type=int, help="base seed (default: quaddmft.simulate's)")
    g.add_argument("--test-points", type=int,
                   help="fresh test points per run for an empirical test error "
                        "(default: none)")
    return parser


def _read_config(path) -> dict:
    """Read a TOML config; keys may use dashes or underscores. Unknown keys are an error."""
    from ._errors import ParameterError

    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ParameterError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"config: {path} is not valid TOML: {exc}") from None
    out = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in CONFIG_KEYS:
            raise ParameterError(
                f"config: unknown key {key!r} in {path}; valid keys are: {', '.join(CONFIG_KEYS)}"
            )
        if name in out:
            raise ParameterError(f"config: key {name!r} given twice in {path}")
        if name in _STRING_KEYS and not isinstance(value, str):
            raise ParameterError(f"config: {name} must be a string, got {value!r}")
        if name == "progress" and not isinstance(value, bool):
            raise ParameterError(f"config: progress must be true or false, got {value!r}")
        out[name] = value
    return out


# --------------------------------------------------------------------------------------------
# options -> objects (the one place where settings are validated)


def _construct(kind: str, table: dict, settings: dict, used: set):
    """Resolve ``settings[kind]`` through ``table`` and call it with the options it takes.

    A constructor argument ``p`` is fed by the option ``ALIASES.get(p, p)`` when ``settings``
    (DEFAULTS merged in) has it, else left to the constructor's own default. The options consumed
    are added to ``used``.
    """
    from ._errors import choose

    cls = choose(kind, settings[kind], table)
    kwargs = {}
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        option = ALIASES.get(name, name)
        if option in settings:
            kwargs[name] = settings[option]
            used.add(option)
    return cls(**kwargs)


def build(command: str, settings: dict):
    """Turn merged settings into ``(problem, schedule, kwargs, unused)`` for solve/simulate.

    ``kwargs`` are the keyword arguments of ``qd.solve`` (``rule`` included) or ``qd.simulate``;
    ``unused`` lists the given options that the chosen model/schedule/rule does not take.
    Raises ParameterError (naming the parameter) for any invalid setting.
    """
    import quaddmft as qd
    from ._errors import check_real

    given = set(settings)
    full = {**DEFAULTS, **settings}
    used = {"model", "loss", "lam", "R", "m0", "eta", "t_max", "schedule"}
    mixture = _construct("model", qd.MIXTURES, full, used)
    problem = qd.Problem(mixture, loss=full["loss"], lam=full["lam"], R=full["R"], m0=full["m0"])
    schedule = _construct("schedule", qd.SCHEDULES, full, used)
    eta = check_real("eta", full["eta"], low=0.0)
    t_max = check_real("t_max", full["t_max"], low=0.0)
    schedule.chain(eta)  # the linear Persistent-SGD law is checked against eta here, not later
    kwargs = {"eta": eta, "t_max": t_max}
    if command == "solve":
        used.add("rule")
        kwargs["rule"] = _construct("rule", qd.RULES, full, used)
    else:
        for key in SIMULATE_KEYS:
            if key in full:
                kwargs[key] = full[key]
                used.add(key)
    relevant = set(PROBLEM_KEYS) | set(COMMAND_KEYS[command])
    unused = sorted((given & relevant) - used)
    return problem, schedule, kwargs, unused


# --------------------------------------------------------------------------------------------
# outputs


_SCHEDULE_NAMES = {"gd": "full-batch GD", "sgd": "SGD", "persistent": "Persistent-SGD"}


def _fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def describe(problem, schedule) -> tuple[str, str]:
    """Two title lines: the problem, and the selection process (with the law for Persistent-SGD)."""
    p = problem.params()
    model = {"two": "two-cluster", "three": "three-cluster", "noise": "pure noise"}.get(
        p["model"], p["model"])
    line1 = (f"{model}, α={_fmt(p['alpha'])}, Δ={_fmt(p['delta'])}"
             + (f", L={_fmt(p['L'])}" if "L" in p else "")
             + f", {p['loss']} loss, λ={_fmt(p['lam'])}, R={_fmt(p['R'])}"
             + (f", m0={_fmt(p['m0'])}" if p["m0"] else ""))
    s = schedule.params()
    line2 = _SCHEDULE_NAMES.get(s["schedule"], s["schedule"])
    if "b" in s:
        line2 += f", b={_fmt(s['b'])}"
    if "tau" in s:
        line2 += f", 1/τ={_fmt(1.0 / s['tau'])}"
    if "law" in s:
        line2 += f", {s['law']} law"
    return line1, line2


def bayes_optimal_error(problem):
    """Bayes-optimal test error of the two-cluster model, 0.5 erfc(sqrt(alpha/(2 Delta (alpha + Delta))));
    None for the other models."""
    from scipy.special import erfc

    if problem.mixture.name != "two":
        return None
    a, dl = problem.alpha, problem.delta
    return float(0.5 * erfc(math.sqrt(a / (2.0 * dl * (a + dl)))))


def _method(result) -> str:
    """How the curves were obtained, from the result's own parameters."""
    p = result.params
    if result.kind == "dmft":
        sizes = ", ".join(f"{k}={p[k]}" for k in ("n_points", "n_samples", "n_h0", "n_replicates", "level")
                          if k in p)
        return f"DMFT, {p.get('rule', '?')} rule ({sizes})"
    return f"simulation, d={p.get('d', '?')}, {p.get('seeds', '?')} seeds"


def plot(result, path, title: str, bayes=None) -> Path:
    """gen_error(t) with its error band (DMFT) or error bars (simulation); train accuracy inset.

    ``bayes``: optional Bayes-optimal error, drawn as a dashed grey line.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    t = result.t
    if result.kind == "dmft":
        g, ge = result.gen_error, result.gen_error_err
        ax.plot(t, g, color="C0", label="DMFT")
        ax.fill_between(t, g - 2 * ge, g + 2 * ge, color="C0", alpha=0.3, lw=0,
                        label="± 2 s.e. (averaging rule)")
        acc, acc_e = result.train_accuracy, result.train_accuracy_err
    else:
        every = max(1, t.size // 50)
        ax.errorbar(t[::every], result.gen_error[::every], yerr=result.gen_error_sem[::every],
                    fmt="o", ms=3, color="C1", capsize=2,
                    label=f"simulation, d={result.params.get('d', '?')} (± 1 s.e.m.)")
        acc, acc_e = result.train_accuracy, result.train_accuracy_sem
    if bayes is not None:
        ax.axhline(bayes, ls="--", color="grey", lw=1, label=f"Bayes-optimal ({bayes:.4f})")
    ax.set_xlabel("t")
    ax.set_ylabel("generalisation error")
    ax.set_xlim(t[0], t[-1] if t[-1] > t[0] else t[0] + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(0.08, 1.0), fontsize=8)
    ax.set_title(title, fontsize=9)
    inset = ax.inset_axes([0.6, 0.5, 0.37, 0.4])
    inset.plot(t, acc, color="C2")
    inset.fill_between(t, acc - 2 * acc_e, acc + 2 * acc_e, color="C2", alpha=0.3, lw=0)
    inset.set_xlabel("t", fontsize=7)
    inset.set_ylabel("train accuracy", fontsize=7)
    inset.tick_params(labelsize=7)
    fig.savefig(path, dpi=120)
    return path


def _write_json(result, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(result.to_json_dict(), fh)
        fh.write("\n")
    return path


def _summary(command, result, wall, outputs) -> str:
    g = result.gen_error
    err = result.gen_error_err if result.kind == "dmft" else result.gen_error_sem
    k_min = int(g.argmin())
    parts = [
        f"{command}: t_max={_fmt(float(result.t[-1]))}",
        f"final gen_error={g[-1]:.5f} ± {err[-1]:.1e}",
        f"min gen_error={g[k_min]:.5f} at t={result.t[k_min]:.3g}",
        f"train_accuracy={result.train_accuracy[-1]:.4f}",
        f"train_loss={result.train_loss[-1]:.4g}",
        f"status={result.status}",
        f"{wall:.1f} s",
    ]
    parts += [f"{kind} -> {path}" for kind, path in outputs]
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------


def _error(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _with_option_hint(message: str) -> str:
    """Point from a constructor argument named in ``message`` (n_points, ...) to its option."""
    hints = [f"--{option.replace('_', '-')}" for name, option in ALIASES.items()
             if re.match(rf"\W*{name}\b", message)]
    return f"{message} (option {hints[0]})" if hints else message


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

    try:
        settings = _read_config(options.pop("config")) if "config" in options else {}
        settings.update(options)
        progress = settings.pop("progress", sys.stderr.isatty())
        outputs = {key: settings.pop(key) for key in ("json", "save", "plot") if key in settings}
        other = set(CONFIG_KEYS) - set(PROBLEM_KEYS) - set(COMMAND_KEYS[command]) - set(OUTPUT_KEYS)
        settings = {k: v for k, v in settings.items() if k not in other}
        problem, schedule, kwargs, unused = build(command, settings)
        if unused:
            print(f"{PROG}: warning: ignored (not used by this model/schedule/rule): "
                  + ", ".join(unused), file=sys.stderr)
        if (command == "solve" and problem.mixture.name == "three" and problem.m0 == 0.0):
            print(f"{PROG}: warning: three-cluster model with m0 = 0: by symmetry the DMFT stays "
                  f"at m = 0; the paper starts at m0 = sqrt(2 R/(pi d)) (quaddmft.finite_d_m0)",
                  file=sys.stderr)
        start = time.perf_counter()
        run = qd.solve if command == "solve" else qd.simulate
        result = run(problem, schedule, progress=bool(progress), **kwargs)
        wall = time.perf_counter() - start
    except qd.ParameterError as exc:
        return _error(_with_option_hint(str(exc)), 2)
    except (qd.DivergenceError, qd.ConvergenceError) as exc:
        return _error(str(exc), 1)

    written = []
    try:
        if "json" in outputs:
            written.append(("json", _write_json(result, outputs["json"])))
        if "save" in outputs:
            written.append(("npz", result.save(outputs["save"])))
        if "plot" in outputs:
            line1, line2 = describe(problem, schedule)
            title = f"{line1}\n{line2}, η={_fmt(kwargs['eta'])}\n{_method(result)}"
            written.append(("plot", plot(result, outputs["plot"], title,
                                         bayes_optimal_error(problem))))
    except OSError as exc:
        return _error(f"cannot write output: {exc}", 1)
    print(_summary(command, result, wall, written))
    if result.status != "success":
        return _error(f"{command} finished with status {result.status!r}: {result.message}", 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
