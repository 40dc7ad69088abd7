"""Shared machinery of the figure scripts fig1.py-fig4.py: curves, cache, runs, JSON records.

A figure is a list of ``Curve`` objects (one DMFT solve and, optionally, one finite-d simulation
each). ``compute`` runs or loads them and returns one row per curve, a dict with the results
(``dmft``, ``simulation``) and the curve's style (``label``, ``colour``, ``style``, ``marker``):
exactly what the package's ``quaddmft.plotting.draw_curves`` draws (DMFT line with a band of
+-2 times its error estimate, simulation symbols with +-1 s.e.m. bars, inset), next to
``quaddmft.plotting.new_figure`` and ``reference_line``. ``run_figure`` parses the common options, computes, lets the script draw
and ``write_record`` writes validation/out/figN.json, from which report.py builds REPORT.md.

DMFT rule: the library's deterministic default ``qd.Quadrature`` (``rule``); its ``*_err`` is a
refinement estimate (``error_kind`` "refinement"), the band drawn is +-2 times it. With a random
selection on a long horizon its ladder may end without meeting the tolerance: the solver then
warns, ``compute`` prints the warning with the curve's name and the estimate reached (also when the
result comes from the cache), and report.py marks the curve.

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
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402

import quaddmft as qd  # noqa: E402
from quaddmft._inputs import horizon  # noqa: E402  (the solver's own K for t_max, eta)
from quaddmft._io import atomic_write  # noqa: E402  (the package's atomic writer)
from quaddmft.rules.quadrature import (LONG_HORIZON, STANDARD_RUNG,  # noqa: E402
                                      TOLERANCE_CURVES)

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
        # A random selection's key also carries SELECTION_VERSION: the check of M_C's positivity
        # (UnresolvedSelectionError) changes only solves with a random selection.
        chain = self.schedule.chain(self.eta)
        random = {} if chain.deterministic else {"selection": SELECTION_VERSION}
        # A solve on the modal ladder carries MODAL_VERSION (its rungs changed 2026-12-02), one on
        # the built-in Sobol' ladder PATH_VERSION (below).
        modal = getattr(self.rule, "modal", None)
        K = horizon(self.eta, self.t_max)
        is_modal = bool(modal and modal(self.problem, chain, K))
        ladder = ({"modal": MODAL_VERSION_LONG if K > LONG_HORIZON else MODAL_VERSION}
                  if is_modal else {})
        rule = self.rule.params()
        if not is_modal and "coarse_correction" in rule:
            # Coarse correction acts on modal rungs only; its default turned True (2026-12-02):
            # the keys of the Sobol' solves keep the value they were cached with.
            rule = {**rule, "coarse_correction": False}
        if is_modal or not self.problem.mixture.label_factor(2).interpolable:
            # The h0 allocation (added 2026-12-02, "weighted" by default) acts on the Sobol'
            # rungs of the mixtures only (teacher-student groups keep equal blocks): the keys of
            # the solves it does not change stay those they were cached with.
            rule = {key: value for key, value in rule.items() if key != "h0_allocation"}
        if not is_modal and isinstance(self.rule, qd.Quadrature) and self.rule.ladder is None:
            # The rungs of the built-in Sobol' ladder (quaddmft.rules.quadrature.PATH_LADDER).
            ladder = {"paths": PATH_VERSION}
        return {"kind": "dmft", "solver": SOLVER_VERSION, "problem": self.problem.params(),
                "schedule": self.schedule.params(), "eta": self.eta, "t_max": self.t_max,
                "rule": rule, **self._momentum_key(), **random, **ladder}

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
# 3: the deterministic default rule and the conditional-expectation kernel rows (2026-12-01).
#    356b8e9 (a coarse rung that diverges is skipped) changes only runs in which a coarse rung
#    diverged: the one such curve (Fig. 3 left, P-SGD d = 5000) was recomputed, not the key bumped.
# The rule's own params changed every Quadrature key twice since: ``window_fraction`` and
# ``coarse_correction`` (the estimate's growing window), then ``selection`` (the selection drawn
# in the sweep against the nodes' state, docs/theory.md eq. 3.13; 2026-12-01 night).
SOLVER_VERSION = 3
# 1: a rung whose node set turns M_C indefinite is skipped or replaced by a finer spare
#    (UnresolvedSelectionError, 2026-12-01 evening); before, its sweep went on with a zeroed
#    Cholesky column (measured: SGD b = 0.5, 1024 points, C(50) 6x off).
SELECTION_VERSION = 1
# 1: rung 1 of the modal ladder at level 4 with costs (1, 1, 1, 2) and 24 h0 nodes, the finer
#    rungs refining it (quaddmft.rules.quadrature.MODAL_LADDER, 2026-12-02).
MODAL_VERSION = 1
# 2: beyond LONG_HORIZON steps rung 1 is DIRECT_RUNG (quaddmft.rules.quadrature.modal_ladder,
#    2026-12-02); solves of at most LONG_HORIZON steps keep MODAL_VERSION.
MODAL_VERSION_LONG = 2
# 1: the Sobol' ladder of 1024 .. 32768 points (512 .. 16384 before), 2026-12-02; the keys of
#    the causal solves on the built-in ladder carry it (teacher-student data included, whose
#    equal h0 blocks the new allocation leaves as they were).
PATH_VERSION = 1


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


# The figures' tolerance, stated here rather than taken from qd.Quadrature's default, so that the
# curves (and their cache keys) do not change when the library's default does.
TOLERANCE = 1e-4


def rule(tolerance=None, max_resolution=None, seed=0) -> qd.Quadrature:
    """The figures' DMFT rule: the deterministic default ``qd.Quadrature`` at ``TOLERANCE``
    unless ``tolerance``; ``max_resolution`` caps its ladder; ``seed`` fixes the scrambling of
    the Sobol' set of random selections on long horizons."""
    return qd.Quadrature(tolerance=TOLERANCE if tolerance is None else tolerance,
                         max_resolution=max_resolution, seed=seed)


# Default last rung of each ladder in the figures: the library's standard rung
# (``STANDARD_RUNG``: rung 1 of the modal ladder, rung 2 = 4096 points of the Sobol' ladder,
# 2048 before the weighted h0 allocation of 2026-12-02).
# The whole ladder at tolerance 1e-4 costs 6-15 min per two-cluster curve at t <= 40-50 on the
# shared 2-core machine (27 curves: hours); the standard rung is 1e-6-accurate for GD and ~1e-4
# for Persistent-SGD (docs/precision.md), far below the simulations' s.e.m. (~1e-3).
# The paper's figures have no Langevin noise; the ladder's kind (``Quadrature.modal``) depends on
# the problem only through its temperature, so any zero-temperature problem decides it for them.
_NOISELESS = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5))


def ladder_cap(args, schedule: qd.SelectionProcess, eta: float, t_max: float,
               problem: qd.Problem = _NOISELESS) -> int:
    """The last rung of a curve's ladder: ``--max-resolution`` when given, else the library's
    standard rung for the kind of ladder the curve uses (modal: full batch or few selection
    paths, without Langevin noise; Sobol' paths otherwise)."""
    if args.max_resolution is not None:
        return args.max_resolution
    modal = rule(args.tolerance).modal(problem, schedule.chain(eta), math.floor(t_max / eta + 1e-9))
    return STANDARD_RUNG[modal]


def curve_rule(args, schedule: qd.SelectionProcess, eta: float, t_max: float,
               problem: qd.Problem = _NOISELESS) -> qd.Quadrature:
    """The rule of one curve: ``rule`` at ``--tolerance`` with its ladder capped (``ladder_cap``)."""
    return rule(args.tolerance, ladder_cap(args, schedule, eta, t_max, problem), seed=args.seed)


def ladder_text(args) -> str:
    """How the figure capped its ladders (for its title)."""
    if args.max_resolution is not None:
        return f"ladder capped at rung {args.max_resolution}"
    return (f"ladder capped at the standard rung: {STANDARD_RUNG[True]} (KL modes), "
            f"{STANDARD_RUNG[False]} (Sobol' paths)")


def rule_text(r: qd.AveragingRule, args=None) -> str:
    """The rule as the plots name it, with the meaning of its band and (``args``) the figure's
    cap of the ladder."""
    if isinstance(r, qd.Quadrature):
        cap = "" if args is None else f", {ladder_text(args)}"
        return (f"deterministic quadrature, tolerance {r.tolerance:g}{cap}; "
                f"band ± 2 × refinement estimate")
    if isinstance(r, qd.QMC):
        return f"qmc {r.n_points} pts × {r.n_h0} h0 × {r.n_replicates} repl.; band ± 2 s.e."
    return f"{r.name}; band ± 2 × {r.error_kind.value}"


def tolerance_status(result) -> tuple[bool | None, float]:
    """Whether a DMFT result met its rule's tolerance (the rule's own test, ``Quadrature.accepts``,
    applied to the stored curves and estimates), and the largest relative estimate it reached.

    None when the rule has no tolerance (a sampling rule, or fixed rungs)."""
    p = result.params
    tol = p.get("tolerance") if p.get("rule") == "quadrature" and p.get("resolution") is None else None
    ratios = [float(np.max(getattr(result, f"{n}_err")))
              / max(1.0, float(np.max(np.abs(getattr(result, n))))) for n in TOLERANCE_CURVES]
    worst = max(ratios)
    return (None if tol is None else worst <= tol), worst


def compute(curves: list[Curve], cache: Cache, progress: bool, name: str) -> list[dict]:
    """Run or load every curve; print one line per job (with its wall time) on stderr.

    A warning raised by a solve (the rule's ladder ended above its tolerance) is printed with the
    curve's name; the DMFT line also gives the rule's message and, when the tolerance was not
    met, the relative estimate reached (cached results included).

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
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result, cached = cache.get_or_run(key, run)
            for w in caught:
                print(f"{what} WARNING {w.category.__name__}: {w.message}", file=sys.stderr,
                      flush=True)
            note = "cached" if cached else f"{time.perf_counter() - start:.1f} s"
            extra = ""
            if kind == "dmft":
                met, worst = tolerance_status(result)
                extra = f"; {result.message}" + (
                    f"; TOLERANCE NOT MET (largest relative estimate {worst:.2g})"
                    if met is False else "")
            print(f"{what} {note} (run took {result.wall_time:.1f} s); "
                  f"final gen_error {result.gen_error[-1]:.4f} ± {result.gen_error_err[-1]:.1e}"
                  f"{extra}", file=sys.stderr, flush=True)
            row[kind] = result
            if kind == "dmft" and result.status != qd.Status.SUCCESS:  # said in the legend
                row["label"] += f" (DMFT {result.status.value} at t = {result.t[-1] + cv.eta:.3g})"
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
    write_text(path, json.dumps(record, default=_jsonable))
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a failed write leaves the previous file intact)."""
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path


def simulation_entry(ax, label: str, marker: str = "o"):
    """A legend entry for the simulation symbols (grey, as they take each curve's colour)."""
    ax.errorbar([np.nan], [np.nan], yerr=[np.nan], fmt=marker, ms=3.5, mfc="none", color="0.35",
                capsize=2, lw=0.7, label=label)


def fit_inset(inset, rows, kind: str = "train_accuracy"):
    """The inset's y-range: the DMFT lines and simulation symbols with a small margin (a wider
    error band, e.g. of a capped ladder at late times, is cut at the inset's edge rather than
    squeezing the curves into a few pixels)."""
    arrays = [np.asarray(getattr(r[k], kind), dtype=float) for r in rows
              for k in ("dmft", "simulation") if k in r]
    v = np.concatenate([np.diag(a) if a.ndim == 2 else a for a in arrays])  # C: C(t, t)
    v = v[np.isfinite(v)]
    low, high = float(v.min()), float(v.max())
    pad = 0.06 * max(high - low, 1e-6)
    inset.set_ylim(low - pad, high + pad)


def sim_text(rows) -> str:
    """'d = 500, 10 seeds' for the simulations of ``rows`` (one d and one seed count), else ''."""
    sims = [r["curve"] for r in rows if "simulation" in r]
    ds, seeds = {cv.d for cv in sims}, {cv.seeds for cv in sims}
    if len(ds) == 1 and len(seeds) == 1:
        return f"d = {ds.pop()}, {seeds.pop()} seeds"
    return ""


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
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the simulation and of the rule's fixed Sobol' scrambling")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help=f"tolerance of the DMFT rule qd.Quadrature (default {TOLERANCE:g})")
    p.add_argument("--max-resolution", type=int, default=None,
                   help=f"last rung of the DMFT rule's ladder, every curve (default: the "
                   f"standard rung, {STANDARD_RUNG[True]} for KL modes, "
                   f"{STANDARD_RUNG[False]} for Sobol' paths)")
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
