"""Cost of one causal sweep versus the horizon K and the node count; peak memory; time split.

Two clusters, logistic, GD (Fig. 1 settings, eta = 0.2). For K in --Ks and a fixed node set,
times one causal sweep and fits cost ~ K^p (over the whole range and over its upper half); for a
fixed K, times node counts and fits cost ~ N^q. The time split (effective-process kernel,
response rows, Cholesky row, kernel-row BLAS products and accuracy, weight side) comes from a
profiled sweep at the largest K. The response variants (per-node substitution, blocked with
dense blocks, blocked with low-rank blocks) are timed at --baseline-K in the same process; the
per-node one, the solver's kernel before the blocked ones, is the baseline of the ratios. Peak memory is
the process's maximum resident size (it includes numba and the largest sweep's buffers).

    python benchmarks/scaling.py [--Ks 250 500 1000 2000] [--points 128] [--out benchmarks/scaling.json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import time

import numpy as np

import quaddmft as qd
from quaddmft._causal import causal_sweep
from quaddmft._response import ResponseOptions

ETA = 0.2
SPLIT = {  # profiled function -> part of the sweep
    "effective_step": "effective-process kernel",
    "response_rows": "response rows (blocked)",
    "add_row": "low-rank bases of R",
    "cholesky_append_row": "Cholesky row of M_C",
    "interpolated_accuracy": "training accuracy",
    "advance": "weight side",
    "c_perp_diag": "weight side",
    "c_perp": "weight side",
}


def one_sweep(problem, chain, K, n_points, n_h0, profile=False, response=ResponseOptions()):
    rule = qd.QMC(n_points=n_points, n_h0=n_h0, n_replicates=2)
    nodes = rule.nodes(problem, chain, K, np.random.default_rng(0))
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    causal_sweep(problem, ETA, K, nodes, response=response)
    if profiler:
        profiler.disable()
    return time.perf_counter() - start, nodes.size, profiler


def fit_exponent(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--Ks", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--points", type=int, default=128, help="Sobol' points (x 4 h0 nodes)")
    parser.add_argument("--node-K", type=int, default=500, help="K of the node-count scan")
    parser.add_argument("--baseline-K", type=int, default=1000, help="K of the per-node baseline")
    parser.add_argument("--out", default="benchmarks/scaling.json")
    args = parser.parse_args(argv)
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    chain = qd.FullBatch().chain(ETA)
    modes = {"per-node": ResponseOptions(blocked_from=args.baseline_K + 1),
             "blocked, dense blocks": ResponseOptions(low_rank=False),
             "blocked, low-rank blocks (default)": ResponseOptions()}
    for response in modes.values():  # compile every response path
        one_sweep(problem, chain, 300, 4, 2, response=response)
    record = {"setting": "two-cluster logistic GD, alpha 2, Delta 0.5, eta 0.2, R 0.01"}

    times = []
    for K in args.Ks:
        t, n, _ = one_sweep(problem, chain, K, args.points, 4)
        times.append(t)
        print(f"K = {K:5d}, N = {n}: {t:8.2f} s", flush=True)
    p_all = fit_exponent(args.Ks, times)
    half = len(args.Ks) // 2
    p_top = fit_exponent(args.Ks[half:], times[half:]) if len(args.Ks) - half >= 2 else p_all
    print(f"cost ~ K^{p_all:.2f} over K = {args.Ks[0]}..{args.Ks[-1]}; "
          f"K^{p_top:.2f} over K = {args.Ks[half]}..{args.Ks[-1]}")
    record["K_scan"] = {"N": n, "K": args.Ks, "seconds": times, "exponent": p_all,
                        "exponent_upper_half": p_top}

    sizes, ntimes = [], []
    for pts in (32, 128, 512):
        t, n, _ = one_sweep(problem, chain, args.node_K, pts, 4)
        sizes.append(n)
        ntimes.append(t)
        print(f"K = {args.node_K}, N = {n:6d}: {t:8.2f} s", flush=True)
    q = fit_exponent(sizes, ntimes)
    print(f"cost ~ N^{q:.2f}")
    record["N_scan"] = {"K": args.node_K, "N": sizes, "seconds": ntimes, "exponent": q}

    mode_times = {}
    for mode, response in modes.items():
        mode_times[mode], n, _ = one_sweep(problem, chain, args.baseline_K, args.points, 4,
                                           response=response)
    base = mode_times["per-node"]
    print(f"response at K = {args.baseline_K}, N = {n}: " + "; ".join(
        f"{mode} {t:.2f} s ({base / t:.2f}x)" for mode, t in mode_times.items()))
    record["response_modes"] = {"K": args.baseline_K, "N": n, "seconds": mode_times}

    K = args.Ks[-1]
    total, n, profiler = one_sweep(problem, chain, K, args.points, 4, profile=True)
    stats = pstats.Stats(profiler)
    split = {}
    for (_, _, func), (_, _, _, cumulative, _) in stats.stats.items():
        if func in SPLIT:
            split[SPLIT[func]] = split.get(SPLIT[func], 0.0) + cumulative
    split["rest (kernel-row BLAS, bookkeeping)"] = total - sum(split.values())
    print(f"time split at K = {K}, N = {n} (total {total:.1f} s): "
          + ", ".join(f"{part} {100 * v / total:.0f}%" for part, v in split.items()))
    record["split"] = {"K": K, "N": n, "total_s": total, "seconds": split}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak resident memory {peak:.0f} MiB")
    record["peak_MiB"] = peak
    with open(args.out, "w") as fh:
        json.dump(record, fh, indent=1)


if __name__ == "__main__":
    main()
