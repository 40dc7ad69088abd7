"""How the default rule's error spreads over scramblings, Persistent-SGD (issue 11).

``qd.Quadrature`` is deterministic: one fixed scrambling of its Sobol' set and fixed selection
shifts (``seed``, default 0). Another seed is as good a rule, so its error at seed 0 is one draw
from a spread; a target met at seed 0 only is met by luck. This script measures that spread on
Fig. 1 Persistent-SGD (b = 0.3, 1/tau = 0.6, eta = 0.2, t <= 20, K = 100): for each h0 allocation
and rung, the sup error over t of gen_error, m and C at seeds 0..S-1 (median, max, rms over seeds
and t, how many seeds reach 1e-5 in gen_error), and CPU time per solve.

It also splits gen_error's error to first order into its m part a(t) dm(t) and its C part
b(t) dC(t) (a, b the derivatives of the mixture's gen_error(m, C)): their rms over t and their
correlation. Measured (docs/numerics.md section 3): the two are strongly anti-correlated
(-0.89 to -0.95), each 1.5-2.4x the error they leave, so a method that lowers the errors of m
and C need not lower gen_error's.

Where rungs r-1 and r-2 were run too, a row carries ``combined``: the same statistics for the
mean of rungs r, r-1, r-2 weighted 1 : 2^-1.4 : 2^-2.8 (the ladder solves all three at
resolution r; measured, not the rule: docs/numerics.md section 3).

The reference (keys gen_error, m, C) is the mean of 8 independently scrambled 32768-point
rungs with equal h0 blocks (seeds 11-18), built by ``--make-reference`` (~8 x 45 s of one core;
standard error 2.1e-6 in gen_error). benchmarks/scramblings.json was measured against the one
of docs/precision.md, built the same way by an earlier version of the code: the two differ by
3.4e-6, 1.4e-5, 1.3e-4 in gen_error, m, C (within 2 standard errors; the code changed in
between), and the medians of the table by at most 10%.

    python benchmarks/scramblings.py --make-reference REF.npz
    NUMBA_NUM_THREADS=1 python benchmarks/scramblings.py --reference REF.npz   # ~20 min
    NUMBA_NUM_THREADS=1 python benchmarks/scramblings.py --reference REF.npz --rungs 2 --seeds 4
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

import quaddmft as qd
from _refcache import write_text
from quaddmft._io import atomic_write
from quaddmft._observables import mean_and_standard_error
from quaddmft.rules.quadrature import Resolution

PROBLEM = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
SCHEDULE = qd.PersistentSGD(0.3, 1 / 0.6)
ETA, T_MAX = 0.2, 20.0
CURVES = ("gen_error", "m", "C")
REFERENCE_SEEDS = range(11, 19)


def solve(rule):
    with warnings.catch_warnings():  # the reference's custom ladder warns that it shares n_h0
        warnings.simplefilter("ignore")
        return qd.solve(PROBLEM, SCHEDULE, eta=ETA, t_max=T_MAX, rule=rule, progress=False)


def make_reference(path: str) -> None:
    """The mean of 8 independently scrambled 32768-point rungs with equal h0 blocks."""
    ladder = (Resolution(n_points=256, n_h0=8), Resolution(n_points=32768, n_h0=8))
    runs = [solve(qd.Quadrature(ladder=ladder, resolution=1, seed=seed, h0_allocation="equal"))
            for seed in REFERENCE_SEEDS]
    arrays = {}
    for c in CURVES:
        arrays[c], arrays[f"{c}_standard_error"] = mean_and_standard_error([getattr(r, c) for r in runs])
    with atomic_write(path, "wb") as fh:  # to a file object: np.savez adds no suffix
        np.savez(fh, **arrays)
    print(f"wrote {path}: standard error of gen_error {arrays['gen_error_standard_error'].max():.1e}")


def split_gen_error(m, C, dm, dC) -> dict:
    """gen_error's error to first order: its m part a dm and C part b dC (rms over t, correlation)."""
    mixture, h = PROBLEM.mixture, 1e-6
    a = (mixture.gen_error(m + h, C) - mixture.gen_error(m - h, C)) / (2 * h)
    b = (mixture.gen_error(m, C + h) - mixture.gen_error(m, C - h)) / (2 * h)
    parts = {"m_part": a * dm, "C_part": b * dC}
    parts["sum"] = parts["m_part"] + parts["C_part"]
    out = {name: float(np.sqrt(np.mean(x**2))) for name, x in parts.items()}
    out["correlation"] = float(np.corrcoef(parts["m_part"], parts["C_part"])[0, 1])
    return out


def statistics(signed: dict) -> dict:
    """Per curve, from the signed errors (seeds, K+1): median and max over seeds of the sup over
    t, rms over seeds and t; and how many seeds have gen_error within 1e-5."""
    out = {"gen_error_below_1e-5": int(np.sum(np.abs(signed["gen_error"]).max(axis=1) <= 1e-5))}
    for c in CURVES:
        sup = np.abs(signed[c]).max(axis=1)
        out[c] = {"median_sup": float(np.median(sup)), "max_sup": float(np.max(sup)),
                  "rms": float(np.sqrt(np.mean(signed[c] ** 2))), "sup_per_seed": sup.tolist()}
    return out


def spread(ref: dict, allocation: str, rung: int, seeds: int):
    """The row of one allocation and rung over seeds 0..seeds-1, and the signed errors."""
    signed = {c: [] for c in CURVES}
    seconds, splits = [], []
    for seed in range(seeds):
        start = time.process_time()
        result = solve(qd.Quadrature(resolution=rung, seed=seed, h0_allocation=allocation))
        seconds.append(time.process_time() - start)
        for c in CURVES:
            signed[c].append(getattr(result, c) - ref[c])
        splits.append(split_gen_error(ref["m"], ref["C"], signed["m"][-1], signed["C"][-1]))
    signed = {c: np.array(v) for c, v in signed.items()}
    row = {"allocation": allocation, "rung": rung, "seeds": seeds,
           "cpu_s_median": float(np.median(seconds)), **statistics(signed)}
    row["gen_error_split"] = {k: float(np.median([s[k] for s in splits])) for k in splits[0]}
    return row, signed


# Weights of rungs r, r-1, r-2 in their mean (``combined``): proportional to 1 / variance for
# errors that fall like N^-0.7 and are independent from rung to rung.
COMBINATION_WEIGHTS = np.array([1.0, 2.0**-1.4, 2.0**-2.8]) / (1.0 + 2.0**-1.4 + 2.0**-2.8)


def combined(signed_by_rung: dict, rung: int) -> dict:
    """The errors of the weighted mean of rungs r, r-1, r-2 (the ladder solves all three for its
    estimate at resolution r), per seed."""
    signed = {c: sum(w * signed_by_rung[rung - i][c] for i, w in enumerate(COMBINATION_WEIGHTS))
              for c in CURVES}
    return {"rung": rung, "combined_with": [rung - 1, rung - 2],
            "weights": COMBINATION_WEIGHTS.tolist(), **statistics(signed)}


def summary(row: dict, seeds: int) -> str:
    g, split = row["gen_error"], row["gen_error_split"]
    text = (f"{row['allocation']:8s} rung {row['rung']}: {row['cpu_s_median']:5.1f} s  gen_error sup "
            f"median {g['median_sup']:.2e} max {g['max_sup']:.2e} rms {g['rms']:.2e} "
            f"({row['gen_error_below_1e-5']}/{seeds} <= 1e-5)  m {row['m']['median_sup']:.2e}  C "
            f"{row['C']['median_sup']:.2e}  | m part {split['m_part']:.1e} C part "
            f"{split['C_part']:.1e} corr {split['correlation']:+.2f}")
    if "combined" in row:
        c = row["combined"]
        text += (f"\n{'':8s} with rungs {c['combined_with']}: gen_error sup median "
                 f"{c['gen_error']['median_sup']:.2e} max {c['gen_error']['max_sup']:.2e} rms "
                 f"{c['gen_error']['rms']:.2e} ({c['gen_error_below_1e-5']}/{seeds} <= 1e-5)  m rms "
                 f"{c['m']['rms']:.2e}  C rms {c['C']['rms']:.2e}")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", help="NPZ with gen_error, m, C (see --make-reference)")
    parser.add_argument("--make-reference", metavar="NPZ", help="build the reference and stop")
    parser.add_argument("--rungs", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--allocations", nargs="+", default=["weighted", "equal"])
    parser.add_argument("--seeds", type=int, default=16, help="seeds 0..SEEDS-1")
    parser.add_argument("--out", default="benchmarks/scramblings.json", help="JSON written here")
    args = parser.parse_args(argv)
    if args.make_reference:
        make_reference(args.make_reference)
        return 0
    if not args.reference:
        parser.error("--reference NPZ is required (build one with --make-reference)")
    ref = dict(np.load(args.reference))
    rows = []
    for allocation in args.allocations:
        signed_by_rung = {}
        for rung in args.rungs:
            row, signed_by_rung[rung] = spread(ref, allocation, rung, args.seeds)
            if all(rung - i in signed_by_rung for i in (1, 2)):
                row["combined"] = combined(signed_by_rung, rung)
            rows.append(row)
            print(summary(row, args.seeds), flush=True)
            if args.out:  # after each row: an interrupted run keeps what it measured
                write_text(args.out, json.dumps({"reference": args.reference, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
