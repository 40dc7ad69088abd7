"""Precision study: sup-over-t error of gen_error versus time for montecarlo, qmc and quadrature.

Fig. 1 left settings (two clusters, logistic, alpha = 2, Delta = 0.5, lambda = 0, eta = 0.2,
R = 0.01): full-batch GD at t <= 10, 50, 100 and Persistent-SGD b = 0.3, 1/tau = 0.6 (linear
law) at t <= 20. For each case a reference is solved first; then every rule at several sizes,
all in this one process (the old QMC default, from the package before issue 11, in one child
process started by this one). Times are per solve, on one core (run with NUMBA_NUM_THREADS=1):
both the process CPU time and the wall time are recorded, the CPU time is what the tables and
the figure use (on a shared machine the wall time also counts the other jobs' turns).

The issue's targets are checked from these rows (``targets``): an error at equal time of
another rule is read off that rule's points by log-log interpolation in time, or, outside its
range, by extrapolation with the slope -1/2 of a sampling rule from its nearest point.

Writes docs/precision.json (rows, references, targets) and docs/precision.png (error versus
time, log-log, one panel per case).

    NUMBA_NUM_THREADS=1 python benchmarks/precision.py            # every case (~1 h on one core)
    NUMBA_NUM_THREADS=1 python benchmarks/precision.py --cases gd-t10 --out /tmp/p
    NUMBA_NUM_THREADS=1 python benchmarks/precision.py --quick --out ""   # one small case, no files
    python benchmarks/precision.py --replot                       # redraw the PNG from the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import quaddmft as qd
from _refcache import cached, write_text
from quaddmft._io import atomic_write

ETA = 0.2
PROBLEM = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
PSGD = qd.PersistentSGD(0.3, 1 / 0.6)  # linear law, valid at eta = 0.2
OLD_PACKAGE = "/tmp/oldpkg"  # commit 0e42da7, the package before issue 11 (its QMC default)


@dataclass(frozen=True)
class ExternalReference:
    """A reference solved elsewhere: an .npz with the curves (at least ``gen_error``) on the grid
    t_k = k eta. With ``gen_error_err`` in the file it is taken as a sampled reference (standard
    errors: 3 of them allowed); without, it has no estimate of its own, and its accuracy is
    bounded by its agreement with the finest quadrature rung of the case (the two are
    independent computations)."""

    path: str
    description: str
    name: str = "external"

    def params(self):
        return {"rule": "external", "path": self.path, "description": self.description}

    def load(self):
        with np.load(self.path) as data:
            gen_error = np.array(data["gen_error"])
            sampled = "gen_error_err" in data.files
            err = np.array(data["gen_error_err"]) if sampled else np.zeros_like(gen_error)
        kind = qd.ErrorKind.STANDARD_ERROR if sampled else SimpleNamespace(value="unknown (external)")
        return SimpleNamespace(t=ETA * np.arange(gen_error.size), gen_error=gen_error,
                               gen_error_err=err, message=self.description, error_kind=kind)


@dataclass
class Case:
    name: str
    title: str
    schedule: object
    t_max: float
    reference: object
    rules: list  # (family, label, rule); family "old qmc": rule is (n_points, n_h0, n_replicates)


def mc(n, reps=8):
    return ("montecarlo", f"{n} x {reps}", qd.MonteCarlo(n_samples=n, n_replicates=reps, seed=1))


def qmc_rule(n, reps=16):
    return ("qmc", f"{n} pts x 8 h0 x {reps}", qd.QMC(n_points=n, n_h0=8, n_replicates=reps, seed=1))


def old_qmc(n, reps=16):
    return ("old qmc", f"{n} pts x 8 h0 x {reps}", (n, 8, reps))


def quad(r=None):
    if r is None:
        return ("quadrature", "default", qd.Quadrature())
    return ("quadrature", f"rung {r}", qd.Quadrature(resolution=r))


def cases(quick=False):
    gd = qd.FullBatch()
    if quick:
        return [Case("gd-t10", "GD, t <= 4 (K = 20; --quick)", gd, 4.0, qd.Quadrature(resolution=3),
                     [mc(1024), mc(4096), qmc_rule(64), qmc_rule(256), old_qmc(256), quad(), quad(2)])]
    return [  # in order of cost: an interrupted run keeps the cheap cases (written after each)
        Case("gd-t10", "GD, t <= 10 (K = 50)", gd, 10.0, qd.Quadrature(resolution=3),
             [mc(1024), mc(4096), mc(16384), qmc_rule(64), qmc_rule(256), qmc_rule(1024),
              old_qmc(64), old_qmc(256), old_qmc(1024), quad(), quad(2)]),
        # reference: rung 4 of the path ladder (8192 Sobol' points x 8 h0 nodes, its estimate 3x
        # the larger of its last two refinement differences), or with --external psgd-t20 the
        # mean of independently scrambled and shifted 32768-point sets (docs/precision.md); a QMC
        # reference as accurate (3 s.e. < 1e-5) would cost ~100x the old default.
        Case("psgd-t20", "Persistent-SGD b = 0.3, 1/tau = 0.6, t <= 20 (K = 100)", PSGD, 20.0,
             qd.Quadrature(resolution=4),
             [mc(1024), mc(4096), qmc_rule(64), qmc_rule(256), old_qmc(64), old_qmc(256), quad(1),
              quad(), quad(3), quad(4), quad(5)]),
        # long horizons: sampling rules only at their cheapest sizes (the old default 256 x 8 x 16
        # costs ~100 s at K = 250); equal-time errors below their range are extrapolated with
        # slope -1/2, which underestimates a QMC rule's error at fewer points (conservative).
        # Reference: rung 3 (~10 min of one core at K = 250), or with --external-gd-t50 an
        # independent reference solved elsewhere, checked against rung 2.
        Case("gd-t50", "GD, t <= 50 (K = 250)", gd, 50.0, qd.Quadrature(resolution=3),
             [mc(1024), qmc_rule(64), old_qmc(64), quad(), quad(2)]),
        Case("gd-t100", "GD, t <= 100 (K = 500)", gd, 100.0, qd.Quadrature(resolution=2),
             [mc(1024), qmc_rule(64), old_qmc(64), quad()]),
    ]


def timed(schedule, t_max, rule):
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = qd.solve(PROBLEM, schedule, eta=ETA, t_max=t_max, rule=rule)
    return res, time.perf_counter() - wall, time.process_time() - cpu


_OLD_SCRIPT = r"""
import json, sys, time, warnings
sys.path.insert(0, sys.argv[1])
import quaddmft as qd
assert qd.__file__.startswith(sys.argv[1]), qd.__file__
spec = json.loads(sys.argv[2])
problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
schedule = qd.FullBatch() if spec["b"] == 1 else qd.PersistentSGD(spec["b"], spec["tau"])
qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=0.6, rule=qd.QMC(n_points=4, n_h0=2, n_replicates=2))
qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=60.0, rule=qd.QMC(n_points=4, n_h0=2, n_replicates=2))
out = []
for n, h0, reps in spec["rules"]:
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = qd.solve(problem, schedule, eta=0.2, t_max=spec["t_max"],
                       rule=qd.QMC(n_points=n, n_h0=h0, n_replicates=reps, seed=1))
    out.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                "gen_error": res.gen_error.tolist(), "gen_error_err": res.gen_error_err.tolist()})
print(json.dumps(out))
"""


def run_old(case: Case, specs):
    """Solve the old package's QMC rules ``specs`` in one child process; one dict per rule."""
    spec = {"b": getattr(case.schedule, "b", 1.0), "tau": getattr(case.schedule, "tau", 1.0),
            "t_max": case.t_max, "rules": specs}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", _OLD_SCRIPT, OLD_PACKAGE, json.dumps(spec)],
                          capture_output=True, text=True, env=env, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"old package run failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def study(case: Case, log, cache=None):
    if isinstance(case.reference, ExternalReference):
        ref, ref_wall, ref_cpu = case.reference.load(), float("nan"), float("nan")
    else:
        ref, ref_wall, ref_cpu = cached(cache, "precision-" + case.name, PROBLEM, case.schedule, ETA, case.t_max,
                                case.reference, lambda: timed(case.schedule, case.t_max, case.reference))
    ref_err = float(ref.gen_error_err.max())
    allowance = 3.0 if ref.error_kind is qd.ErrorKind.STANDARD_ERROR else 1.0
    log(f"\n## {case.name}: {case.title}\nreference {case.reference.name} ({ref.error_kind.value}) "
        f"in {ref_cpu:.1f} s cpu ({ref_wall:.1f} s wall); sup of its own gen_error estimate {ref_err:.2g}; "
        f"{ref.message}")
    rows = []

    def add(family, label, params, gen_error, reported, wall, cpu, message=""):
        err = float(np.max(np.abs(np.asarray(gen_error) - ref.gen_error)))
        rows.append({"family": family, "label": label, "params": params, "cpu_s": cpu, "wall_s": wall,
                     "sup_error": err, "sup_reported": float(np.max(reported)), "message": message})
        log(f"  {family:11s} {label:22s} {cpu:8.2f} s cpu {wall:8.1f} s wall  sup error {err:8.2e}  "
            f"reported {np.max(reported):8.2e}")

    old_specs = [rule for family, _, rule in case.rules if family == "old qmc"]
    if old_specs:
        for (family, label, rule), out in zip([r for r in case.rules if r[0] == "old qmc"],
                                              run_old(case, old_specs)):
            add(family, label, {"n_points": rule[0], "n_h0": rule[1], "n_replicates": rule[2],
                                "package": "0e42da7"},
                out["gen_error"], out["gen_error_err"], out["wall"], out["cpu"])
    for family, label, rule in case.rules:
        if family == "old qmc":
            continue
        res, wall, cpu = timed(case.schedule, case.t_max, rule)
        add(family, label, rule.params(), res.gen_error, res.gen_error_err, wall, cpu, res.message)
    if isinstance(case.reference, ExternalReference) and not ref_err:  # its agreement with the finest rung
        finest = [r for r in rows if r["family"] == "quadrature"][-1]  # the last row is the finest
        if finest["label"] == "default":  # no finer rung was run: nothing bounds the reference here
            ref_err = float("nan")
        else:
            ref_err = finest["sup_error"]
            log(f"  external reference: agrees with quadrature {finest['label']} to {ref_err:.1e}")
    return {"name": case.name, "title": case.title, "t_max": case.t_max, "K": int(ref.t.size - 1),
            "reference": {**case.reference.params(), "error_kind": ref.error_kind.value,
                          "sup_estimate": ref_err, "allowance": allowance * ref_err,
                          "cpu_s": ref_cpu, "wall_s": ref_wall, "message": ref.message,
                          "gen_error": ref.gen_error.tolist()},
            "rows": rows}


# ----------------------------------------------------------------------------- equal-time reading
def error_at(rows, family, cpu, slope=-0.5):
    """The error of ``family`` at time ``cpu``: log-log interpolation between its points, or
    extrapolation from its nearest point with ``slope`` outside their range (how it was read is
    returned too)."""
    pts = sorted((r["cpu_s"], r["sup_error"]) for r in rows if r["family"] == family)
    if not pts:
        return None, "no points"
    ts, es = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    x = np.log(cpu)
    if x < ts[0] or x > ts[-1]:
        i = 0 if x < ts[0] else -1
        return float(np.exp(es[i] + slope * (x - ts[i]))), "extrapolated (slope -1/2)"
    # a sampling rule's sup error is noisy: take the monotone envelope before interpolating
    es = np.minimum.accumulate(es)
    return float(np.exp(np.interp(x, ts, es))), "interpolated"


def targets(studies):
    by = {s["name"]: s for s in studies}
    out = []

    def best_within(case, budget):
        rows = [r for r in by[case]["rows"] if r["family"] == "quadrature" and r["cpu_s"] <= budget]
        return min(rows, key=lambda r: r["sup_error"]) if rows else None

    for case, tol, budget, text in (("gd-t10", 1e-8, 2.0, "GD t <= 10: sup error <= 1e-8 in <= 2 s"),
                                    ("gd-t50", 1e-6, 20.0, "GD t <= 50: <= 1e-6 in <= 20 s"),
                                    ("gd-t100", 1e-6, 60.0, "GD t <= 100: <= 1e-6 in <= 60 s"),
                                    ("psgd-t20", 1e-5, 20.0, "P-SGD b = 0.3, t <= 20: <= 1e-5 in <= 20 s")):
        if case not in by:
            continue
        row = best_within(case, budget)
        fastest_ok = [r for r in by[case]["rows"] if r["family"] == "quadrature" and r["sup_error"] <= tol]
        fastest_ok = min(fastest_ok, key=lambda r: r["cpu_s"]) if fastest_ok else None
        resolvable = by[case]["reference"]["allowance"] < tol
        measured = (f"{row['label']}: {row['sup_error']:.1e} in {row['cpu_s']:.2g} s" if row else
                    "no quadrature rung within the budget")
        if fastest_ok:
            measured += f"; {tol:.0e} first reached by {fastest_ok['label']} in {fastest_ok['cpu_s']:.2g} s"
        met = bool(row and row["sup_error"] <= tol)
        out.append({"target": text, "case": case, "measured": measured, "met": met,
                    "reference_allowance": by[case]["reference"]["allowance"],
                    "resolvable": resolvable})
    for case, family, factor, text in (
            ("gd-t10", "montecarlo", 1000, "GD t <= 10: >= 1000x below MonteCarlo at equal time"),
            ("gd-t50", "montecarlo", 1000, "GD t <= 50: >= 1000x below MonteCarlo at equal time"),
            ("gd-t100", "montecarlo", 1000, "GD t <= 100: >= 1000x below MonteCarlo at equal time"),
            ("psgd-t20", "montecarlo", 30, "P-SGD t <= 20: >= 30x below MonteCarlo at equal time"),
            ("gd-t10", "old qmc", 10, "GD t <= 10: >= 10x below the old QMC default at equal time"),
            ("gd-t50", "old qmc", 10, "GD t <= 50: >= 10x below the old QMC default at equal time"),
            ("gd-t100", "old qmc", 10, "GD t <= 100: >= 10x below the old QMC default at equal time"),
            ("psgd-t20", "old qmc", 10, "P-SGD t <= 20: >= 10x below the old QMC default at equal time")):
        if case not in by:
            continue
        rows = by[case]["rows"]
        default = next(r for r in rows if r["family"] == "quadrature" and r["label"] == "default")
        readings = []
        for r in sorted((r for r in rows if r["family"] == "quadrature"), key=lambda r: r["cpu_s"]):
            other, how = error_at(rows, family, r["cpu_s"])
            readings.append({"label": r["label"], "cpu_s": r["cpu_s"], "error": r["sup_error"],
                             "other_error": other, "how": how, "ratio": other / r["sup_error"]})
        at_default = next(x for x in readings if x["label"] == "default")
        best = max(readings, key=lambda x: x["ratio"])
        measured = (f"default ({default['cpu_s']:.2g} s): {at_default['ratio']:.3g}x "
                    f"({family} {at_default['other_error']:.1e}, {at_default['how']}); best "
                    f"{best['label']}: {best['ratio']:.3g}x")
        out.append({"target": text, "case": case, "measured": measured,
                    "met": at_default["ratio"] >= factor, "met_by_some_rung": best["ratio"] >= factor,
                    "readings": readings,
                    "resolvable": by[case]["reference"]["allowance"] < 0.3 * default["sup_error"]})
    if "psgd-t20" in by:
        out.append(readme_target(by["psgd-t20"]))
    return out


def readme_target(study, speedup=2.0):
    """The README main job (P-SGD, t <= 20, ``Quadrature(resolution=1)``) against the same job
    on the old default (QMC 256 x 8 x 16, package before issue 11), both measured in this run:
    >= 2x faster at an error no worse than the old default's. The issue quotes 6e-5 for the old
    default's error; measured against references that resolve it, it is 3.5-6.9e-4
    (docs/precision.md), so the criterion compares with the measured value and the row shows both."""
    rows = study["rows"]
    old = next(r for r in rows if r["family"] == "old qmc" and r["label"].startswith("256 "))
    new = next(r for r in rows if r["family"] == "quadrature" and r["label"] == "rung 1")
    ratio = old["cpu_s"] / new["cpu_s"]
    return {"target": "README main job (P-SGD t <= 20, Quadrature(resolution=1)): >= 2x faster than "
                      "the old default at an error no worse than its (the issue's figure for it: 6e-5)",
            "case": "psgd-t20", "met": ratio >= speedup and new["sup_error"] <= old["sup_error"],
            "measured": f"{ratio:.3g}x faster ({new['cpu_s']:.2g} s vs {old['cpu_s']:.2g} s cpu), error "
                        f"{new['sup_error']:.1e} (old default {old['sup_error']:.1e})",
            "resolvable": study["reference"]["allowance"] < new["sup_error"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", help="only these cases (gd-t10 gd-t50 gd-t100 psgd-t20)")
    parser.add_argument("--out", default="docs/precision",
                        help="writes OUT.json and OUT.png (nothing if empty)")
    parser.add_argument("--quick", action="store_true", help="one small GD case (t <= 4), about a minute")
    parser.add_argument("--replot", action="store_true", help="only redraw the PNG from the JSON")
    parser.add_argument("--cache", help="a folder where references are stored and reused")
    parser.add_argument("--external", nargs=3, action="append", default=[],
                        metavar=("CASE", "NPZ", "DESCRIPTION"),
                        help="use these arrays as the reference of CASE instead of solving it")
    parser.add_argument("--max-rung", type=int, help="no quadrature row above this rung")
    parser.add_argument("--add-studies", nargs=2, metavar=("JSON", "SUFFIX"),
                        help="solve nothing: add the studies of another run's JSON to OUT.json, their "
                             "names suffixed (e.g. the same case against another reference; an empty "
                             "suffix replaces the study of that name), and recheck the targets")
    parser.add_argument("--tables", metavar="COVERAGE_JSON",
                        help="only print the markdown tables of docs/precision.md from OUT.json and "
                             "this coverage JSON (benchmarks/coverage.json)")
    args = parser.parse_args(argv)
    if args.replot:
        data = json.loads(Path(args.out + ".json").read_text())
        plot(data["studies"], args.out + ".png")
        return 0
    if args.add_studies:
        data = json.loads(Path(args.out + ".json").read_text())
        extra = json.loads(Path(args.add_studies[0]).read_text())["studies"]
        for study_ in extra:
            study_["name"] += args.add_studies[1]
        data["studies"] = [s for s in data["studies"] if s["name"] not in {e["name"] for e in extra}] + extra
        data["targets"] = targets(data["studies"])
        write_text(args.out + ".json", json.dumps(data, indent=1))
        plot(data["studies"], args.out + ".png")
        return 0
    if args.tables:
        data = json.loads(Path(args.out + ".json").read_text())
        coverage = json.loads(Path(args.tables).read_text()) if Path(args.tables).exists() else None
        print(markdown(data, coverage))
        return 0
    chosen = cases(args.quick)
    if args.cases:
        chosen = [c for c in chosen if c.name in args.cases]
    if args.max_rung is not None:  # drop the finer quadrature rows (their cost on a loaded machine)
        for case in chosen:
            case.rules = [r for r in case.rules if not (r[0] == "quadrature" and r[1].startswith("rung ")
                                                         and int(r[1].split()[1]) > args.max_rung)]
    for name, path, description in args.external:
        for case in chosen:
            if case.name == name:
                case.reference = ExternalReference(path, description)
    # compile every kernel path (the blocked response from k = 64 included) outside the timings
    for schedule, t_max in ((qd.SGD(0.5), 0.6), (qd.FullBatch(), 20.0)):
        for rule in (qd.QMC(n_points=4, n_h0=2, n_replicates=2), qd.MonteCarlo(n_samples=8, n_replicates=2),
                     qd.Quadrature(resolution=1)):
            timed(schedule, t_max if rule.name != "quadrature" else 2.0, rule)

    lines = []

    def log(text):
        print(text, flush=True)
        lines.append(text)

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    studies = []
    for case in chosen:  # written after each case: an interrupted run keeps what it measured
        studies.append(study(case, log, args.cache))
        wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
        checked = targets(studies)
        if args.out:
            meta = {"numba_threads": _numba_threads(), "cpu_s": cpu, "wall_s": wall,
                    "load_average": os.getloadavg(), "time_kind": "process CPU time (one thread)",
                    "complete": len(studies) == len(chosen)}
            write_text(args.out + ".json", json.dumps({"meta": meta, "studies": studies,
                                                       "targets": checked}, indent=1))
            plot(studies, args.out + ".png")
    log(f"\nTargets ({cpu:.0f} s cpu in this process, {wall:.0f} s wall):")
    for t in checked:
        log(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['measured']}")
    return 0


def baseline_row(rows):
    """The time baseline of a case: this process's QMC rule at the old default's size (256 x 8 x
    16), or its smallest QMC rule; times relative to it are what a loaded machine preserves."""
    qmc = sorted((r for r in rows if r["family"] == "qmc"), key=lambda r: r["cpu_s"])
    return next((r for r in qmc if r["label"].startswith("256 ")), qmc[0])


def markdown(data, coverage=None) -> str:
    """The tables of docs/precision.md: targets, one table per case, the coverage summary."""
    out = ["| target | measured | verdict |", "|---|---|---|"]
    for t in data["targets"]:
        out.append(f"| {t['target']} | {t['measured']} | {'met' if t['met'] else 'not met'} |")
    for s in data["studies"]:
        ref = s["reference"]
        base = baseline_row(s["rows"])
        out += ["", f"### {s['title']}", "",
                f"Reference: `{ref['rule']}` ({ref['error_kind']}), {ref['cpu_s']:.0f} s; sup of its "
                f"own gen_error estimate {ref['sup_estimate']:.1e}" +
                (" (3 s.e. allowed)" if ref["error_kind"] == "standard error" else "") + ".", "",
                f"| rule | size | CPU time [s] | time / {base['family']} {base['label']} | sup error | "
                "sup reported |", "|---|---|---|---|---|---|"]
        for r in sorted(s["rows"], key=lambda r: (r["family"], r["cpu_s"])):
            out.append(f"| {r['family']} | {r['label']} | {r['cpu_s']:.3g} | {r['cpu_s'] / base['cpu_s']:.3g} | "
                       f"{r['sup_error']:.1e} | {r['sup_reported']:.1e} |")
    if coverage:
        out += ["", "| rules | scope | cases | time points | covered | cases > 3x | worst ratio (case) |",
                "|---|---|---|---|---|---|---|"]
        for r in coverage["summary"]:
            out.append(f"| {r['family']} | {r['scope']} | {r['cases']} | {r['points']} | "
                       f"{r['covered']:.1%} | {r['cases_over_3x']} | {r['worst_ratio']:.2g} "
                       f"({r['worst_case']}) |")
        out += ["", "| setting | rule | curve | covered | worst ratio | sup error | sup reported | "
                "factor |", "|---|---|---|---|---|---|---|---|"]
        for s in coverage["settings"]:
            for r in s["rows"]:
                out.append(f"| {s['name']} | {r['rule']} | {r['curve']} | {r['covered']:.0%} | "
                           f"{r['worst_ratio']:.2g} | {r['sup_error']:.1e} | {r['sup_reported']:.1e} | "
                           f"{r['factor']:.3g} |")
    return "\n".join(out)


def _numba_threads():
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def plot(studies, path):
    """Error versus CPU time per rule family (points sorted by time), one panel per case."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(studies)
    fig = Figure(figsize=(4.6 * n, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, n))
    style = {"montecarlo": ("o", "C0"), "qmc": ("s", "C1"), "old qmc": ("D", "C4"),
             "quadrature": ("^", "C2")}
    for ax, s in zip(axes, studies):
        for family, (marker, colour) in style.items():
            pts = sorted((r["cpu_s"], r["sup_error"]) for r in s["rows"] if r["family"] == family)
            if pts:
                ax.loglog(*zip(*pts), marker=marker, color=colour, label=family)
        for r in s["rows"]:
            if r["family"] == "quadrature":
                ax.annotate(r["label"], (r["cpu_s"], r["sup_error"]), fontsize=7,
                            textcoords="offset points", xytext=(4, 4))
        ax.axhline(s["reference"]["allowance"], color="grey", ls=":",
                   label="reference's own estimate" + (" (3 s.e.)" if s["reference"]["error_kind"]
                                                        == "standard error" else ""))
        ax.set(title=s["title"], xlabel="CPU time of one solve [s], one thread",
               ylabel="sup_t |gen_error - reference|")
        ax.legend(fontsize=8)
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
