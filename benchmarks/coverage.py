"""Coverage of the reported errors: does ``*_err`` bound the actual error? (issue 11)

On settings covering GD, SGD and Persistent-SGD, both mixtures, lambda = 0 and > 0 and horizons
up to t = 100, each tested rule is compared with a reference much more accurate than it, curve
by curve (m, C, gen_error, train_loss, train_accuracy), time point by time point.

Tested rules: the default ``qd.Quadrature()`` (deterministic, ``*_err`` a refinement estimate),
fixed rungs ``qd.Quadrature(resolution=r)`` of its built-in ladders, coarse custom ladders of
Sobol' rungs (``Quadrature(ladder=...)``: errors large enough for an affordable reference to be
30x more accurate), and for comparison the default ``qd.QMC()``, whose ``*_err`` is one standard
error (it covers ~68% of the points by design, if the replicates are Gaussian).

References: for full-batch GD and for short random-selection horizons (2^K <= 64: every path
enumerated) a finer rung of the deterministic rule (``Quadrature(resolution=3,
fixed_point_tol=1e-4)``: level 6, 12 KL modes, 40 Gauss-Hermite nodes in h0, its fixed point
iterated to a relative change of 1e-10, so that the iteration's residual does not blur rung 1,
the default, at 1e-10); its own estimate, the difference with rung 2, is a conservative bound of
its error (it is essentially rung 2's error). For random selections on
longer horizons, a large randomized QMC rule (independent replicates), whose uncertainty is
taken as 3 standard errors.

Definitions, per time point t (x: tested curve, r: its reported error, ref: the reference, u:
the reference's uncertainty, its refinement estimate or 3 standard errors, plus 1e-14 max(1, |ref|)
for round-off):

* actual error e(t) = |x(t) - ref(t)|; resolved error e_res(t) = max(e(t) - u(t), 0): the part
  of the discrepancy the reference can vouch for;
* covered: e_res(t) <= r(t); ratio(t) = e_res(t) / r(t) (worst ratio: its maximum over t;
  "underestimated by more than 3x" means worst ratio > 3);
* strict coverage (JSON): e(t) <= r(t), without the reference's allowance;
* factor = sup_t e(t) / sup_t u(t): how much more accurate the reference is than the tested
  error (the issue asks for >= 30). Rows below 30 are shown but kept out of the verdict.

Target (issue 11): >= 95% of the time points covered, no case (setting x rule x curve) with
worst ratio > 3, for the deterministic rule.

    NUMBA_NUM_THREADS=1 python benchmarks/coverage.py            # full run (~40 min on one core)
    NUMBA_NUM_THREADS=1 python benchmarks/coverage.py --quick    # ~1 min: three small settings
    python benchmarks/coverage.py --only gd-two-t10 sgd-two-t1.2 # some settings by name
"""

from __future__ import annotations

if __name__ == "coverage":
    # numba does ``try: import coverage`` (the coverage.py package); when a script in benchmarks/
    # runs, this folder is first on sys.path and that import would find this file instead.
    raise ImportError("benchmarks/coverage.py is a script, not the coverage.py package")

import argparse
import json
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import quaddmft as qd
from _refcache import cached, write_text

CURVES = ("m", "C", "gen_error", "train_loss", "train_accuracy")
ETA = 0.2
REQUIRED_FACTOR = 30.0
ROUNDOFF = 1e-14

TWO = qd.TwoCluster(alpha=2.0, delta=0.5)  # paper Fig. 1
THREE = qd.ThreeCluster(3.0, 0.05, 0.7)  # paper Fig. 2 (door model)
D_START = 5000  # the three-cluster DMFT starts at the finite-d overlap of d = 5000 (as validation/)


def two(lam=0.0):
    return qd.Problem(TWO, "logistic", lam=lam, R=0.01)


def three(lam=0.1, R=0.01, mixture=THREE):
    return qd.Problem(mixture, "logistic", lam=lam, R=R, m0=qd.FiniteDStart(D_START))


PSGD = qd.PersistentSGD(0.3, 1 / 0.6)  # Fig. 1 left middle curve (linear law)
PSGD_DOOR = qd.PersistentSGD(0.3, 1 / 0.3)  # Fig. 2 left (b = 1/tau = 0.3, linear law)


def coarse_ladder(points=(128, 256, 512, 1024), n_h0=8):
    """Sobol' rungs below the built-in PATH_LADDER (1024 .. 32768 points; 512 .. 16384 before the
    weighted h0 allocation): same estimator, errors large enough for an affordable QMC reference
    to be 30x more accurate."""
    return tuple(qd.Resolution(n_points=n, n_h0=n_h0) for n in points)


@dataclass
class Setting:
    name: str
    title: str
    problem: qd.Problem
    schedule: object
    t_max: float
    reference: object
    tested: list = field(default_factory=list)  # (label, rule)


def modal_tested(extra=()):
    return [("quadrature default", qd.Quadrature()), *extra, ("qmc default", qd.QMC())]


def causal_tested(extra=()):
    coarse = coarse_ladder()
    return [("quadrature default", qd.Quadrature()),
            ("quadrature rung 1", qd.Quadrature(resolution=1)),
            *[(f"coarse ladder rung {r} ({coarse[r].n_points} pts)",
               qd.Quadrature(ladder=coarse, resolution=r)) for r in (1, 2, 3)],
            *extra,
            ("qmc default", qd.QMC())]


QMC_REFERENCE = dict(n_points=2048, n_h0=8, n_replicates=64)
FINE = qd.Quadrature(resolution=3, fixed_point_tol=1e-4)


def settings(quick: bool):
    if quick:
        return [
            Setting("gd-two-t2", "two clusters, GD, lambda = 0, t <= 2 (K = 10)", two(), qd.FullBatch(),
                    2.0, FINE, modal_tested()),
            Setting("sgd-two-t1", "two clusters, SGD b = 0.3, lambda = 0.1, t <= 1 (K = 5, every path)",
                    two(0.1), qd.SGD(0.3), 1.0, FINE, modal_tested()),
            Setting("psgd-two-t4", "two clusters, P-SGD b = 0.3, 1/tau = 0.6, t <= 4 (K = 20)", two(),
                    PSGD, 4.0, qd.QMC(n_points=4096, n_h0=8, n_replicates=32, seed=101),
                    [(f"coarse ladder rung {r}", qd.Quadrature(ladder=coarse_ladder((32, 64, 128)),
                                                               resolution=r)) for r in (1, 2)]),
        ]
    ref = lambda seed: qd.QMC(seed=seed, **QMC_REFERENCE)  # noqa: E731
    fig3_three = qd.ThreeCluster(2.0, 0.05, 0.7)
    return [
        # ---- full-batch GD: every curve deterministic, modal rungs
        Setting("gd-two-t10", "two clusters, GD, lambda = 0, t <= 10 (K = 50)", two(),
                qd.FullBatch(), 10.0, FINE,
                modal_tested([("quadrature rung 2", qd.Quadrature(resolution=2))])),
        Setting("gd-two-lam0.1-t10", "two clusters, GD, lambda = 0.1, t <= 10 (K = 50)", two(0.1),
                qd.FullBatch(), 10.0, FINE, modal_tested()),
        Setting("gd-two-lam1-t10", "two clusters, GD, lambda = 1, t <= 10 (K = 50)", two(1.0),
                qd.FullBatch(), 10.0, FINE, modal_tested()),
        Setting("gd-three-lam0.1-t10", "three clusters (Fig. 2), GD, lambda = 0.1, t <= 10 (K = 50)",
                three(0.1), qd.FullBatch(), 10.0, FINE, modal_tested()),
        Setting("gd-three-lam0-t10", "three clusters (Fig. 3 left: alpha = 2, R = 1), GD, lambda = 0, "
                "t <= 10 (K = 50)", three(0.0, R=1.0, mixture=fig3_three), qd.FullBatch(), 10.0, FINE,
                modal_tested()),
        # ---- random selections, short horizons: every path s(0..K-1) enumerated (2^6 = 64)
        Setting("sgd-two-t1.2", "two clusters, SGD b = 0.3, lambda = 0, t <= 1.2 (K = 6, every path)",
                two(), qd.SGD(0.3), 1.2, FINE, modal_tested()),
        Setting("psgd-two-lam0.1-t1.2", "two clusters, P-SGD b = 0.3, 1/tau = 0.6, lambda = 0.1, "
                "t <= 1.2 (K = 6, every path)", two(0.1), PSGD, 1.2, FINE, modal_tested()),
        Setting("psgd-three-t1.2", "three clusters (Fig. 2), P-SGD b = 1/tau = 0.3, lambda = 0.1, "
                "t <= 1.2 (K = 6, every path)", three(0.1), PSGD_DOOR, 1.2, FINE, modal_tested()),
        Setting("sgd-three-t1.2", "three clusters (Fig. 2), SGD b = 0.5, lambda = 0.1, t <= 1.2 (K = 6, "
                "every path)", three(0.1), qd.SGD(0.5), 1.2, FINE, modal_tested()),
        # ---- random selections, longer horizons: Sobol' rungs against a large QMC reference
        Setting("psgd-two-t10", "two clusters, P-SGD b = 0.3, 1/tau = 0.6, lambda = 0, t <= 10 "
                "(K = 50)", two(), PSGD, 10.0, ref(201), causal_tested()),
        Setting("sgd-two-lam0.1-t10", "two clusters, SGD b = 0.3, lambda = 0.1, t <= 10 (K = 50)",
                two(0.1), qd.SGD(0.3), 10.0, ref(202), causal_tested()),
        Setting("psgd-three-t12", "three clusters (Fig. 2), P-SGD b = 0.5, 1/tau = 0.5, lambda = 0.1, "
                "t <= 12 (K = 60: the escape from m ~ 0 at t ~ 8-10)", three(0.1),
                qd.PersistentSGD(0.5, 2.0), 12.0, ref(204), causal_tested()),
        Setting("psgd-two-t20", "two clusters, P-SGD b = 0.3, 1/tau = 0.6, lambda = 0, t <= 20 "
                "(K = 100; the README job)", two(), PSGD, 20.0, ref(203), causal_tested()),
        # ---- long GD horizons. Rung 3 at K = 250 and rung 2 at K = 500 are beyond this budget;
        # the references are rung 2 (t <= 50) and the default rung 1 (t <= 100), whose own
        # estimates (the difference with the rung below) are about the error of that rung below:
        # only rules coarser than it are tested conclusively (factor >= 30); the rows of the
        # default against its own ladder are shown, outside the verdict.
        Setting("gd-two-t50", "two clusters, GD, lambda = 0, t <= 50 (K = 250)", two(),
                qd.FullBatch(), 50.0, qd.Quadrature(resolution=2),
                [("quadrature default", qd.Quadrature()),
                 ("coarse modal ladder rung 1", qd.Quadrature(ladder=COARSE_MODAL, resolution=1)),
                 ("coarser modal ladder rung 1", qd.Quadrature(ladder=COARSER_MODAL, resolution=1))]),
        Setting("gd-two-t100", "two clusters, GD, lambda = 0, t <= 100 (K = 500)", two(),
                qd.FullBatch(), 100.0, qd.Quadrature(),
                [("coarser modal ladder rung 1", qd.Quadrature(ladder=COARSER_MODAL, resolution=1)),
                 ("coarsest modal ladder rung 1", qd.Quadrature(ladder=COARSEST_MODAL, resolution=1))]),
    ]


# Modal rungs below the built-in MODAL_LADDER (its rung 0 is the last one here): errors large
# enough for the affordable long-horizon references to be 30x more accurate.
COARSE_MODAL = (qd.Resolution(level=2, n_h0=6, max_modes=3, kl_tol=1e-4, n_points=64),
                qd.Resolution(level=2, n_h0=8, max_modes=4, kl_tol=1e-6, n_points=64))
COARSER_MODAL = (qd.Resolution(level=2, n_h0=4, max_modes=2, kl_tol=1e-3, n_points=64),
                 qd.Resolution(level=2, n_h0=6, max_modes=3, kl_tol=1e-4, n_points=64))
COARSEST_MODAL = (qd.Resolution(level=1, n_h0=3, max_modes=1, kl_tol=1e-2, n_points=64),
                  qd.Resolution(level=2, n_h0=4, max_modes=2, kl_tol=1e-3, n_points=64))


def solve_timed(setting: Setting, rule):
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = qd.solve(setting.problem, setting.schedule, eta=ETA, t_max=setting.t_max, rule=rule)
    return res, time.perf_counter() - wall, time.process_time() - cpu


def uncertainty(ref, name):
    """The reference's own allowance: its refinement estimate, or 3 standard errors."""
    err = np.asarray(getattr(ref, f"{name}_err"))
    scale = 3.0 if ref.error_kind is qd.ErrorKind.STANDARD_ERROR else 1.0
    return scale * err + ROUNDOFF * np.maximum(1.0, np.abs(getattr(ref, name)))


def compare(res, ref, name):
    x, r = np.asarray(getattr(res, name)), np.asarray(getattr(res, f"{name}_err"))
    e = np.abs(x - np.asarray(getattr(ref, name)))
    u = uncertainty(ref, name)
    e_res = np.maximum(e - u, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(e_res > 0, e_res / r, 0.0)
    worst = int(np.argmax(ratio))
    sup_u = float(u.max())
    return {
        "curve": name, "n_points": int(x.size),
        "covered": float(np.mean(e_res <= r)), "covered_strict": float(np.mean(e <= r)),
        "within_3x": float(np.mean(e_res <= 3 * r)),
        "worst_ratio": float(ratio[worst]), "worst_t": float(res.t[worst]),
        "sup_error": float(e.max()), "sup_reported": float(r.max()), "sup_reference_u": sup_u,
        "factor": float(e.max() / sup_u) if sup_u > 0 else float("inf"),
    }


def run_setting(setting: Setting, log, cache=None):
    ref, wall, cpu = cached(cache, "coverage-" + setting.name, setting.problem, setting.schedule,
                            ETA, setting.t_max, setting.reference,
                            lambda: solve_timed(setting, setting.reference))
    log(f"\n## {setting.name}: {setting.title}\nreference {ref.params['rule']} "
        f"({ref.error_kind.value}) in {wall:.1f} s wall, {cpu:.1f} s cpu: {ref.message}")
    out = {"name": setting.name, "title": setting.title, "t_max": setting.t_max,
           "K": int(ref.t.size - 1), "reference": {**ref.params, "message": ref.message,
                                                   "error_kind": ref.error_kind.value,
                                                   "wall_s": wall, "cpu_s": cpu},
           "rows": []}
    for label, rule in setting.tested:
        res, wall, cpu = solve_timed(setting, rule)
        log(f"  {label}: {wall:.1f} s wall, {cpu:.1f} s cpu; {res.message}")
        for name in CURVES:
            row = {"rule": label, "error_kind": res.error_kind.value, "wall_s": wall, "cpu_s": cpu,
                   "message": res.message, **compare(res, ref, name)}
            out["rows"].append(row)
            flag = "" if row["factor"] >= REQUIRED_FACTOR else "  (reference < 30x)"
            log(f"    {name:15s} covered {row['covered']:6.1%}  worst ratio {row['worst_ratio']:8.2g} "
                f"(t = {row['worst_t']:g})  sup err {row['sup_error']:8.2e}  sup reported "
                f"{row['sup_reported']:8.2e}  ref u {row['sup_reference_u']:8.1e}  factor "
                f"{row['factor']:7.3g}{flag}")
    return out


def family(label: str) -> str:
    if label.startswith("qmc"):
        return "qmc default (standard error)"
    if label == "quadrature default":
        return "quadrature default"
    return "quadrature, other rungs"


def summary(results):
    """Pooled coverage per rule family, over rows whose reference is >= 30x more accurate
    (conclusive) and over every row."""
    table = {}
    for conclusive in (True, False):
        for res in results:
            for row in res["rows"]:
                if conclusive and not row["factor"] >= REQUIRED_FACTOR:
                    continue
                key = (family(row["rule"]), "conclusive (factor >= 30)" if conclusive else "all rows")
                t = table.setdefault(key, {"points": 0, "covered": 0.0, "cases": 0,
                                           "cases_over_3x": 0, "worst_ratio": 0.0, "worst_case": ""})
                t["points"] += row["n_points"]
                t["covered"] += row["covered"] * row["n_points"]
                t["cases"] += 1
                t["cases_over_3x"] += row["worst_ratio"] > 3
                if row["worst_ratio"] > t["worst_ratio"]:
                    t["worst_ratio"] = row["worst_ratio"]
                    t["worst_case"] = f"{res['name']} / {row['rule']} / {row['curve']} (t = {row['worst_t']:g})"
    rows = []
    for (fam, scope), t in table.items():
        rows.append({"family": fam, "scope": scope, "cases": t["cases"], "points": t["points"],
                     "covered": t["covered"] / t["points"] if t["points"] else float("nan"),
                     "cases_over_3x": int(t["cases_over_3x"]), "worst_ratio": t["worst_ratio"],
                     "worst_case": t["worst_case"]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="three small settings (~2 min)")
    parser.add_argument("--only", nargs="+", help="run only these settings (by name)")
    parser.add_argument("--out", default="benchmarks/coverage.json")
    parser.add_argument("--cache", help="a folder where references are stored and reused")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="solve nothing: pool the settings of these outputs of earlier runs "
                             "(e.g. groups run in parallel with --only) into one summary")
    args = parser.parse_args(argv)
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        # a setting run by several groups (to share its reference) counts once
        results = list({s["name"]: s for part in parts for s in part["settings"]}.values())
        meta = {"merged": [{"file": f, **part["meta"]} for f, part in zip(args.merge, parts)],
                "cpu_s": sum(part["meta"]["cpu_s"] for part in parts), "required_factor": REQUIRED_FACTOR}
        report(results, meta, args.out, print)
        return 0

    def log(text):
        print(text, flush=True)

    all_settings = settings(args.quick)
    if args.only:
        names = {s.name for s in all_settings}
        unknown = set(args.only) - names
        if unknown:
            parser.error(f"unknown settings {sorted(unknown)}; choose from {sorted(names)}")
        by_name = {s.name: s for s in all_settings}
        all_settings = [by_name[name] for name in args.only]  # in the order given
    # compile every kernel path outside the timings
    solve_timed(Setting("warm", "", two(), qd.SGD(0.5), 0.6, None), qd.QMC(n_points=4, n_h0=2, n_replicates=2))
    solve_timed(Setting("warm", "", two(), qd.FullBatch(), 0.6, None), qd.Quadrature(resolution=1))

    wall, cpu = time.perf_counter(), time.process_time()
    results = []
    for setting in all_settings:
        results.append(run_setting(setting, log, args.cache))
        if args.out != "/dev/null":  # what is done survives an interrupted run
            write_text(args.out, json.dumps({"meta": {"partial": True, "cpu_s": time.process_time() - cpu},
                                             "settings": results}, indent=1))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    meta = {"commit": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain", "quaddmft")),
            "numba_threads": _numba_threads(), "wall_s": wall, "cpu_s": cpu, "quick": args.quick,
            "required_factor": REQUIRED_FACTOR}
    report(results, meta, args.out, log)
    return 0


def report(results, meta, out, log):
    """Print the pooled summary of ``results``; write them with it to ``out`` (JSON, atomic)."""
    table = summary(results)
    log(f"\nSummary ({len(results)} settings, {meta['cpu_s']:.0f} s cpu):")
    log(f"{'rules':32s} {'scope':28s} {'cases':>5s} {'points':>7s} {'covered':>8s} {'>3x':>4s} "
        f"{'worst ratio':>11s}  worst case")
    for row in table:
        log(f"{row['family']:32s} {row['scope']:28s} {row['cases']:5d} {row['points']:7d} "
            f"{row['covered']:8.1%} {row['cases_over_3x']:4d} {row['worst_ratio']:11.3g}  {row['worst_case']}")
    if out != "/dev/null":
        write_text(out, json.dumps({"meta": meta, "summary": table, "settings": results}, indent=1))


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _numba_threads():
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


if __name__ == "__main__":
    sys.exit(main())
