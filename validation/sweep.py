"""Run the two example sweeps of examples/ and draw their phase diagrams for REPORT.md.

* examples/sweep_psgd.toml: Persistent-SGD (exact law) on the two-cluster model over
  b = 0.1, ..., 1.0 and 1/tau = 0.1, ..., 12.8 (80 points): heat maps of the early-stopping
  error min_t eps_gen(t), of its time, and of the error at t = 80.
* examples/sweep_gd.toml: full-batch GD over alpha and lambda (36 points): the early-stopping
  error and the error at t = 40 against alpha, one line per lambda.

The datasets and their per-run files are kept in validation/_cache/sweeps/ (``qd.sweep`` is
resumable: a rerun computes only what is missing and then only redraws). Writes the PNGs
validation/out/sweep_*.png and validation/out/sweep.json (numbers quoted by REPORT.md, built
by report.py).

    python validation/sweep.py [--workers 2] [--scheduler ADDRESS] [--only psgd|gd]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402

import quaddmft as qd  # noqa: E402
from quaddmft._io import atomic_write  # noqa: E402
from quaddmft._sweep_grid import read_sweep_config  # noqa: E402
from quaddmft._sweep_run import run_sweep  # noqa: E402

CACHE = HERE / "_cache" / "sweeps"
OUT = HERE / "out"
SWEEPS = {"psgd": ROOT / "examples" / "sweep_psgd.toml", "gd": ROOT / "examples" / "sweep_gd.toml"}


def _where(ds, values) -> dict:
    index = np.unravel_index(int(np.nanargmin(values)), values.shape)
    return {dim: float(ds[dim].values[i]) for dim, i in zip(ds["gen_error_min"].dims, index)}


def _widest_plateau(ds) -> dict:
    """The point whose curve stays within 2 error bars of its minimum over the longest time:
    there the optimal stopping time is ill-determined."""
    t = ds["t"].values
    best = {"width": -1.0}
    for b in ds["b"].values:
        for inv_tau in ds["inv_tau"].values:
            point = ds.sel(b=b, inv_tau=inv_tau)
            g, e = point["gen_error"].values, point["gen_error_err"].values
            k = int(np.argmin(g))
            inside = t[g <= g[k] + 2 * e[k]]
            if inside.max() - inside.min() > best["width"]:
                best = {"b": float(b), "inv_tau": float(inv_tau), "width": float(np.ptp(inside)),
                        "from": float(inside.min()), "to": float(inside.max()),
                        "t_min": float(t[k]), "err": float(e[k])}
    return best


def psgd_numbers(ds) -> dict:
    g, t_min, final = ds["gen_error_min"], ds["t_min"], ds["gen_error_final"]
    t_max = float(ds.attrs["t_max"])
    gd_row = g.sel(b=1.0).values  # b = 1: full-batch GD, whatever tau
    best = _where(ds, g.values)
    worst = _where(ds, -g.values)
    censored = int((np.abs(t_min.values - t_max) < 1e-9).sum())
    # Along b at fixed 1/tau: is the early-stopping error monotone?
    monotone = [bool(np.all(np.diff(g.sel(inv_tau=v).values) >= 0)) for v in ds["inv_tau"].values]
    return {
        "gen_error_min_range": [float(g.min()), float(g.max())],
        "best": {**best, "gen_error_min": float(g.min()),
                 "err": float(ds["gen_error_min_err"].sel(b=best["b"], inv_tau=best["inv_tau"])),
                 "t_min": float(t_min.sel(b=best["b"], inv_tau=best["inv_tau"]))},
        "worst": {**worst, "gen_error_min": float(g.max()),
                  "t_min": float(t_min.sel(b=worst["b"], inv_tau=worst["inv_tau"]))},
        "gd": {"gen_error_min": float(gd_row[0]), "spread_over_tau": float(np.ptp(gd_row)),
               "t_min": float(t_min.sel(b=1.0).values[0])},
        "t_min_range": [float(t_min.min()), float(t_min.max())],
        "widest_plateau": _widest_plateau(ds),
        "t_min_b_small": [float(t_min.sel(b=0.1).min()), float(t_min.sel(b=0.1).max())],
        "spread_over_b": {f"{v:g}": float(np.ptp(g.sel(inv_tau=v).values)) for v in ds["inv_tau"].values},
        "censored_points": censored,
        "t_max": t_max,
        "increasing_in_b_at": [float(v) for v, m in zip(ds["inv_tau"].values, monotone) if m],
        "gd_lowest_everywhere": bool((gd_row[None, :] <= g.values + 1e-12).all()),
        "max_err": float(ds["gen_error_min_err"].max()),
        # the error at the end (t = t_max): late-time behaviour
        "final_b_small": [float(final.sel(b=0.1).min()), float(final.sel(b=0.1).max())],
        "final_gd": float(final.sel(b=1.0).values[0]),
        "final_range": [float(final.min()), float(final.max())],
        "final_max_err": float(ds["gen_error_final_err"].max()),
        "final_lowest_at_smallest_b_everywhere": bool(
            (final.sel(b=0.1).values[None, :] <= final.values + 1e-12).all()),
    }


def gd_numbers(ds) -> dict:
    g, final = ds["gen_error_min"], ds["gen_error_final"]
    out = {"by_alpha": {}}
    for alpha in ds["alpha"].values:
        gm, gf = g.sel(alpha=alpha), final.sel(alpha=alpha)
        lam_best_min = float(ds["lam"].values[int(np.argmin(gm.values))])
        lam_best_final = float(ds["lam"].values[int(np.argmin(gf.values))])
        out["by_alpha"][f"{alpha:g}"] = {
            "bayes_optimal": qd.bayes_optimal_error(float(alpha), float(ds.attrs["delta"])),
            "gen_error_min_lam0": float(gm.sel(lam=0.0)), "t_min_lam0": float(ds["t_min"].sel(alpha=alpha, lam=0.0)),
            "gen_error_final_lam0": float(gf.sel(lam=0.0)),
            "best_gen_error_min": float(gm.min()), "lam_best_min": lam_best_min,
            "best_gen_error_final": float(gf.min()), "lam_best_final": lam_best_final,
        }
    out["max_err"] = float(ds["gen_error_min_err"].max())
    out["t_max"] = float(ds.attrs["t_max"])
    out["decreasing_in_alpha"] = bool((g.diff("alpha") < 0).all() and (final.diff("alpha") < 0).all())
    out["final_decreasing_in_lam"] = bool((final.diff("lam") <= 0).all())
    return out


def rule_check(worst: dict, t_max: float) -> dict:
    """The sweep's highest early-stopping error (slow switching at small b, a long horizon: the
    hardest point for the rules) solved by a small and a 16x larger QMC rule and by the
    deterministic default, against a finite-d simulation: which rules agree within their
    error bars? (Measured: the QMC rules are biased there, the default is not.)"""
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
    schedule = qd.PersistentSGD(b=worst["b"], tau=1.0 / worst["inv_tau"], law=qd.ExactLaw())
    rules = {"QMC 64 x 8 x 4": qd.QMC(n_points=64, n_h0=8, n_replicates=4),
             "QMC 256 x 8 x 16": qd.QMC(n_points=256, n_h0=8, n_replicates=16),
             "deterministic default": qd.Quadrature()}
    out = {"b": worst["b"], "inv_tau": worst["inv_tau"], "rules": {}}
    simulation = qd.simulate(problem, schedule, eta=0.2, t_max=t_max, d=1000, seeds=16)
    out["rules"]["simulation d = 1000, 16 seeds"] = {
        "final": float(simulation.gen_error[-1]), "final_err": float(simulation.gen_error_err[-1]),
        "min": float(simulation.gen_error.min()), "error_kind": "standard error"}
    for name, rule in rules.items():
        res = qd.solve(problem, schedule, eta=0.2, t_max=t_max, rule=rule)
        out["rules"][name] = {"final": float(res.gen_error[-1]),
                              "final_err": float(res.gen_error_err[-1]),
                              "min": float(res.gen_error.min()),
                              "error_kind": res.error_kind.value}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None, help="a running dask scheduler's address")
    parser.add_argument("--only", choices=sorted(SWEEPS), action="append")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    record_path = OUT / "sweep.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    status = 0
    for name in args.only or sorted(SWEEPS, reverse=True):
        grid, _ = read_sweep_config(SWEEPS[name])
        path = CACHE / f"sweep_{name}.nc"
        started = time.perf_counter()
        ds, counts = run_sweep(grid, path, client=args.scheduler, workers=args.workers,
                               progress=args.progress)
        wall = time.perf_counter() - started
        print(f"sweep {name}: {counts} in {wall:.0f} s", file=sys.stderr)
        figures = []
        if name == "psgd":
            for variable in ("gen_error_min", "t_min", "gen_error_final"):
                figures.append(qd.plot_sweep(ds, variable, OUT / f"sweep_psgd_{variable}.png",
                                             x="inv_tau", y="b").name)
            numbers = psgd_numbers(ds)
            numbers["rule_check"] = rule_check(numbers["worst"], numbers["t_max"])
        else:
            for variable in ("gen_error_min", "gen_error_final"):
                figures.append(qd.plot_sweep(ds, variable, OUT / f"sweep_gd_{variable}.png",
                                             x="alpha", y="lam", kind="lines").name)
            numbers = gd_numbers(ds)
        failed = int((ds["status"] != "success").sum())
        status = status or (1 if failed else 0)
        previous = record.get(name, {})
        computed_now = counts["computed"] > 0
        record[name] = {
            "config": str(SWEEPS[name].relative_to(ROOT)), "points": counts["points"],
            "failed": failed, "figures": figures, "numbers": numbers,
            "rule_params": json.loads(ds.attrs["rule_params"]),
            "sum_of_point_wall_s": float(np.nansum(ds["wall_time"].values)),
            # the wall time of the run that computed the points (a cached rerun keeps it)
            "sweep_wall_s": wall if computed_now else (
                previous.get("sweep_wall_s")
                if previous.get("sum_of_point_wall_s") == float(np.nansum(ds["wall_time"].values))
                else None),  # points computed by a run whose record was not kept
            "workers": (args.workers or "cores") if computed_now else previous.get("workers"),
        }
    record["bayes_optimal"] = qd.bayes_optimal_error(2.0, 0.5)
    with atomic_write(record_path, "w") as fh:
        fh.write(json.dumps(record, indent=1) + "\n")
    print(f"sweep: wrote {record_path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
