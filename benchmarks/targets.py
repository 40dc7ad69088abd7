"""The issue's moonshot targets, measured: long GD horizons at a stated error, K = 2000 in time and memory.

1. Fig. 1 GD (two clusters, logistic, alpha = 2, Delta = 0.5, lambda = 0, R = 0.01, eta = 0.2) to
   t = 100 (K = 500): wall time and error of QMC rules of growing size. The error of a rule is
   measured against the largest rule run (sup over t of |gen_error - largest|), next to the
   rules' own reported standard errors (sup over t); the largest rule's own error is its
   reported standard error.
2. K = 2000 steps, b = 1, logistic (same problem, t = 400): wall time and peak resident memory
   of one solve with a small QMC rule, and its reported error.

    python benchmarks/targets.py [--rules 32x4x4 64x4x8 128x8x8] [--big-rule 64x4x4] [--out benchmarks/targets.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

import quaddmft as qd

PROBLEM = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
ETA = 0.2


def parse_rule(text: str) -> qd.QMC:
    points, h0, replicates = (int(v) for v in text.split("x"))
    return qd.QMC(n_points=points, n_h0=h0, n_replicates=replicates)


def timed_solve(rule, t_max):
    start = time.perf_counter()
    res = qd.solve(PROBLEM, qd.FullBatch(), eta=ETA, t_max=t_max, rule=rule)
    return res, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", nargs="+", default=["32x4x4", "64x4x8", "128x8x8"])
    parser.add_argument("--t-max", type=float, default=100.0)
    parser.add_argument("--big-rule", default="64x4x4")
    parser.add_argument("--big-K", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/targets.json")
    args = parser.parse_args(argv)
    timed_solve(parse_rule("16x2x2"), 60.0)  # compile every kernel path (blocked from k = 256)

    runs = [(text, *timed_solve(parse_rule(text), args.t_max)) for text in args.rules]
    largest = runs[-1][1]
    rows = []
    print(f"Fig. 1 GD to t = {args.t_max:g} (K = {largest.t.size - 1}):")
    for text, res, seconds in runs:
        diff = float(np.abs(res.gen_error - largest.gen_error).max()) if res is not largest else None
        rows.append({"rule": text, "seconds": seconds, "sup_diff_to_largest": diff,
                     "sup_reported_se": float(res.gen_error_err.max())})
        diff_text = f"{diff:.1e}" if diff is not None else "(reference)"
        print(f"  qmc {text:9s} {seconds:7.1f} s  sup |eps - largest| {diff_text}  "
              f"sup reported s.e. {res.gen_error_err.max():.1e}")

    big, seconds = timed_solve(parse_rule(args.big_rule), args.big_K * ETA)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"K = {args.big_K} (t = {args.big_K * ETA:g}), qmc {args.big_rule}: {seconds:.1f} s, "
          f"peak resident memory {peak:.0f} MiB, sup reported s.e. {big.gen_error_err.max():.1e}, "
          f"final gen_error {big.gen_error[-1]:.5f}")
    with open(args.out, "w") as fh:
        json.dump({"fig1_gd": {"t_max": args.t_max, "rows": rows},
                   "long": {"K": args.big_K, "rule": args.big_rule, "seconds": seconds,
                            "peak_MiB": peak, "sup_se": float(big.gen_error_err.max()),
                            "final_gen_error": float(big.gen_error[-1])}}, fh, indent=1)


if __name__ == "__main__":
    main()
