"""Shared machinery of the figure scripts fig1.py-fig4.py: curves, cache, runs, JSON records.

A figure is a list of ``Curve`` objects (one DMFT solve and, optionally, one finite-d simulation
each). ``compute`` runs or loads them and returns one row per curve, a dict with the results
(``dmft``, ``simulation``) and the curve's style (``label``, ``colour``, ``style``, ``marker``):
exactly what the package's ``quaddmft.plotting.draw_curves`` draws (DMFT line with a +-2 s.e.
band, simulation symbols with +-1 s.e.m. bars, inset), next to ``quaddmft.plotting.new_figure``
and ``reference_line``. ``run_figure`` parses the common options, computes, lets the script draw
and ``write_record`` writes validation/out/figN.json, from which report.py builds REPORT.md.

Cache: every solve/simulation is stored in validation/_cache/ as npz (``res.save``/``qd.load``),
keyed by a hash of its parameters only (problem, schedule, eta, t_max, rule or d/seeds/seed).
The package source is deliberately not in the key (fig1.py's first version had it): the library
is under concurrent development and a rerun of the plots must stay instant; each result records
the parameters it was made with, and ``--fresh`` recomputes everything. A solver fix that changes
DMFT results bumps ``SOLVER_VERSION``, which is part of every DMFT key (simulations stay cached).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402

import quaddmft as qd  # noqa: E402

CACHE = HERE / "_cache"
OUT = HERE / "out"
COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")


@dataclass
class Curve:
    """One curve of a panel: the DMFT of ``problem`` and a simulation of its random start.

    ``problem`` is what the DMFT solves (for three clusters m0 = ``qd.FiniteDStart(d)``); the
    simulation runs ``sim_problem`` (m0 = 0, a random start w(0) ~ N(0, R I_d)).
    """

    panel: str
    label: str
    problem: qd.Problem
    schedule: qd.SelectionProcess
    eta: float
    t_max: float
    rule: qd.AveragingRule
    d: int
    seeds: int
    colour: str = "C0"
    style: str = "-"
    marker: str = "o"
    seed: int = 0
    momentum: qd.Momentum | None = None  # HeavyBall / Nesterov (validation/models.py)

    @property
    def sim_problem(self) -> qd.Problem:
        return dataclasses.replace(self.problem, m0=0.0, m0_d=None)

    def _momentum_key(self) -> dict:
        # Only when set: the keys (and cached files) of the figures without momentum unchanged.
        return {} if self.momentum is None else {"momentum": self.momentum.params()}

    def dmft_key(self) -> dict:
        return {"kind": "dmft", "solver": SOLVER_VERSION, "problem": self.problem.params(),
                "schedule": self.schedule.params(), "eta": self.eta, "t_max": self.t_max,
                "rule": self.rule.params(), **self._momentum_key()}

    def sim_key(self) -> dict:
        return {"kind": "simulation", "problem": self.sim_problem.params(),
                "schedule": self.schedule.params(), "eta": self.eta, "t_max": self.t_max,
                "d": self.d, "seeds": self.seeds, "seed": self.seed, **self._momentum_key()}

    def appearance(self) -> dict:
        """The keys of a ``quaddmft.plotting.draw_curves`` row that style this curve."""
        return {"label": self.label, "colour": self.colour, "style": self.style,
                "marker": self.marker}


_MISSING = object()


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


# 2: the jittered causal Cholesky of M_C and the h0-interpolated training accuracy (2026-11-29).
SOLVER_VERSION = 2


class Cache:
    """npz results in a directory, keyed by a hash of the parameters (see module docstring)."""

    def __init__(self, directory: Path = CACHE, enabled: bool = True, fresh: bool = False):
        self.directory, self.enabled, self.fresh = directory, enabled, fresh

    def path(self, key: dict) -> Path:
        text = json.dumps(key, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        return self.directory / f"{key['kind']}-p-{digest}.npz"

    def get_or_run(self, key: dict, run):
        path = self.path(key)
        if self.enabled and not self.fresh and path.exists():
            return qd.load(path), True
        if self.enabled and not self.fresh:
            legacy = self._legacy_match(key)
            if legacy is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                legacy.save(path)
                return legacy, True
        result = run()
        if self.enabled:
            path.parent.mkdir(parents=True, exist_ok=True)
            result.save(path)
        return result, False

    def _legacy_match(self, key: dict):
        """A result cached by fig1.py's first version (key hashed with the package source).

        Those files carry every parameter in ``result.params``; one whose parameters equal the
        key's is adopted under the new name, so the fig1 runs need not be redone.
        """
        if not hasattr(self, "_legacy"):
            self._legacy = []
            for path in sorted(self.directory.glob("*.npz")):
                if "-p-" not in path.name:
                    try:
                        self._legacy.append((path, qd.load(path)))
                    except Exception:  # noqa: BLE001 - an unreadable stale file is just skipped
                        continue
        flat = {}
        for name, value in key.items():
            if isinstance(value, dict):
                flat.update(value)
            elif name != "kind":
                flat[name] = value
        kind = key["kind"]
        for path, result in self._legacy:
            if not path.name.startswith(kind + "-"):
                continue
            if all(_same(result.params.get(k, _MISSING), v) for k, v in flat.items()):
                return result
        return None


def rule(n_points=128, n_h0=6, n_replicates=4, seed=0) -> qd.QMC:
    """The figures' QMC rule: 128 x 6 x 4 = 3072 nodes (the default 32768 costs 10x more)."""
    return qd.QMC(n_points=n_points, n_h0=n_h0, n_replicates=n_replicates, seed=seed)


def rule_text(r: qd.QMC) -> str:
    return f"qmc {r.n_points} pts × {r.n_h0} h0 × {r.n_replicates} repl."


def compute(curves: list[Curve], cache: Cache, progress: bool, name: str) -> list[dict]:
    """Run or load every curve; print one line per job (with its wall time) on stderr.

    Returns one row per curve (a row of ``quaddmft.plotting.draw_curves``): ``curve``, its
    appearance (``Curve.appearance``), ``dmft`` and, when the curve has seeds, ``simulation``.
    """
    rows = []
    for i, cv in enumerate(curves, 1):
        row = {"curve": cv, **cv.appearance()}
        jobs = [("dmft", cv.dmft_key(),
                 lambda cv=cv: qd.solve(cv.problem, cv.schedule, eta=cv.eta, t_max=cv.t_max,
                                        rule=cv.rule, momentum=cv.momentum, progress=progress))]
        if cv.seeds > 0:
            jobs.append(("simulation", cv.sim_key(),
                         lambda cv=cv: qd.simulate(cv.sim_problem, cv.schedule, eta=cv.eta,
                                                   t_max=cv.t_max, d=cv.d, seeds=cv.seeds,
                                                   seed=cv.seed, momentum=cv.momentum,
                                                   progress=progress)))
        for kind, key, run in jobs:
            what = f"{name} [{i}/{len(curves)}] {cv.panel:5s} {cv.label:34s} {kind:10s}"
            print(f"{what} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            result, cached = cache.get_or_run(key, run)
            note = "cached" if cached else f"{time.perf_counter() - start:.1f} s"
            print(f"{what} {note} (run took {result.wall_time:.1f} s); "
                  f"final gen_error {result.gen_error[-1]:.4f}", file=sys.stderr, flush=True)
            row[kind] = result
        rows.append(row)
    return rows


def panel_rows(rows: list[dict], panel: str) -> list[dict]:
    """The rows of ``compute`` whose curve belongs to ``panel``."""
    return [row for row in rows if row["curve"].panel == panel]


def curve_record(row) -> dict:
    cv = row["curve"]
    out = {"panel": cv.panel, "label": cv.label, "eta": cv.eta, "t_max": cv.t_max,
           "d": cv.d, "seeds": cv.seeds, "problem": cv.problem.params(),
           "schedule": cv.schedule.params()}
    for kind in ("dmft", "simulation"):
        if kind in row:
            out[kind] = row[kind].to_json_dict()
    return out


def write_record(name: str, rows, settings: dict, references: dict, out: Path = OUT):
    out.mkdir(parents=True, exist_ok=True)
    record = {"figure": name, "settings": settings, "references": references,
              "curves": [curve_record(row) for row in rows]}
    path = out / f"{name}.json"
    path.write_text(json.dumps(record, default=_jsonable))
    return path


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")


def parser(description: str, seeds: int, t_max: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, allow_abbrev=False)
    p.add_argument("--t-max", type=float, default=t_max, help=f"horizon (default {t_max:g})")
    p.add_argument("--seeds", type=int, default=seeds,
                   help=f"simulation seeds per curve (default {seeds}; 0: DMFT only)")
    p.add_argument("--seed", type=int, default=0, help="seed of rule and simulation")
    p.add_argument("--out", type=Path, default=OUT, help="output directory")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--fresh", action="store_true", help="recompute and overwrite cached runs")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress lines of the solver and simulator (default on)")
    return p


def run_figure(name: str, curves_fn, draw_fn, argv, description, *, seeds, t_max,
               add_args=None, settings_fn=None) -> int:
    """Parse args, compute (with cache), draw the PNG and write the JSON; return the exit code."""
    p = parser(description, seeds, t_max)
    if add_args is not None:
        add_args(p)
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        curves = curves_fn(args)
        rows = compute(curves, Cache(CACHE, not args.no_cache, args.fresh), args.progress, name)
    except qd.ParameterError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    png = args.out / f"{name}.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    references = draw_fn(rows, args, png)
    settings = {k: v for k, v in vars(args).items()}
    if settings_fn is not None:
        settings.update(settings_fn(args))
    js = write_record(name, rows, settings, references, args.out)
    print(f"{name}: wrote {png} and {js} in {time.perf_counter() - start:.1f} s")
    return 0


def finite_d_note(R: float, ds) -> str:
    return ", ".join(f"d={d}: m0={math.sqrt(2 * R / (math.pi * d)):.4f}" for d in ds)
