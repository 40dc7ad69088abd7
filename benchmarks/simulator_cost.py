"""Cost of the DMFT solver versus the finite-d simulator at equal error.

Setting: the GD curve of the paper's Fig. 1 (right, lambda = 0): two clusters, logistic loss,
alpha = 2, Delta = 0.5, R = 0.01, full batch, eta = 0.2, t <= T. Everything below is timed in
this one run on this machine and compared as ratios.

1. Reference: a fine QMC solve (default 1024 Sobol' points x 8 Gauss-Hermite nodes x 8
   replicates); its own standard error (max over t) is reported: it is the floor of every error
   below.
2. DMFT cost/error: the solver at a few QMC sizes; per size the wall time, the sup over t of
   |gen_error - reference| and the sup of its reported standard error.
3. Simulator: for each d, `--seeds` independent runs (dataset, w(0)), each timed. Per d:
   - bias = seed mean of (sim - reference) averaged over the late half of the times (t >= T/2),
     with its standard error across seeds;
   - sigma = per-seed standard deviation of gen_error(t), root-mean-square over the late times
     (the pointwise spread of one run; one seed-averaged curve has error sigma/sqrt(seeds));
   - cost = wall time per seed.
   Fits: bias(d) = B/d (weighted least squares, weights 1/se^2, chi^2/dof reported),
   sigma(d) = S/sqrt(d) (least squares on sigma*sqrt(d)), cost(d) = c1 d^2 (least squares in
   seconds, so set by the largest d; one GD run costs ~ 4 K alpha d^2 flops). Free power-law
   exponents are printed as a check of each form.
4. Prediction from the fits (EXTRAPOLATED, not measured): the cheapest simulator reaching total
   error eps = |B|/d + S/sqrt(d seeds): scan d on a log grid from the smallest measured d up to
   1e7 (below it the fits are untested), seeds = ceil((S/sqrt(d) / (eps - |B|/d))^2) (at least 2)
   when eps > |B|/d, cost = seeds c1 d^2; dataset memory 8 alpha d^2 bytes. With |B| = 0 the
   cost S^2 c1 d / eps^2 grows with d, so the scan then picks the smallest measured d. The
   DMFT's MEASURED cost at error eps is interpolated in log-log on the measured rows (on their
   Pareto front, cost increasing while error decreases); above the largest measured error it is
   bounded by the cheapest row ("<="), below the smallest it is "n/a" (no extrapolation).
5. Writes every measured row, the fits and the predictions to --out (JSON) and prints tables.

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/simulator_cost.py \
        [--t-max 20] [--ds 250 500 1000 2000] [--seeds 16] [--reference 1024x8x8] \
        [--rules 16x2x4 64x4x4 128x6x8 256x8x16] [--out benchmarks/simulator_cost.json]

The thread variables pin both codes to one core (the solver's numba kernels and the simulator's
BLAS products are otherwise multi-threaded); the values in effect are recorded in the JSON.

Caveats.
- The bias is measured against the DMFT reference, taken as the d -> infinity limit; the
  reference's own error (reported) limits how small a bias can be resolved. Sign convention:
  bias > 0 means the finite-d runs have a larger generalisation error than the DMFT.
- The two errors are not the same statistic: the DMFT error is the measured sup over all t of
  |error| (about three standard errors for a single run), the simulator's is the late-time bias
  plus one pointwise standard error, from fits. This favours the simulator.
- The fits B/d, S/sqrt(d), c1 d^2 are assumed to hold above the measured d; at the smaller
  measured d the per-seed cost has a fixed overhead that c1 d^2 misses (again favouring the
  simulator). A bias not resolved from zero (|B| < 2 se, flagged) makes the predicted d an
  artefact of the noise in B: the bias needs many seeds at small d to be measured (its standard
  error is ~ S/sqrt(d seeds) times a time-correlation factor, against a bias B/d).
- The per-seed paths come from the simulator's own per-seed routine (`simulate_seed`, as
  `qd.simulate` runs it); a check at the warm-up d asserts that their mean is `qd.simulate`'s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

import quaddmft as qd
from quaddmft._simulator import seed_sequences, simulate_seed

ALPHA, DELTA, ETA = 2.0, 0.5, 0.2
EPSILONS = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4)
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def fig1_right_gd_problem() -> qd.Problem:
    return qd.Problem(qd.TwoCluster(alpha=ALPHA, delta=DELTA), "logistic", lam=0.0, R=0.01)


def qmc_rule(spec: str, seed: int) -> qd.QMC:
    """'POINTSxH0xREPLICATES' -> QMC rule, e.g. '256x8x16'."""
    try:
        points, h0, replicates = (int(part) for part in spec.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"QMC size {spec!r} is not POINTSxH0xREPLICATES") from None
    return qd.QMC(n_points=points, n_h0=h0, n_replicates=replicates, seed=seed)


def rule_label(rule: qd.QMC) -> str:
    return f"{rule.n_points}x{rule.n_h0}x{rule.n_replicates}"


# ---------------------------------------------------------------- measurements


def timed_solve(problem, t_max, rule):
    start = time.perf_counter()
    res = qd.solve(problem, qd.FullBatch(), eta=ETA, t_max=t_max, rule=rule)
    return res, time.perf_counter() - start


def dmft_row(problem, t_max, rule, reference) -> dict:
    res, seconds = timed_solve(problem, t_max, rule)
    return {**rule.params(), "rule": rule_label(rule), "time_s": seconds,
            "sup_error": float(np.max(np.abs(res.gen_error - reference.gen_error))),
            "sup_reported_error": float(res.gen_error_err.max())}


def per_seed_paths(problem, t_max, d, seeds, seed):
    """gen_error of each seed, shape (seeds, K+1), and the wall time of each seed, as qd.simulate runs them."""
    chain = qd.FullBatch().chain(ETA)
    K = int(math.floor(t_max / ETA + 1e-9))
    curves, seconds = [], []
    for seed_seq in seed_sequences(seed, seeds):
        start = time.perf_counter()
        path = simulate_seed(problem, chain, eta=ETA, K=K, d=d, seed_seq=seed_seq)
        seconds.append(time.perf_counter() - start)
        curves.append(path.gen_error)
    return np.stack(curves), np.array(seconds)


def check_against_public_simulate(problem, t_max, d, seed):
    """The per-seed route must reproduce qd.simulate's seed-averaged curve exactly."""
    curves, _ = per_seed_paths(problem, t_max, d, 2, seed)
    public = qd.simulate(problem, qd.FullBatch(), eta=ETA, t_max=t_max, d=d, seeds=2, seed=seed)
    if not np.allclose(curves.mean(axis=0), public.gen_error, rtol=0, atol=1e-14):
        raise RuntimeError("per-seed simulator paths do not reproduce qd.simulate")


def late_half(t: np.ndarray) -> np.ndarray:
    return t >= 0.5 * t[-1]


def simulator_row(d, curves, seconds, reference) -> dict:
    seeds = curves.shape[0]
    late = late_half(reference.t)
    per_seed_bias = (curves[:, late] - reference.gen_error[late]).mean(axis=1)
    sigma = float(np.sqrt(np.mean(curves[:, late].var(axis=0, ddof=1))))
    mean_curve = curves.mean(axis=0)
    return {
        "d": d, "n": int(round(ALPHA * d)), "seeds": seeds,
        "time_per_seed_s": float(seconds.mean()), "time_total_s": float(seconds.sum()),
        "bias": float(per_seed_bias.mean()),
        "bias_se": float(per_seed_bias.std(ddof=1) / math.sqrt(seeds)),
        "sigma": sigma,
        "error_model": float(abs(per_seed_bias.mean()) + sigma / math.sqrt(seeds)),
        "sup_error_late": float(np.max(np.abs(mean_curve[late] - reference.gen_error[late]))),
        "sup_error": float(np.max(np.abs(mean_curve - reference.gen_error))),
        "dataset_bytes": 8 * int(round(ALPHA * d)) * d,
    }


# ---------------------------------------------------------------- fits


def power_law_exponent(x, y) -> float:
    """Slope of log|y| against log x (a check of the assumed exponent)."""
    return float(np.polyfit(np.log(x), np.log(np.abs(y)), 1)[0])


def fit_bias(rows) -> dict:
    """bias = B/d, weighted least squares with weights 1/se^2."""
    d = np.array([r["d"] for r in rows], float)
    b = np.array([r["bias"] for r in rows])
    se = np.array([r["bias_se"] for r in rows])
    weights = 1.0 / (d * se) ** 2
    B = float(np.sum(weights * b * d) / np.sum(weights))  # minimises sum ((b - B/d)/se)^2
    B_se = float(1.0 / math.sqrt(np.sum(weights)))
    chi2 = float(np.sum(((b - B / d) / se) ** 2))
    return {"B": B, "B_se": B_se, "chi2_per_dof": chi2 / max(len(rows) - 1, 1),
            "resolved": abs(B) >= 2 * B_se,
            "free_exponent": power_law_exponent(d, b) if np.all(b > 0) or np.all(b < 0) else None}


def fit_sigma(rows) -> dict:
    """sigma = S/sqrt(d), least squares on sigma sqrt(d) (equal relative weights)."""
    d = np.array([r["d"] for r in rows], float)
    sigma = np.array([r["sigma"] for r in rows])
    return {"S": float(np.mean(sigma * np.sqrt(d))), "free_exponent": power_law_exponent(d, sigma)}


def fit_cost(rows) -> dict:
    """time per seed = c1 d^2, least squares in seconds (dominated by the largest d, where d^2 dominates)."""
    d = np.array([r["d"] for r in rows], float)
    seconds = np.array([r["time_per_seed_s"] for r in rows])
    return {"c1": float(np.sum(seconds * d**2) / np.sum(d**4)),
            "free_exponent": power_law_exponent(d, seconds)}


# ---------------------------------------------------------------- equal-error comparison


def cheapest_simulator(eps, B, S, c1, d_grid) -> dict | None:
    """Minimise seeds(d) c1 d^2 subject to |B|/d + S/sqrt(d seeds) <= eps; None if unreachable."""
    best = None
    for d in d_grid:
        margin = eps - abs(B) / d
        if margin <= 0:
            continue
        seeds = max(2, math.ceil((S / math.sqrt(d) / margin) ** 2))
        cost = seeds * c1 * d**2
        if best is None or cost < best["cost_s"]:
            best = {"d": int(d), "seeds": seeds, "cost_s": cost, "dataset_bytes": 8 * ALPHA * d * d}
    return best


def pareto_front(rows):
    """(time, error) of the rows no cheaper row beats, sorted by increasing time."""
    front = []
    for row in sorted(rows, key=lambda r: r["time_s"]):
        if not front or row["sup_error"] < front[-1][1]:
            front.append((row["time_s"], row["sup_error"]))
    return front


def dmft_cost_at(eps, rows) -> tuple[float | None, str]:
    """Measured DMFT time at error eps: ('interpolated' | 'bound' (<=) | 'n/a')."""
    front = pareto_front(rows)
    if eps >= front[0][1]:
        return front[0][0], "bound"
    if eps < front[-1][1]:
        return None, "n/a"
    log_err = np.log([e for _, e in front])[::-1]  # increasing, for np.interp
    log_time = np.log([t for t, _ in front])[::-1]
    return float(np.exp(np.interp(math.log(eps), log_err, log_time))), "interpolated"


def comparison_row(eps, fits, dmft_rows, d_grid, measured_ds) -> dict:
    sim = cheapest_simulator(eps, fits["bias"]["B"], fits["sigma"]["S"], fits["cost"]["c1"], d_grid)
    if sim:
        sim["outside_measured_d"] = not min(measured_ds) <= sim["d"] <= max(measured_ds)
    dmft_time, dmft_kind = dmft_cost_at(eps, dmft_rows)
    ratio = sim["cost_s"] / dmft_time if sim and dmft_time else None
    return {"eps": eps, "simulator_extrapolated": sim, "dmft_measured_s": dmft_time,
            "dmft_kind": dmft_kind, "ratio_simulator_over_dmft": ratio}


# ---------------------------------------------------------------- printing


def fmt_time(seconds: float) -> str:
    if seconds < 1e3:
        return f"{seconds:.3g} s"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} days"


def fmt_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def print_dmft(reference_row, rows):
    ref_time = reference_row["time_s"]
    print(f"\nDMFT (measured), reference {reference_row['rule']}: {ref_time:.2f} s, "
          f"its own s.e. {reference_row['sup_reported_error']:.1e} (max over t)")
    floor = 3 * reference_row["sup_reported_error"]
    print(f"{'rule':>12} {'time':>9} {'x ref':>7} {'sup error':>10} {'sup s.e.':>9}")
    for r in rows:
        note = "  (within 3 s.e. of the reference: not resolved)" if r["sup_error"] < floor else ""
        print(f"{r['rule']:>12} {r['time_s']:8.3f}s {r['time_s'] / ref_time:7.3f} "
              f"{r['sup_error']:10.1e} {r['sup_reported_error']:9.1e}{note}")


def print_simulator(rows, fits, ref_time):
    print("\nSimulator (measured; bias = late-half mean of sim - reference, sigma = per-seed s.d.)")
    print(f"{'d':>6} {'seeds':>5} {'s/seed':>8} {'total':>8} {'x ref':>7} {'bias':>10} {'+-':>8} "
          f"{'sigma':>8} {'|b|+s/sqrt(n)':>13} {'sup err':>8}")
    for r in rows:
        print(f"{r['d']:6d} {r['seeds']:5d} {r['time_per_seed_s']:8.3f} {r['time_total_s']:7.2f}s "
              f"{r['time_total_s'] / ref_time:7.3f} {r['bias']:10.2e} {r['bias_se']:8.1e} "
              f"{r['sigma']:8.1e} {r['error_model']:13.1e} {r['sup_error']:8.1e}")
    b, s, c = fits["bias"], fits["sigma"], fits["cost"]
    print(f"fits: bias = B/d, B = {b['B']:.3g} +- {b['B_se']:.2g} (chi2/dof {b['chi2_per_dof']:.2g}, "
          f"{'resolved' if b['resolved'] else 'NOT resolved from 0'}; free exponent "
          f"{'n/a (sign changes)' if b['free_exponent'] is None else format(b['free_exponent'], '.2f')})")
    print(f"      sigma = S/sqrt(d), S = {s['S']:.3g} (free exponent {s['free_exponent']:.2f}); "
          f"time/seed = c1 d^2, c1 = {c['c1']:.3g} s (free exponent {c['free_exponent']:.2f})")


def print_comparison(rows, measured_ds):
    print("\nEqual error eps: simulator EXTRAPOLATED from the fits, DMFT MEASURED "
          "(log-log interpolation; '<=' = cheapest measured rule already below eps)")
    print(f"{'eps':>7} {'sim d':>9} {'seeds':>7} {'sim cost':>11} {'dataset':>9} {'DMFT cost':>11} "
          f"{'sim/DMFT':>9}")
    for r in rows:
        sim = r["simulator_extrapolated"]
        if r["dmft_kind"] == "n/a":
            dmft, ratio = "n/a", "n/a"
        else:
            prefix = "<=" if r["dmft_kind"] == "bound" else ""
            dmft = prefix + fmt_time(r["dmft_measured_s"])
            ratio = (">=" if prefix else "") + f"{r['ratio_simulator_over_dmft']:.3g}" if sim else "n/a"
        if sim is None:
            print(f"{r['eps']:7.0e} {'unreachable on the d grid':>39} {dmft:>11} {ratio:>9}")
            continue
        outside = "*" if sim["outside_measured_d"] else ""
        print(f"{r['eps']:7.0e} {outside + str(sim['d']):>9} {sim['seeds']:7d} {fmt_time(sim['cost_s']):>11} "
              f"{fmt_bytes(sim['dataset_bytes']):>9} {dmft:>11} {ratio:>9}")
    print(f"* d outside the measured range {min(measured_ds)}..{max(measured_ds)}")


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t-max", type=float, default=20.0, help="horizon T (default 20)")
    parser.add_argument("--ds", type=int, nargs="+", default=[250, 500, 1000, 2000],
                        help="simulator dimensions (default 250 500 1000 2000)")
    parser.add_argument("--seeds", type=int, default=16, help="simulator seeds per d (default 16, >= 2)")
    parser.add_argument("--seed", type=int, default=0, help="root seed of the simulator (default 0)")
    parser.add_argument("--reference", default="1024x8x8",
                        help="reference QMC size POINTSxH0xREPLICATES (default 1024x8x8)")
    parser.add_argument("--rules", nargs="+", default=["16x2x4", "64x4x4", "128x6x8", "256x8x16"],
                        help="DMFT QMC sizes to time (default 16x2x4 64x4x4 128x6x8 256x8x16)")
    parser.add_argument("--out", default="benchmarks/simulator_cost.json", help="JSON output path")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2")
    if len(args.ds) < 2:
        parser.error("--ds needs at least two dimensions for the fits")
    return args


def main(argv=None):
    args = parse_args(argv)
    problem = fig1_right_gd_problem()
    threads = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    print(f"Fig. 1 right, GD: alpha = {ALPHA}, Delta = {DELTA}, logistic, lam = 0, R = 0.01, "
          f"eta = {ETA}, T = {args.t_max}; threads {threads}", flush=True)

    # Warm the numba caches and check the per-seed simulator route (not timed).
    qd.solve(problem, qd.FullBatch(), eta=ETA, t_max=0.4, rule=qd.QMC(n_points=4, n_h0=2, n_replicates=2))
    check_against_public_simulate(problem, 1.0, 50, args.seed)

    reference_rule = qmc_rule(args.reference, seed=99)
    reference, reference_time = timed_solve(problem, args.t_max, reference_rule)
    reference_row = {**reference_rule.params(), "rule": rule_label(reference_rule), "time_s": reference_time,
                     "sup_reported_error": float(reference.gen_error_err.max())}
    print(f"reference {reference_row['rule']}: {reference_time:.2f} s", flush=True)

    dmft_rows = []
    for spec in args.rules:
        dmft_rows.append(dmft_row(problem, args.t_max, qmc_rule(spec, seed=1), reference))
        print(f"  DMFT {spec}: {dmft_rows[-1]['time_s']:.2f} s", flush=True)

    simulator_rows = []
    for d in sorted(args.ds):
        curves, seconds = per_seed_paths(problem, args.t_max, d, args.seeds, args.seed)
        simulator_rows.append(simulator_row(d, curves, seconds, reference))
        print(f"  simulator d = {d}: {seconds.sum():.2f} s", flush=True)

    fits = {"bias": fit_bias(simulator_rows), "sigma": fit_sigma(simulator_rows),
            "cost": fit_cost(simulator_rows)}
    d_grid = np.unique(np.round(np.logspace(math.log10(min(args.ds)), 7, 601)).astype(int))
    comparison = [comparison_row(eps, fits, dmft_rows, d_grid, args.ds) for eps in EPSILONS]

    print_dmft(reference_row, dmft_rows)
    print_simulator(simulator_rows, fits, reference_time)
    print_comparison(comparison, args.ds)

    with open(args.out, "w") as fh:
        json.dump({"settings": {"alpha": ALPHA, "delta": DELTA, "loss": "logistic", "lam": 0.0, "R": 0.01,
                                "schedule": "full batch", "eta": ETA, "t_max": args.t_max,
                                "late_half": "t >= t_max/2", "threads": threads},
                   "reference": reference_row, "dmft_measured": dmft_rows,
                   "simulator_measured": simulator_rows, "fits": fits,
                   "equal_error_simulator_extrapolated": comparison}, fh, indent=1)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
