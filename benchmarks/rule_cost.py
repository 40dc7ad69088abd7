"""Cost of the qmc rule versus montecarlo at equal error (README table).

Fig. 1 left settings (two clusters, logistic, alpha = 2, Delta = 0.5, lam = 0, eta = 0.2,
R = 0.01), t <= T. For each schedule a reference is solved with a much finer QMC rule; each rule
is then run at several sizes, and the sup over t of |gen_error - reference| and the wall time are
recorded; equal-error comparisons are read off these rows (interpolation, no extrapolation).
All timings come from one run on this machine. Note that a single run's sup error is about
three times the per-time standard error (sup over ~50 correlated times).

    python benchmarks/rule_cost.py [--t-max 20] [--out benchmarks/rule_cost.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import quaddmft as qd


def run(problem, schedule, eta, t_max, rule):
    start = time.perf_counter()
    res = qd.solve(problem, schedule, eta=eta, t_max=t_max, rule=rule)
    return res, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t-max", type=float, default=20.0)
    parser.add_argument("--out", default="benchmarks/rule_cost.json")
    args = parser.parse_args(argv)
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
    eta = 0.2
    # Warm the numba cache so compile time is not charged to the first rule.
    qd.solve(problem, qd.SGD(0.5), eta=eta, t_max=0.4, rule=qd.QMC(n_points=4, n_h0=2, n_replicates=2))

    rows = []
    for label, schedule in [("GD (b = 1)", qd.FullBatch()), ("Persistent-SGD b = 0.3", qd.PersistentSGD(0.3, 1 / 0.6))]:
        ref, ref_time = run(problem, schedule, eta, args.t_max,
                            qd.QMC(n_points=2048, n_h0=16, n_replicates=8, seed=99))
        print(f"{label}: reference {ref_time:.1f}s, its own error {ref.gen_error_err.max():.2e}", flush=True)
        for name, rules in [
            ("montecarlo", [qd.MonteCarlo(n_samples=n, n_replicates=8, seed=1) for n in (256, 1024, 4096)]),
            ("qmc", [qd.QMC(n_points=n, n_h0=8, n_replicates=8, seed=1) for n in (16, 64, 256)]),
        ]:
            for rule in rules:
                res, elapsed = run(problem, schedule, eta, args.t_max, rule)
                err = float(np.max(np.abs(res.gen_error - ref.gen_error)))
                rows.append({"schedule": label, "rule": name, **rule.params(), "time_s": elapsed,
                             "sup_error": err, "reported_error": float(res.gen_error_err.max())})
                print(f"  {name:10s} {rule.params()} {elapsed:7.2f}s sup err {err:.2e} "
                      f"(reported {res.gen_error_err.max():.2e})", flush=True)
    with open(args.out, "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
