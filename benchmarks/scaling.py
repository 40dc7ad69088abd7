"""Cost of one causal sweep versus the horizon K and the node count; peak memory; time split.

Two clusters, logistic, GD (Fig. 1 settings). For K in --Ks and a fixed node set, times one
causal sweep and fits cost ~ K^p; for a fixed K, times node counts and fits cost ~ N^q. The
time split (effective-process kernel incl. the response, kernel-row BLAS products, weight side)
comes from a profiled sweep. Peak memory is the process's maximum resident size.

    python benchmarks/scaling.py [--Ks 50 100 200] [--nodes 1024]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import time

import numpy as np

import quaddmft as qd
from quaddmft._solver import causal_sweep


def one_sweep(problem, chain, K, n_points, n_h0):
    rule = qd.QMC(n_points=n_points, n_h0=n_h0, n_replicates=2)
    nodes = rule.nodes(problem, chain, K, np.random.default_rng(0))
    start = time.perf_counter()
    causal_sweep(problem, chain, 0.2, K, nodes)
    return time.perf_counter() - start, nodes.size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--Ks", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--nodes", type=int, default=1024, help="Sobol' points (x 4 h0 nodes)")
    args = parser.parse_args(argv)
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    chain = qd.FullBatch().chain(0.2)
    one_sweep(problem, chain, 3, 4, 2)  # compile

    times = []
    for K in args.Ks:
        t, n = one_sweep(problem, chain, K, args.nodes // 4, 4)
        times.append(t)
        print(f"K = {K:5d}, N = {n}: {t:8.3f} s", flush=True)
    p = np.polyfit(np.log(args.Ks), np.log(times), 1)[0]
    print(f"cost ~ K^{p:.2f} over K = {args.Ks[0]}..{args.Ks[-1]}")

    K = args.Ks[0]
    sizes, ntimes = [], []
    for pts in (64, 256, 1024):
        t, n = one_sweep(problem, chain, K, pts, 4)
        sizes.append(n)
        ntimes.append(t)
        print(f"K = {K}, N = {n:6d}: {t:8.3f} s", flush=True)
    q = np.polyfit(np.log(sizes), np.log(ntimes), 1)[0]
    print(f"cost ~ N^{q:.2f}")

    profiler = cProfile.Profile()
    profiler.enable()
    one_sweep(problem, chain, args.Ks[-1], args.nodes // 4, 4)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    split = {}
    for (fname, _, func), (_, _, tt, ct, _) in stats.stats.items():
        if func in ("effective_step", "cholesky_append_row", "advance", "c_perp_diag", "c_perp"):
            split[func] = split.get(func, 0.0) + ct
    print("time split at K = %d:" % args.Ks[-1],
          ", ".join(f"{k} {v:.2f}s ({100 * v / total:.0f}%)" for k, v in split.items()),
          f"(total {total:.2f}s)")
    print(f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")


if __name__ == "__main__":
    main()
