"""Settings of the command line and TOML files turned into objects: the one table of names.

Strings live only at this edge (STYLE point 10): every name given on the command line or in a
TOML config is resolved through ``TABLES`` (the package's ``MIXTURES`` with teacher-student
data, ``LOSSES``, ``SCHEDULES``, ``LAWS``, ``RULES``, ``MOMENTA`` and ``CONSTRAINTS``; the
teacher's name through ``TEACHERS``, by ``TeacherStudent`` itself) by ``_errors.choose``, and every number is validated by the
object it builds. Which option feeds which constructor argument is read from the constructors'
signatures (with ``ALIASES``), so a new mixture, selection process or averaging rule needs no
new ``if`` here.

Precedence: built-in ``DEFAULTS`` (the paper's Fig. 1 left setting) < the TOML file <
command-line options. ``inv_tau`` is the persistence rate 1/tau (the paper's parameter): given
instead of ``tau``, it sets tau = 1/inv_tau.
"""

from __future__ import annotations

import inspect
import tomllib

from ._continuous import TIME_MODELS
from ._errors import ParameterError, check_real, choose
from ._loss import LOSSES
from ._momentum import MOMENTA
from ._problem import CONSTRAINTS, MIXTURES, Problem
from ._selection import LAWS, SCHEDULES
from ._teacher import TeacherStudent
from .rules import RULES

__all__ = ["DEFAULTS", "TABLES", "ALIASES", "MODELS", "NONE", "PROBLEM_KEYS", "SOLVE_KEYS", "TIME_KEYS",
           "SIMULATE_KEYS", "OUTPUT_KEYS", "COMMAND_KEYS", "CONFIG_KEYS", "RULE_KEYS", "read_config",
           "check_value", "build"]

# The paper's Fig. 1 (left) setting. ``L`` is used by the three-cluster model only (paper Fig. 2);
# ``b``, ``tau`` and ``law`` only by the schedules that take them; ``teacher``, ``noise`` and
# ``flip`` by teacher-student data; ``beta`` by a momentum.
DEFAULTS = {
    "model": "two", "alpha": 2.0, "delta": 0.5, "L": 0.7, "loss": "logistic", "lam": 0.0,
    "eta": 0.2, "t_max": 20.0, "R": 0.01, "m0": 0.0, "temperature": 0.0, "constraint": "none",
    "schedule": "persistent", "b": 0.3, "tau": 1.0 / 0.6, "law": "linear",
    "momentum": "none", "rule": "quadrature", "d": 500, "time": "discrete",
}

# The data models: the mixtures and teacher-student data.
MODELS = {**MIXTURES, TeacherStudent.name: TeacherStudent}
# The name that turns an optional object off (``momentum``, ``constraint``).
NONE = "none"

# Settings that are names, and the table each is resolved through.
TABLES = {"model": MODELS, "loss": LOSSES, "schedule": SCHEDULES, "law": LAWS, "rule": RULES,
          "momentum": MOMENTA, "constraint": CONSTRAINTS, "time": TIME_MODELS}

# Option name for a constructor argument whose name differs from it.
ALIASES = {"n_points": "points", "n_samples": "points", "n_h0": "h0_nodes",
           "n_replicates": "replicates", "n_paths": "points", "n_path_replicates": "replicates"}

PROBLEM_KEYS = ["model", "alpha", "delta", "L", "teacher", "noise", "flip", "loss", "lam", "eta",
                "t_max", "R", "m0", "temperature", "constraint", "schedule", "b", "tau", "inv_tau",
                "law", "momentum", "beta"]
# The options of a continuous-time solve (``ContinuousTime``'s arguments).
TIME_KEYS = ["step", "levels", "growth", "max_step", "stability"]
SOLVE_KEYS = ["rule", "tolerance", "resolution", "max_resolution", "points", "h0_nodes",
              "replicates", "seed", "time", *TIME_KEYS]
# The keys that only the averaging rule reads (``seed`` also seeds a simulation).
RULE_KEYS = [key for key in SOLVE_KEYS if key not in ("seed", "time", *TIME_KEYS)]
SIMULATE_KEYS = ["d", "seeds", "seed", "test_points"]
OUTPUT_KEYS = ["json", "save", "plot", "progress", "max_memory"]  # outputs and run limits
COMMAND_KEYS = {"solve": SOLVE_KEYS, "simulate": SIMULATE_KEYS}
# One config file may serve both subcommands: keys of the other one are accepted and unused.
CONFIG_KEYS = list(dict.fromkeys(PROBLEM_KEYS + SOLVE_KEYS + SIMULATE_KEYS + OUTPUT_KEYS))
_STRING_KEYS = {"json", "save", "plot", "teacher", *TABLES}


def read_config(path) -> dict:
    """Read a TOML config; keys may use dashes or underscores. Unknown keys are an error."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ParameterError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ParameterError(f"config: {path} is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start})") from None
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
        out[name] = check_value(name, value)
    return out


def check_value(name: str, value):
    """The type check of one config value (the ranges are the constructors'): names are strings,
    ``progress`` a boolean, every other value a number."""
    if name in _STRING_KEYS and not isinstance(value, str):
        raise ParameterError(f"config: {name} must be a string, got {value!r}")
    if name == "progress" and not isinstance(value, bool):
        raise ParameterError(f"config: progress must be true or false, got {value!r}")
    if name == "growth" and isinstance(value, str):
        return value  # "adaptive" (ContinuousTime checks the name)
    if name == "max_memory" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ParameterError(f"config: max_memory must be a number of GiB, got {value!r}")
    if name not in _STRING_KEYS and name != "progress" and not (
            isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise ParameterError(f"config: {name} must be a number, got {value!r}")
    return value


def _construct(kind: str, settings: dict, used: set):
    """Resolve ``settings[kind]`` through ``TABLES[kind]`` and call it with the options it takes.

    A constructor argument ``p`` is fed by the option ``ALIASES.get(p, p)`` when ``settings``
    (DEFAULTS merged in) has it, else left to the constructor's own default. The options consumed
    are added to ``used``.
    """
    cls = choose(kind, settings[kind], TABLES[kind])
    kwargs = {}
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        option = ALIASES.get(name, name)
        if option in settings:
            kwargs[name] = settings[option]
            used.add(option)
    return cls(**kwargs)


def _optional(kind: str, settings: dict, used: set):
    """``None`` when ``settings[kind]`` is ``NONE``, else ``_construct(kind, ...)``."""
    if settings[kind] == NONE:
        return None
    return _construct(kind, settings, used)


def _time_model(command: str, settings: dict, full: dict, used: set):
    """The ``ContinuousTime`` of ``time = "continuous"`` (its options from ``TIME_KEYS``), or None
    for discrete time (then the ``TIME_KEYS`` given are reported unused). ``eta`` given with
    continuous time is an error: the grids come from ``step``, ``levels`` and ``growth``."""
    used.add("time")
    if command != "solve" or choose("time", full["time"], TABLES["time"]) is None:
        return None
    if "eta" in settings:
        raise ParameterError("eta is the learning rate of discrete time; with time = continuous "
                             "the grids come from step, levels and growth (leave eta unset)")
    return _construct("time", full, used)


def build(command: str, settings: dict):
    """Turn merged settings into ``(problem, schedule, kwargs, unused)`` for solve/simulate.

    ``kwargs`` are the keyword arguments of ``qd.solve`` (``rule`` and ``momentum`` included) or
    ``qd.simulate``; ``unused`` lists the given options that the chosen model/schedule/rule does
    not take. ``momentum`` and ``constraint`` may be ``"none"`` (plain (S)GD, ridge).
    Raises ParameterError (naming the parameter) for any invalid setting.
    """
    given = set(settings)
    full = {**DEFAULTS, **settings}
    if "inv_tau" in settings:
        if "tau" in settings:
            raise ParameterError("give tau or inv_tau (= 1/tau), not both")
        full["tau"] = 1.0 / check_real("inv_tau", settings["inv_tau"], low=0.0)
    used = {"model", "loss", "lam", "R", "m0", "eta", "t_max", "schedule", "temperature",
            "constraint", "momentum"}
    mixture = _construct("model", full, used)
    problem = Problem(mixture, loss=full["loss"], lam=full["lam"], R=full["R"], m0=full["m0"],
                      temperature=full["temperature"],
                      constraint=_optional("constraint", full, used))
    schedule = _construct("schedule", full, used)
    t_max = check_real("t_max", full["t_max"], low=0.0)
    time = _time_model(command, settings, full, used)
    eta = None if time is not None else check_real("eta", full["eta"], low=0.0)
    if eta is not None:
        schedule.chain(eta)  # the linear Persistent-SGD law is checked against eta here, not later
    kwargs = {"eta": eta, "t_max": t_max, "momentum": _optional("momentum", full, used)}
    if command == "solve":
        used.add("rule")
        kwargs["rule"] = _construct("rule", full, used)
        kwargs["time"] = time
    else:
        for key in SIMULATE_KEYS:
            if key in full:
                kwargs[key] = full[key]
                used.add(key)
    if "tau" in used:
        used.add("inv_tau")
    relevant = set(PROBLEM_KEYS) | set(COMMAND_KEYS[command])
    unused = sorted((given & relevant) - used)
    return problem, schedule, kwargs, unused
