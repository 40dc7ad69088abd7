"""Long horizons in continuous time (issue 15): the gradient-flow limit of Fig. 1 GD to t = 1000, 1e4.

Fig. 1 GD setting (two clusters, logistic, alpha = 2, Delta = 0.5, lambda = 0, R = 0.01),
``qd.solve(..., time=qd.ContinuousTime(step, levels, growth))`` with ``Quadrature(resolution)``.

* ``scan``: one ladder per horizon (default t = 100, 200, 500, 1000) at fixed ladder parameters:
  wall and CPU time, finest K, the estimated sup error of gen_error (Richardson plus rule), its
  largest value over t >= 1; the cost exponent p of time ~ t^p fitted over the scan (the
  estimate is printed next to it: the accuracy must stay fixed for the exponent to mean
  anything).
* ``calibrate``: at the first horizon of the scan, the same ladder with one more level as the
  reference: the true sup |eps - reference| of the scan's result against its estimate.
* ``rule``: the averaging rule's share of the error at the last horizon of the scan: on the
  coarse grid of the ladder (a discrete solve with its steps), ``Quadrature(resolution)``
  against ``resolution + 1``: the true sup difference against the first one's own estimate.
* ``long``: the ladder to t = 1e4 (``--t-long``): wall and CPU time, estimated error.
* ``adaptive`` (not in the default parts): at every horizon of the scan, the fixed graded mesh of
  ``--growth`` against ``growth='adaptive'`` (same step, levels, rule), in one process: CPU
  ratio, coarse steps, estimates and their Richardson parts, |difference| at the horizon.
* ``compress``: HODLR compression (``quaddmft._compression``, tolerance 1e-10) of the kernels of
  one causal sweep on the finest grid of the t = 1e4 ladder: bytes against dense, largest rank.
Peak resident memory of the process is recorded after each part. Results go to ``--out`` (JSON,
written atomically) as soon as each part ends.

    python benchmarks/long_horizon.py                       # every part (hours on a busy machine)
    python benchmarks/long_horizon.py --parts scan --horizons 50 100 --levels 3
    python benchmarks/long_horizon.py --parts rule --horizons 1000    # measured: 5.0e-5 (est. 8.2e-4)
    python benchmarks/long_horizon.py --parts adaptive --horizons 100 1000 --step 0.4 --resolution 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

import quaddmft as qd
from quaddmft._causal import causal_sweep
from quaddmft._compression import TWO_TIME_KERNELS, kernel_compression
from quaddmft._continuous import extrapolate
from quaddmft._io import atomic_write

PROBLEM = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)


def ladder(args, levels=None):
    return qd.ContinuousTime(step=args.step, levels=levels or args.levels, growth=args.growth)


def timed(args, t_max, levels=None):
    wall, cpu = time.perf_counter(), time.process_time()
    res = qd.solve(PROBLEM, t_max=t_max, time=ladder(args, levels),
                   rule=qd.Quadrature(resolution=args.resolution), progress=args.progress)
    return res, time.perf_counter() - wall, time.process_time() - cpu


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def summary(res, wall, cpu) -> dict:
    late = res.t >= 1.0
    return {"t_max": float(res.t[-1]), "level_K": res.params["level_K"], "wall_s": wall,
            "cpu_s": cpu, "sup_estimate": float(res.gen_error_err.max()),
            "sup_estimate_t_ge_1": float(res.gen_error_err[late].max()),
            "observed_orders": res.params["observed_orders"]["gen_error"],
            "final_gen_error": float(res.gen_error[-1]), "peak_MiB": peak_mib()}


def write(path, record):
    if path == os.devnull:
        return
    with atomic_write(path, "w") as fh:
        json.dump(record, fh, indent=1)


def richardson_part(res) -> float:
    """The sup over t of the Richardson part of a ladder's gen_error estimate (without the
    rule's), recomputed from the levels' own curves in the result's history."""
    levels = [np.asarray(h["curves"]["gen_error"]) for h in res.history
              if str(h.get("stage", "")).startswith("level ")]
    return float(extrapolate(levels).error.max())


def adaptive(args, record):
    """The adaptive mesh (growth='adaptive') against the fixed graded mesh of ``--growth``, same
    step, levels and rule, in this process: CPU ratio, coarse steps, the two estimates (and
    their Richardson parts), and |difference| at the horizon."""
    rows = []
    for t_max in args.horizons:
        fixed, wall_f, cpu_f = timed(args, t_max)
        adapted_args = argparse.Namespace(**{**vars(args), "growth": "adaptive"})
        adapted, wall_a, cpu_a = timed(adapted_args, t_max)
        row = {"t_max": t_max, "fixed": summary(fixed, wall_f, cpu_f),
               "adaptive": summary(adapted, wall_a, cpu_a),
               "adapted_mesh": adapted.params["adapted_mesh"],
               "cpu_ratio_fixed_over_adaptive": cpu_f / cpu_a,
               "fixed_richardson": richardson_part(fixed),
               "adaptive_richardson": richardson_part(adapted),
               "difference_at_t_max": abs(float(fixed.gen_error[-1] - adapted.gen_error[-1]))}
        rows.append(row)
        print(f"t = {t_max:g}: fixed growth {args.growth:g}: K = {row['fixed']['level_K']}, "
              f"{cpu_f:.1f} s cpu, estimate {row['fixed']['sup_estimate']:.1e} (Richardson "
              f"{row['fixed_richardson']:.1e}); adaptive (growth "
              f"{row['adapted_mesh']['growth']:.3g}, max_step {row['adapted_mesh']['max_step'] or 0:.3g}): "
              f"K = {row['adaptive']['level_K']}, {cpu_a:.1f} s cpu, estimate "
              f"{row['adaptive']['sup_estimate']:.1e} (Richardson {row['adaptive_richardson']:.1e}); "
              f"cpu ratio {row['cpu_ratio_fixed_over_adaptive']:.2f}x, |difference| at t_max "
              f"{row['difference_at_t_max']:.1e}", flush=True)
    record["adaptive"] = rows


def scan(args, record):
    rows = []
    for t_max in args.horizons:
        res, wall, cpu = timed(args, t_max)
        rows.append(summary(res, wall, cpu))
        print(f"t = {t_max:7g}: K = {rows[-1]['level_K']}, {wall:7.1f} s wall, {cpu:7.1f} s cpu, "
              f"sup estimate {rows[-1]['sup_estimate']:.1e} ({rows[-1]['sup_estimate_t_ge_1']:.1e} "
              f"for t >= 1), orders {rows[-1]['observed_orders']}", flush=True)
    t = [r["t_max"] for r in rows]
    fit = {kind: float(np.polyfit(np.log(t), np.log([r[f"{kind}_s"] for r in rows]), 1)[0])
           for kind in ("wall", "cpu")} if len(rows) > 1 else {}
    print(f"cost ~ t^{fit.get('cpu', float('nan')):.2f} (cpu), t^{fit.get('wall', float('nan')):.2f} "
          f"(wall) over t = {t[0]:g}..{t[-1]:g}", flush=True)
    record["scan"] = {"rows": rows, "exponent": fit}
    return res


def calibrate(args, record):
    t_max = args.horizons[0]
    base, *_ = timed(args, t_max)
    ref, wall, cpu = timed(args, t_max, levels=args.levels + 1)
    error = np.abs(base.gen_error - ref.gen_error)
    out = {"t_max": t_max, "levels": args.levels, "reference_levels": args.levels + 1,
           "sup_true_error": float(error.max()), "sup_estimate": float(base.gen_error_err.max()),
           "estimate_bounds_everywhere": bool(np.all(error <= base.gen_error_err + 1e-15)),
           "reference_sup_estimate": float(ref.gen_error_err.max()),
           "reference_wall_s": wall, "reference_cpu_s": cpu}
    print(f"calibration at t = {t_max:g}: sup |eps - ({args.levels + 1} levels)| = "
          f"{out['sup_true_error']:.1e}, estimate {out['sup_estimate']:.1e}, bounds everywhere: "
          f"{out['estimate_bounds_everywhere']}", flush=True)
    record["calibrate"] = out


def rule(args, record):
    t_max = args.horizons[-1]
    steps = np.diff(ladder(args).grids(t_max)[0])
    runs = {}
    for r in (args.resolution, args.resolution + 1):
        cpu = time.process_time()
        res = qd.solve(PROBLEM, eta=steps, t_max=float(steps.sum()), rule=qd.Quadrature(resolution=r))
        runs[r] = (res, time.process_time() - cpu)
    (base, cpu_base), (ref, cpu_ref) = runs.values()
    diff = np.abs(base.gen_error - ref.gen_error)
    out = {"t_max": t_max, "K": int(steps.size), "resolution": args.resolution,
           "sup_true_error": float(diff.max()), "at_t": float(base.t[np.argmax(diff)]),
           "sup_estimate": float(base.gen_error_err.max()), "cpu_s": cpu_base,
           "reference_cpu_s": cpu_ref, "reference_sup_estimate": float(ref.gen_error_err.max())}
    print(f"rule at t <= {t_max:g} (coarse grid, K = {steps.size}): sup |resolution {args.resolution}"
          f" - {args.resolution + 1}| = {out['sup_true_error']:.1e} (estimate "
          f"{out['sup_estimate']:.1e}), cpu {cpu_base:.1f} s vs {cpu_ref:.1f} s", flush=True)
    record["rule"] = out


def long(args, record):
    res, wall, cpu = timed(args, args.t_long)
    record["long"] = summary(res, wall, cpu)
    print(f"t = {args.t_long:g}: {record['long']}", flush=True)


def compress(args, record):
    fine = ladder(args).grids(args.t_long)[-1]
    steps = np.diff(fine)
    chain = qd.FullBatch().chain(float(steps.min()))
    nodes = qd.QMC(n_points=16, n_h0=4, n_replicates=2).nodes(PROBLEM, chain, steps.size,
                                                              np.random.default_rng(0))
    sweep = causal_sweep(PROBLEM, chain, steps, steps.size, nodes, accuracy=False)
    report = kernel_compression(vars(sweep), tol=1e-10)
    out = {"K": int(steps.size)}
    for name in TWO_TIME_KERNELS:
        entry = report[name]
        out[name] = {k: entry[k] for k in ("relative_error", "max_rank", "bytes", "dense_bytes")}
        print(f"HODLR {name:8s} K = {steps.size}: {entry['bytes'] / entry['dense_bytes']:.3f} of "
              f"dense, max rank {entry['max_rank']}, relative error {entry['relative_error']:.1e}",
              flush=True)
    record["compress"] = out


PARTS = {"scan": scan, "calibrate": calibrate, "rule": rule, "long": long, "compress": compress,
         "adaptive": adaptive}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=[p for p in PARTS if p != "adaptive"],
                        choices=list(PARTS))
    parser.add_argument("--horizons", type=float, nargs="+", default=[100.0, 200.0, 500.0, 1000.0])
    parser.add_argument("--t-long", type=float, default=1e4)
    parser.add_argument("--step", type=float, default=0.2)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--growth", type=float, default=10.0)
    parser.add_argument("--resolution", type=int, default=1)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--out", default="benchmarks/long_horizon.json")
    args = parser.parse_args(argv)
    record = {"setting": "Fig. 1 GD, alpha 2, Delta 0.5, lambda 0, R 0.01; ContinuousTime("
                         f"step={args.step}, levels={args.levels}, growth={args.growth}), "
                         f"Quadrature(resolution={args.resolution})"}
    qd.solve(PROBLEM, t_max=2.0, time=ladder(args, 2), rule=qd.Quadrature(resolution=1))  # compile
    for name in args.parts:
        PARTS[name](args, record)
        record["peak_MiB"] = peak_mib()
        write(args.out, record)


if __name__ == "__main__":
    main()
