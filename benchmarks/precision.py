"""Precision study: sup-over-t error of gen_error versus wall time for montecarlo, qmc, quadrature.

Fig. 1 left settings (two clusters, logistic, alpha = 2, Delta = 0.5, lambda = 0, eta = 0.2,
R = 0.01, 1/tau = 0.6). For each schedule, a much finer reference is solved first; then each rule
at several sizes, all in this one run on this machine. Writes docs/precision.json and
docs/precision.png (error versus time, log-log).

    python benchmarks/precision.py [--t-max-gd 50] [--t-max-psgd 20]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import quaddmft as qd

SMALL_OBSERVER = qd.QMC(n_points=16, n_h0=2, n_replicates=2)  # accuracy is not studied here


def timed(problem, schedule, t_max, rule):
    start = time.perf_counter()
    res = qd.solve(problem, schedule, eta=0.2, t_max=t_max, rule=rule)
    return res, time.perf_counter() - start


def study(label, problem, schedule, t_max, reference_rule, rules):
    ref, t_ref = timed(problem, schedule, t_max, reference_rule)
    print(f"{label}: reference {reference_rule.name} in {t_ref:.1f}s, its own error indicator "
          f"{ref.gen_error_err.max():.2e}; {ref.message}", flush=True)
    rows = []
    for rule in rules:
        res, elapsed = timed(problem, schedule, t_max, rule)
        err = float(np.max(np.abs(res.gen_error - ref.gen_error)))
        rows.append({"schedule": label, **rule.params(), "time_s": elapsed, "sup_error": err,
                     "reported": float(res.gen_error_err.max())})
        print(f"  {rule.name:10s} {elapsed:8.2f}s  sup error {err:.2e}  reported {res.gen_error_err.max():.2e}", flush=True)
    return {"label": label, "t_max": t_max, "reference_error": float(ref.gen_error_err.max()),
            "reference_time_s": t_ref, "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t-max-gd", type=float, default=50.0)
    parser.add_argument("--t-max-psgd", type=float, default=20.0)
    parser.add_argument("--out", default="docs/precision")
    parser.add_argument("--replot", action="store_true", help="only redraw the PNG from the JSON")
    args = parser.parse_args(argv)
    if args.replot:
        with open(args.out + ".json") as fh:
            return plot(json.load(fh), args.out + ".png")
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
    qd.solve(problem, qd.SGD(0.5), eta=0.2, t_max=0.6, rule=qd.QMC(n_points=4, n_h0=2, n_replicates=2))  # compile

    quad = dict(indicator=False, accuracy_rule=SMALL_OBSERVER)
    studies = [
        study("GD (b = 1)", problem, qd.FullBatch(), args.t_max_gd,
              qd.Quadrature(level=7, **quad),
              [qd.MonteCarlo(n_samples=n, n_replicates=8, seed=1) for n in (256, 1024, 4096)]
              + [qd.QMC(n_points=n, n_h0=8, n_replicates=8, seed=1) for n in (16, 64, 256)]
              + [qd.Quadrature(level=L, **quad) for L in (3, 4, 5, 6)]),
        study("Persistent-SGD b = 0.3", problem, qd.PersistentSGD(0.3, 1 / 0.6), args.t_max_psgd,
              qd.QMC(n_points=1024, n_h0=8, n_replicates=16, seed=7),
              [qd.MonteCarlo(n_samples=n, n_replicates=8, seed=1) for n in (256, 1024, 4096)]
              + [qd.QMC(n_points=n, n_h0=8, n_replicates=8, seed=1) for n in (16, 64, 256)]
              + [qd.Quadrature(level=3, enumerate_up_to=0, n_paths=n, n_path_replicates=4, **quad)
                 for n in (16, 64)]),
    ]
    with open(args.out + ".json", "w") as fh:
        json.dump(studies, fh, indent=1)
    plot(studies, args.out + ".png")


def plot(studies, path):
    """Error versus wall time per rule (points sorted by time), one panel per schedule."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, s in zip(fig.subplots(1, 2), studies):
        for name, marker in (("montecarlo", "o"), ("qmc", "s"), ("quadrature", "^")):
            pts = sorted((r["time_s"], r["sup_error"]) for r in s["rows"] if r["rule"] == name)
            if pts:
                ax.loglog(*zip(*pts), marker=marker, label=name)
        if s["reference_error"] > 0:  # a deterministic reference reports no error of its own
            ax.axhline(s["reference_error"], color="grey", ls=":", label="reference's own s.e.")
        ax.set(title=f"{s['label']}, t <= {s['t_max']:g}", xlabel="wall time [s] (machine shared, loaded)",
               ylabel="sup_t |gen_error - reference|")
        ax.legend()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
