"""A parameter grid of a sweep: fixed settings, swept ones, and the runs of each point.

A grid names its parameters exactly as a TOML config or the command line does (the keys of
``_config``: ``alpha``, ``b``, ``tau`` or ``inv_tau``, ``lam``, ``rule``, ``points``, ...), so that
every point becomes objects through the one table of names, ``_config.build``:

* ``fixed``: settings shared by every point (defaults: ``_config.DEFAULTS``, and ``qd.solve``'s
  own default rule when no rule setting is given);
* ``over``: swept settings, each a list of values; the points are their full product, in the
  order given (the last varies fastest); or ``points``: explicit points, each a mapping of the
  same swept keys to values;
* ``rule``: optionally an ``AveragingRule`` object for every point (instead of rule settings);
* ``simulate``: also run ``qd.simulate`` at every point (settings ``d``, ``seeds``, ``seed``,
  ``test_points``).

Each point is one ``Task`` per run (the solve, and the simulation if asked for), identified by
a hash of everything that determines its result (the objects' parameters, the rule's in full,
and the package version): the key of its files in a sweep's folder (``_sweep_store``).

The TOML form (``read_sweep_config``) holds the fixed settings at the top level, as in a solve
config, and either a ``[sweep]`` table of swept keys or an array of tables ``[[point]]``, one
per explicit point (``points`` is the rule's number of Sobol' points)::

    model = "two"
    schedule = "persistent"
    law = "exact"
    t_max = 20
    [sweep]
    b = {start = 0.1, stop = 1.0, step = 0.1}     # or num = 10; scale = "log" with num
    inv_tau = [0.1, 0.2, 0.4]

Bad keys or values raise ParameterError naming the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import ParameterError, check_int, check_real, choose
from ._config import (PROBLEM_KEYS, RULE_KEYS, SIMULATE_KEYS, SOLVE_KEYS, TABLES, build,
                      check_value)

__all__ = ["SweepGrid", "Task", "Point", "read_sweep_config", "SWEEP_KEYS", "OPTION_KEYS",
           "UNSWEPT_KEYS", "UNSWEPT_MODELS"]

# Settings of the models of docs/theory.md section 8 (teacher-student data, momentum, Langevin
# noise, the spherical constraint) that sweeps do not take yet: a run's key and its dataset do not
# record them, so a sweep over them would reuse or mislabel runs. Refused by name instead.
UNSWEPT_KEYS = ["teacher", "noise", "flip", "temperature", "constraint", "momentum", "beta"]
UNSWEPT_MODELS = ["teacher-student"]
# Settings a grid may fix or sweep: the problem, the rule, the simulation.
SWEEP_KEYS = [key for key in dict.fromkeys(PROBLEM_KEYS + SOLVE_KEYS + SIMULATE_KEYS)
              if key not in UNSWEPT_KEYS]
# Top-level keys of a sweep TOML that are not settings of a point.
OPTION_KEYS = ["simulate", "output", "workers", "scheduler", "progress"]


def _canonical(value: float) -> float:
    """A range value rounded to 12 significant digits: 0.1 + 2 * 0.1 is 0.3, not 0.30000000000000004."""
    return float(f"{value:.12g}")


def expand_values(name: str, spec) -> tuple:
    """The values of one swept key: a list, or a range table {start, stop, step} or
    {start, stop, num[, scale = "linear" | "log"]} (both ends included)."""
    if isinstance(spec, (list, tuple)):
        values = tuple(_check_setting(name, v) for v in spec)
    elif isinstance(spec, dict):
        allowed = {"start", "stop", "step", "num", "scale"}
        if set(spec) - allowed or not {"start", "stop"} <= set(spec) or (
                ("step" in spec) == ("num" in spec)):
            raise ParameterError(
                f"sweep: {name} = {spec!r}: a range is {{start, stop, step}} or "
                f"{{start, stop, num, scale}} (scale 'linear' or 'log')")
        start = check_real(f"{name}.start", spec["start"])
        stop = check_real(f"{name}.stop", spec["stop"])
        scale = spec.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise ParameterError(f"sweep: {name}.scale = {scale!r}; allowed: 'linear', 'log'")
        if "step" in spec:
            if scale != "linear":
                raise ParameterError(f"sweep: {name}: scale 'log' needs num, not step")
            step = check_real(f"{name}.step", spec["step"], low=0.0)
            if stop < start:
                raise ParameterError(f"sweep: {name}: stop = {stop} < start = {start}")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = tuple(_canonical(start + i * step) for i in range(count))
        else:
            count = check_int(f"{name}.num", spec["num"], low=1)
            if scale == "log":
                if start <= 0 or stop <= 0:
                    raise ParameterError(f"sweep: {name}: a log range needs start, stop > 0")
                lo, hi = math.log(start), math.log(stop)
                values = tuple(_canonical(math.exp(lo + (hi - lo) * i / max(count - 1, 1)))
                               for i in range(count))
            else:
                values = tuple(_canonical(start + (stop - start) * i / max(count - 1, 1))
                               for i in range(count))
    else:
        raise ParameterError(f"sweep: {name} must be a list of values or a range table, got {spec!r}")
    if not values:
        raise ParameterError(f"sweep: {name} has no values")
    if len(set(values)) != len(values):
        raise ParameterError(f"sweep: {name} has repeated values {list(values)}")
    return values


def _unswept(what: str) -> ParameterError:
    return ParameterError(f"{what} is not supported by sweeps (teacher-student data, momentum, "
                          f"Langevin noise and the spherical constraint run with qd.solve, "
                          f"qd.simulate or quaddmft solve/simulate only)")


def _check_key(name: str, where: str) -> str:
    name = name.replace("-", "_")
    if name in UNSWEPT_KEYS:
        raise _unswept(f"{where}: the key {name!r}")
    if name not in SWEEP_KEYS:
        raise ParameterError(f"{where}: unknown key {name!r}; valid keys are: {', '.join(SWEEP_KEYS)}")
    return name


def _check_setting(name: str, value):
    """``_config.check_value``, and names resolved through ``_config.TABLES`` now (a typo in one
    swept name is bad input, not a failed point)."""
    value = check_value(name, value)
    if name == "model" and value in UNSWEPT_MODELS:
        raise _unswept(f"model = {value!r}")
    if name in TABLES:
        choose(name, value, TABLES[name])
    return value


# Part of every run's key: raised when the solver's results change without a new package version
# (2: the deterministic Quadrature default, one BLAS thread per solve, the Rao-Blackwellised
# training accuracy), so that a rerun does not reuse runs of an older solver.
RESULTS_REVISION = 2


def task_key(kind: str, params: dict) -> str:
    """The identity of one run: a hash of everything that determines its result."""
    __version__ = sys.modules[__package__].__version__  # the package, loaded before its modules

    text = json.dumps({"kind": kind, "version": __version__, "revision": RESULTS_REVISION,
                       **params}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Task:
    """One run of a point: ``kind`` "dmft" (``qd.solve``) or "simulation" (``qd.simulate``)."""

    kind: str
    problem: object
    schedule: object
    kwargs: dict
    key: str


@dataclass(frozen=True)
class Point:
    """One grid point: its index in the grid, its swept values, and its tasks (None with the
    ParameterError message when its settings are invalid)."""

    index: tuple
    values: dict
    tasks: tuple = ()
    error: str | None = None


def _simulate_kwargs(kwargs: dict) -> dict:
    """simulate's keyword arguments with its own defaults filled in (so that they enter the key)."""
    from ._simulator import simulate

    out = {}
    for name, param in inspect.signature(simulate).parameters.items():
        if name in ("problem", "schedule", "progress"):
            continue
        out[name] = kwargs.get(name, param.default)
    return out


@dataclass(frozen=True)
class SweepGrid:
    """Fixed settings, swept settings (a product ``over`` or explicit ``points``), an optional
    rule object, and whether to simulate too; see the module docstring.

    Parameters
    ----------
    fixed : mapping
        Settings of every point, keyed as in a TOML config (``_config``; ``inv_tau`` = 1/tau).
    over : mapping of key -> list of values
        Swept settings; the points are the full product, the last key varying fastest.
    points : list of mappings
        Explicit points instead of a product (all with the same keys).
    rule : AveragingRule
        The rule of every point (then no rule setting may be given besides ``seed``).
    simulate : bool
        Also simulate every point at finite d (settings ``d``, ``seeds``, ``seed``, ``test_points``).

    Examples
    --------
    >>> grid = SweepGrid(fixed={"schedule": "persistent", "law": "exact", "t_max": 1.0},
    ...                  over={"b": [0.5, 1.0], "inv_tau": [0.2, 0.6, 1.0]})
    >>> len(grid), grid.dims, grid.shape
    (6, ('b', 'inv_tau'), (2, 3))
    >>> grid.point_settings((1, 0))["b"], grid.point_settings((1, 0))["inv_tau"]
    (1.0, 0.2)
    """

    fixed: dict = field(default_factory=dict)
    over: dict | None = None
    points: tuple | None = None
    rule: object = None
    simulate: bool = False

    def __post_init__(self):
        from .rules import AveragingRule

        fixed = {}
        for key, value in dict(self.fixed).items():
            name = _check_key(key, "sweep fixed settings")
            fixed[name] = _check_setting(name, value)
        if (self.over is None) == (self.points is None):
            raise ParameterError("sweep: give either swept values (over, or a [sweep] table) or "
                                 "explicit points (points, or [[point]] tables), not both or "
                                 "neither")
        if self.over is not None:
            over = {}
            for key, spec in dict(self.over).items():
                name = _check_key(key, "sweep")
                over[name] = expand_values(name, spec)
            if not over:
                raise ParameterError("sweep: no swept key (over / [sweep] is empty)")
            points = None
            swept = list(over)
        else:
            points = tuple({_check_key(k, "points"): _check_setting(k.replace("-", "_"), v)
                            for k, v in dict(p).items()} for p in self.points)
            if not points:
                raise ParameterError("points: no point given")
            swept = list(points[0])
            for i, p in enumerate(points):
                if list(p) != swept:
                    raise ParameterError(f"points: point {i} has keys {list(p)}, point 0 has "
                                         f"{swept}; every point must give the same keys")
            if len({tuple(p.values()) for p in points}) != len(points):
                raise ParameterError("points: a point is given twice")
            over = None
        both = sorted(set(swept) & set(fixed))
        if both:
            raise ParameterError(f"sweep: {', '.join(both)} both fixed and swept")
        if self.rule is not None:
            if not isinstance(self.rule, AveragingRule):
                raise ParameterError(f"rule must be an AveragingRule, got {self.rule!r}")
            given = sorted(set(RULE_KEYS) & (set(fixed) | set(swept)))
            if given:
                raise ParameterError(f"sweep: rule settings {', '.join(given)} given with a rule "
                                     "object; set them on the object")
        if not isinstance(self.simulate, bool):
            raise ParameterError(f"simulate must be true or false, got {self.simulate!r}")
        object.__setattr__(self, "fixed", fixed)
        object.__setattr__(self, "over", over)
        object.__setattr__(self, "points", points)

    @classmethod
    def from_objects(cls, problem, schedule=None, *, eta: float, t_max: float, rule=None,
                     over=None, points=None, simulate: bool = False, **simulate_settings):
        """A grid whose fixed settings are those of ``problem``, ``schedule``, ``eta``, ``t_max``
        (``rule`` stays an object); ``over``/``points`` sweep settings by their config keys.

        >>> import quaddmft as qd
        >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
        >>> grid = SweepGrid.from_objects(problem, qd.FullBatch(), eta=0.2, t_max=1.0,
        ...                               over={"lam": [0.0, 0.1]})
        >>> grid.fixed["schedule"], grid.fixed["alpha"], grid.dims
        ('gd', 2.0, ('lam',))
        """
        from ._selection import FullBatch

        schedule = FullBatch() if schedule is None else schedule
        given = problem.params()
        if given["model"] in UNSWEPT_MODELS:
            raise _unswept(f"model = {given['model']!r}")
        for key in UNSWEPT_KEYS:
            if key in given:
                raise _unswept(f"the problem's {key} = {given[key]!r}")
        fixed = {k: v for k, v in given.items() if k in SWEEP_KEYS}
        fixed.update(schedule.params())
        fixed.update(eta=eta, t_max=t_max, **simulate_settings)
        swept = set(over or {}) | set(points[0] if points else {})
        if "inv_tau" in swept:
            fixed.pop("tau", None)
        for key in swept:
            fixed.pop(key, None)
        return cls(fixed=fixed, over=over, points=points, rule=rule, simulate=simulate)

    # ---------------------------------------------------------------------------------------
    # shape

    @property
    def dims(self) -> tuple:
        """The dataset dimensions of the points: the swept keys, or ("point",)."""
        return tuple(self.over) if self.over is not None else ("point",)

    @property
    def swept(self) -> tuple:
        """The swept keys."""
        return tuple(self.over) if self.over is not None else tuple(self.points[0])

    @property
    def shape(self) -> tuple:
        if self.over is not None:
            return tuple(len(v) for v in self.over.values())
        return (len(self.points),)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def indices(self):
        """Every point's index, in order (the last swept key fastest)."""
        return list(itertools.product(*(range(n) for n in self.shape)))

    def values(self, index) -> dict:
        """The swept values of the point at ``index``."""
        if self.over is not None:
            return {key: values[i] for (key, values), i in zip(self.over.items(), index)}
        return dict(self.points[index[0]])

    def point_settings(self, index) -> dict:
        """The settings of one point: fixed merged with its swept values."""
        return {**self.fixed, **self.values(index)}

    # ---------------------------------------------------------------------------------------
    # points -> objects

    def _rule(self, settings: dict):
        """The rule object of a point, or None when its settings name the rule (``_config``)."""
        from ._solver import default_rule

        if self.rule is not None:
            return self.rule
        if not (set(RULE_KEYS) | {"seed"}) & set(settings):
            return default_rule()  # qd.solve's own default, whatever it is
        return None

    def build(self, index) -> Point:
        """The point at ``index`` with its tasks, or its error when its settings are invalid."""
        settings = self.point_settings(index)
        values = self.values(index)
        try:
            problem, schedule, kwargs, _ = build("solve", settings)
            if kwargs.pop("time") is not None:  # its points' grids are not one eta's
                raise ParameterError("a sweep runs discrete time: time = continuous is for "
                                     "quaddmft solve (or qd.solve) one point at a time")
            rule = self._rule(settings)
            if rule is not None:
                kwargs["rule"] = rule
            run = {"problem": problem.params(), "schedule": schedule.params(),
                   "eta": kwargs["eta"], "t_max": kwargs["t_max"]}
            tasks = [Task("dmft", problem, schedule, kwargs,
                          task_key("dmft", {**run, "rule": kwargs["rule"].params()}))]
            if self.simulate:
                sim_kwargs = _simulate_kwargs(build("simulate", settings)[2])
                tasks.append(Task("simulation", problem, schedule, sim_kwargs,
                                  task_key("simulation", {**run, **sim_kwargs})))
        except ParameterError as exc:
            return Point(tuple(index), values, (), f"ParameterError: {exc}")
        return Point(tuple(index), values, tuple(tasks))

    def build_all(self) -> list:
        """Every point built; ParameterError if none is valid (a setting wrong for all of them),
        a warning listing the invalid ones otherwise (they are recorded as failed)."""
        built = [self.build(index) for index in self.indices()]
        bad = [p for p in built if p.error is not None]
        if len(bad) == len(built):
            raise ParameterError(f"sweep: no valid point; point {_label(bad[0].values)}: "
                                 f"{bad[0].error.removeprefix('ParameterError: ')}")
        if bad:
            warnings.warn(f"sweep: {len(bad)} of {len(built)} points have invalid parameters "
                          f"and are recorded as failed, e.g. {_label(bad[0].values)}: "
                          f"{bad[0].error}", stacklevel=3)
        return built

    def unused(self) -> list:
        """Given settings that the first point's model, schedule or rule does not take."""
        settings = self.point_settings(self.indices()[0])
        try:
            unused = set(build("solve", settings)[3])
        except ParameterError:
            return []
        if self.rule is not None or self._rule(settings) is not None:
            unused -= {"seed"}  # a rule object: seed is the simulation's
        if self.simulate:
            unused -= set(SIMULATE_KEYS)
        return sorted(unused)

    def to_json(self) -> str:
        """The grid as given (with the rule object's parameters), for the dataset's attributes."""
        out = {"fixed": self.fixed, "simulate": self.simulate}
        if self.over is not None:
            out["over"] = {k: list(v) for k, v in self.over.items()}
        else:
            out["points"] = list(self.points)
        if self.rule is not None:
            out["rule"] = self.rule.params()
        return json.dumps(out, sort_keys=True)


def _label(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def read_sweep_config(path) -> tuple[SweepGrid, dict]:
    """Read a sweep TOML (module docstring): the grid, and its options (``output``,
    ``workers``, ``scheduler``, ``progress``) as a dict."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ParameterError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"config: {path} is not valid TOML: {exc}") from None
    fixed, options, over, points, simulate = {}, {}, None, None, False
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name == "sweep":
            if not isinstance(value, dict):
                raise ParameterError(f"config: [sweep] must be a table of swept keys in {path}")
            over = value
        elif name == "point":
            if not (isinstance(value, list) and all(isinstance(p, dict) for p in value)):
                raise ParameterError(f"config: point must be an array of tables [[point]] "
                                     f"(one per point) in {path}")
            points = value
        elif name == "simulate":
            if not isinstance(value, bool):
                raise ParameterError(f"config: simulate must be true or false, got {value!r}")
            simulate = value
        elif name in ("output", "scheduler"):
            if not isinstance(value, str):
                raise ParameterError(f"config: {name} must be a string, got {value!r}")
            options[name] = value
        elif name == "workers":
            options[name] = check_int("workers", value, low=1)
        elif name == "progress":
            options[name] = check_value(name, value)
        elif name in SWEEP_KEYS or name in UNSWEPT_KEYS:
            fixed[name] = value  # SweepGrid refuses the unswept ones by name
        else:
            raise ParameterError(
                f"config: unknown key {key!r} in {path}; valid keys are: "
                f"{', '.join(SWEEP_KEYS + OPTION_KEYS)} and the tables [sweep], [[point]]")
    return SweepGrid(fixed=fixed, over=over, points=points, simulate=simulate), options
