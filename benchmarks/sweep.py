"""A 16-point sweep on 2 dask workers (``qd.sweep``) against the same solves run serially.

Grid: Persistent-SGD (exact law) on the Fig. 1 two-cluster problem over b x 1/tau (4 x 4
points), eta = 0.2, t <= T, the library's default rule (``Quadrature()``, T = 20 by default) or,
with ``--rule qmc``, QMC 128 x 8 x 4 (the rule of the measurements before the merge of issue
11, with ``--t-max 30``). In one process, after warming the numba kernels:

1. serial: ``qd.solve`` for every point in a loop, one numba thread (what one worker does);
2. the sweep: a LocalCluster of ``--workers`` single-threaded processes is started (timed),
   then ``qd.sweep(..., client=)`` runs the 16 points on it, from an empty folder (timed; the
   workers' one-step warm-up and every file write are inside);
3. the serial loop again (the ratio uses the mean of both serial times, so that a change of the
   machine's load during the run biases it less);
4. with ``--default-threads``, also the serial loop with numba's default threads (every core),
   the loop a user would otherwise write. On a loaded machine it is far slower than one thread
   (OpenMP threads spin-wait for cores that other jobs hold), so it is not the baseline.

Printed: the three times and the ratios serial / sweep (with and without the cluster start-up),
whether the target ratio ``--target`` is met (reported, not an exit status: it depends on
the machine's load, which the workers' CPU share shows), whether the sweep's curves equal the
serial ones bit for bit, and per point the worker's peak
memory growth against the solve's own estimate (``_resources.check_solve``). Exits 1 if a
curve differs or a point's memory exceeds its estimate; points whose estimate is below
``--memory-floor`` MiB are not checked (there the fixed overhead of a run, a few hundred KiB of
Python objects and allocator arenas that the estimate does not count, dominates). Run it on a
quiet machine: other jobs on the cores change the ratios.

The sweep submits the points longest first (by the solves' own time estimates), so that the two
workers end together: before, the grid's order put the costliest points (b = 1, ~2x the time of
b = 0.25) last, and one worker finished them alone.

    python benchmarks/sweep.py [--rule default|qmc] [--t-max T] [--workers 2] [--default-threads]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's quaddmft

import quaddmft as qd  # noqa: E402

B = [0.25, 0.5, 0.75, 1.0]
INV_TAU = [0.2, 0.4, 0.8, 1.6]


def serial(problem, rule, t_max):
    out = {}
    for b in B:
        for inv_tau in INV_TAU:
            schedule = qd.PersistentSGD(b=b, tau=1.0 / inv_tau, law="exact")
            out[b, inv_tau] = qd.solve(problem, schedule, eta=0.2, t_max=t_max, rule=rule)
    return out


def arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rule", choices=("default", "qmc"), default="default",
                        help="the library's default rule (Quadrature) or QMC")
    parser.add_argument("--t-max", type=float, default=None,
                        help="horizon (default 20 for the default rule, 30 for qmc)")
    parser.add_argument("--points", type=int, default=128, help="QMC Sobol' points")
    parser.add_argument("--h0", type=int, default=8, help="QMC Gauss-Hermite nodes")
    parser.add_argument("--replicates", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-floor", type=float, default=4.0,
                        help="MiB; smaller estimates are not checked")
    parser.add_argument("--default-threads", action="store_true",
                        help="also time the serial loop with numba's default threads")
    parser.add_argument("--target", type=float, default=1.7,
                        help="the issue's speed-up target, serial / sweep with start-up")
    parser.add_argument("--out", default="benchmarks/sweep.json")
    return parser.parse_args(argv)



def time_serial(problem, rule, t_max):
    """The 16 solves in a loop with one numba thread: (results, wall s, CPU s)."""
    import numba

    default_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        results = serial(problem, rule, t_max)
        return results, time.perf_counter() - start, time.process_time() - cpu
    finally:
        numba.set_num_threads(default_threads)


def time_sweep(grid, workers):
    """Start a LocalCluster (timed), run the sweep on it from an empty folder (timed):
    (dataset, start-up s, sweep s)."""
    from distributed import Client

    from quaddmft._sweep_run import local_cluster

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cluster = local_cluster(workers)
        client = Client(cluster)
        t_start = time.perf_counter() - start
        try:
            start = time.perf_counter()
            ds = qd.sweep(grid, Path(tmp) / "bench.nc", client=client, progress=False)
            return ds, t_start, time.perf_counter() - start
        finally:
            client.close()
            cluster.close()


def main(argv=None) -> int:
    import numba

    args = arguments(argv)

    if args.rule == "qmc":
        rule = qd.QMC(n_points=args.points, n_h0=args.h0, n_replicates=args.replicates)
    else:
        rule = qd.Quadrature()
    if args.t_max is None:
        args.t_max = 30.0 if args.rule == "qmc" else 20.0
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
    for schedule in (qd.FullBatch(), qd.PersistentSGD(0.5, 1.0, law="exact")):  # load the kernels
        for warm in (qd.QMC(n_points=2, n_h0=1, n_replicates=2), rule):
            qd.solve(problem, schedule, eta=0.2, t_max=0.4, rule=warm)

    default_threads = numba.get_num_threads()
    reference, t_serial_1, cpu_serial = time_serial(problem, rule, args.t_max)
    print(f"serial, 1 numba thread: {t_serial_1:.1f} s (CPU {cpu_serial / t_serial_1:.0%} of it)",
          flush=True)

    grid = qd.SweepGrid(fixed={"schedule": "persistent", "law": "exact", "eta": 0.2,
                               "t_max": args.t_max},
                        over={"b": B, "inv_tau": INV_TAU}, rule=rule)
    ds, t_start, t_sweep = time_sweep(grid, args.workers)
    print(f"cluster start-up ({args.workers} workers): {t_start:.1f} s; sweep: {t_sweep:.1f} s",
          flush=True)

    t_serial_again = time_serial(problem, rule, args.t_max)[1]
    print(f"serial again: {t_serial_again:.1f} s", flush=True)
    t_serial_1 = 0.5 * (t_serial_1 + t_serial_again)

    t_serial_default = None
    if args.default_threads:
        start = time.perf_counter()
        serial(problem, rule, args.t_max)
        t_serial_default = time.perf_counter() - start
        print(f"serial, {default_threads} numba threads: {t_serial_default:.1f} s", flush=True)

    identical = all(np.array_equal(ds["gen_error"].sel(b=b, inv_tau=v).values, res.gen_error)
                    and np.array_equal(ds["C"].sel(b=b, inv_tau=v).values, res.C)
                    for (b, v), res in reference.items())
    peak, estimate = ds["memory_peak"].values.ravel(), ds["memory_estimate"].values.ravel()
    checked = estimate >= args.memory_floor * 2**20
    ratio_memory = peak[checked] / estimate[checked]
    row = {
        "points": len(grid), "workers": args.workers, "t_max": args.t_max, "rule": rule.params(),
        "order": "longest first (by the solves' time estimates)",
        "serial_1_thread_s": t_serial_1, "serial_default_threads_s": t_serial_default,
        "default_threads": default_threads,
        "serial_again_s": t_serial_again, "cluster_start_s": t_start, "sweep_s": t_sweep,
        "sum_of_point_wall_s": float(np.nansum(ds["wall_time"].values)),
        "ratio_serial_1_thread_to_sweep_with_start": t_serial_1 / (t_start + t_sweep),
        "ratio_serial_1_thread_to_sweep": t_serial_1 / t_sweep,
        "ratio_serial_default_to_sweep_with_start": (None if t_serial_default is None else
                                                      t_serial_default / (t_start + t_sweep)),
        "identical_to_serial": identical,
        "memory_peak_mib": (peak / 2**20).tolist(), "memory_estimate_mib": (estimate / 2**20).tolist(),
        "memory_points_checked": int(checked.sum()),
        "max_memory_peak_over_estimate": (float(np.nanmax(ratio_memory)) if ratio_memory.size
                                          else None),
        "point_wall_s": ds["wall_time"].values.ravel().tolist(),
    }
    return finish(args, row, ds, cpu_serial, default_threads, peak, estimate, ratio_memory)


def finish(args, row, ds, cpu_serial, default_threads, peak, estimate, ratio_memory) -> int:
    """Print the ratios, the target, the equality and the memory; write the JSON; exit status."""
    cpu_share = float(np.nansum(ds["cpu_time"].values)) / row["sum_of_point_wall_s"]
    row.update(serial_cpu_share=cpu_serial / row["serial_1_thread_s"], sweep_cpu_share=cpu_share)
    print(f"points' own wall times sum to {row['sum_of_point_wall_s']:.1f} s "
          f"({row['sum_of_point_wall_s'] / (args.workers * row['sweep_s']):.0%} of {args.workers} x the "
          f"sweep); the workers had the CPU {cpu_share:.0%} of that time (less: other programs "
          f"shared the cores)")
    print(f"ratio mean serial / sweep: {row['ratio_serial_1_thread_to_sweep_with_start']:.2f}x "
          f"with the cluster start-up, {row['ratio_serial_1_thread_to_sweep']:.2f}x without")
    if row["serial_default_threads_s"] is not None:
        print(f"ratio serial ({default_threads} numba threads) / sweep with start-up: "
              f"{row['ratio_serial_default_to_sweep_with_start']:.2f}x")
    met = row["ratio_serial_1_thread_to_sweep_with_start"] >= args.target
    row["target"], row["target_met"] = args.target, met
    print(f"target {args.target:g}x: {'met' if met else 'not met'}"
          + ("" if cpu_share > 0.9 else " (the workers did not have their cores: the ratio "
                                        "measures the machine's load, rerun when it is quiet)"))
    print(f"curves identical to the serial solves: {row['identical_to_serial']}")
    print(f"memory per point: peak growth {np.nanmin(peak) / 2**20:.1f}-{np.nanmax(peak) / 2**20:.1f} "
          f"MiB, estimate {np.nanmin(estimate) / 2**20:.1f}-{np.nanmax(estimate) / 2**20:.1f} MiB; "
          f"{row['memory_points_checked']} points above {args.memory_floor:g} MiB checked"
          + ("" if not ratio_memory.size
             else f", max peak/estimate {row['max_memory_peak_over_estimate']:.2f}"))
    if args.out != "/dev/null":
        from quaddmft._io import atomic_write

        with atomic_write(args.out, "w") as fh:
            fh.write(json.dumps(row, default=str, indent=1) + "\n")
    ok = row["identical_to_serial"] and (not ratio_memory.size or row["max_memory_peak_over_estimate"] <= 1.0)
    if not ok:
        print("sweep benchmark: FAILED (curves differ or memory above the estimate)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
