"""Reproduce both panels of the paper's Fig. 1: DMFT lines against d = 500 simulations.

Two-cluster model, alpha = 2, Delta = 0.5, logistic loss, eta = 0.2, R = 0.01.
  Left:  Persistent-SGD, 1/tau = 0.6, lambda = 0, b = 1, 0.3, 0.1. The paper's per-step (linear)
         law needs tau >= eta max(1, (1-b)/b), which fails at b = 0.1 (P(1 -> 0) = 1.08); that
         curve uses the exact one-step law of the continuous-time chain, and the legend says so.
  Right: full-batch gradient descent, lambda = 0, 0.1, 1.
DMFT: qmc rule, line with a +-2 standard-error band. Simulation: symbols with +-1 s.e.m. bars.
Dashed grey: the Bayes-optimal error 0.5 erfc(sqrt(alpha / (2 Delta (alpha + Delta)))).
Insets: training accuracy.

Writes validation/out/fig1.png and validation/out/fig1.json (every curve). Each solve and
simulation is cached in validation/_cache/ (``res.save``/``qd.load``), keyed by a hash of its
parameters (validation/_common.py's Cache), so a rerun only redraws.

    python validation/fig1.py                 # t_max = 50, 10 seeds at d = 500
    python validation/fig1.py --t-max 10 --seeds 2 --points 256   # quick look
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import quaddmft as qd  # noqa: E402
from _common import SOLVER_VERSION, Cache  # noqa: E402
from quaddmft._errors import ParameterError  # noqa: E402

ALPHA, DELTA, ETA, R = 2.0, 0.5, 0.2, 0.01
INV_TAU = 0.6
LEFT_B = (1.0, 0.3, 0.1)
RIGHT_LAM = (0.0, 0.1, 1.0)
COLORS = ("C0", "C1", "C2")


def bayes_optimal_error(alpha: float, delta: float) -> float:
    return qd.bayes_optimal_error(alpha, delta)


def persistent(b: float) -> qd.PersistentSGD:
    """The paper's linear law where it is valid at this eta, else the exact one-step law."""
    schedule = qd.PersistentSGD(b, 1.0 / INV_TAU, law="linear")
    try:
        schedule.chain(ETA)
    except ParameterError:
        schedule = qd.PersistentSGD(b, 1.0 / INV_TAU, law="exact")
    return schedule


def curves():
    """(panel, label, problem, schedule) for the six curves of the figure."""
    out = []
    for b in LEFT_B:
        problem = qd.Problem(qd.TwoCluster(ALPHA, DELTA), "logistic", lam=0.0, R=R)
        schedule = persistent(b)
        out.append(("left", f"b = {b:g} ({schedule.law} law)", problem, schedule))
    for lam in RIGHT_LAM:
        problem = qd.Problem(qd.TwoCluster(ALPHA, DELTA), "logistic", lam=lam, R=R)
        out.append(("right", f"λ = {lam:g}", problem, qd.FullBatch()))
    return out


def make_rule(args) -> qd.QMC:
    sizes = {"n_points": args.points, "n_h0": args.h0_nodes, "n_replicates": args.replicates}
    return qd.QMC(seed=args.seed, **{k: v for k, v in sizes.items() if v is not None})


def compute(args):
    cache = Cache(HERE / "_cache", not args.no_cache)  # validation/_common.py
    rule = make_rule(args)
    todo = curves()
    rows = []
    for i, (panel, label, problem, schedule) in enumerate(todo, 1):
        base = {"problem": problem.params(), "schedule": schedule.params(), "eta": ETA,
                "t_max": args.t_max}
        row = {"panel": panel, "label": label, "law": getattr(schedule, "law", None)}
        jobs = [("dmft", {**base, "kind": "dmft", "solver": SOLVER_VERSION, "rule": rule.params()},
                 lambda: qd.solve(problem, schedule, eta=ETA, t_max=args.t_max, rule=rule,
                                  progress=args.progress))]
        if args.seeds > 0:
            jobs.append(("simulation",
                         {**base, "kind": "simulation", "d": args.d, "seeds": args.seeds,
                          "seed": args.seed},
                         lambda: qd.simulate(problem, schedule, eta=ETA, t_max=args.t_max,
                                             d=args.d, seeds=args.seeds, seed=args.seed,
                                             progress=args.progress)))
        for kind, key, run in jobs:
            start = time.perf_counter()
            what = f"[{i}/{len(todo)}] {panel:5s} {label:24s} {kind:10s}"
            if sys.stderr.isatty():
                print(f"{what} ...", file=sys.stderr, flush=True)
            result, cached = cache.get_or_run(key, run)
            note = "cached" if cached else f"{time.perf_counter() - start:.1f} s"
            print(f"{what} {note}; final gen_error {result.gen_error[-1]:.4f}",
                  file=sys.stderr, flush=True)
            row[kind] = result
        rows.append(row)
    return rows


def draw(rows, bayes: float, args, path: Path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rule = make_rule(args)
    fig = Figure(figsize=(13.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = dict(zip(("left", "right"), fig.subplots(1, 2, sharey=True)))
    insets = {name: ax.inset_axes([0.57, 0.5, 0.4, 0.4]) for name, ax in axes.items()}
    colour_index = {"left": 0, "right": 0}
    for row in rows:
        panel = row["panel"]
        ax, inset = axes[panel], insets[panel]
        colour = COLORS[colour_index[panel] % len(COLORS)]
        colour_index[panel] += 1
        res = row["dmft"]
        t = res.t
        ax.plot(t, res.gen_error, color=colour, lw=1.5, label=f"{row['label']}")
        ax.fill_between(t, res.gen_error - 2 * res.gen_error_err,
                        res.gen_error + 2 * res.gen_error_err, color=colour, alpha=0.3, lw=0)
        inset.plot(t, res.train_accuracy, color=colour, lw=1.2)
        inset.fill_between(t, res.train_accuracy - 2 * res.train_accuracy_err,
                           res.train_accuracy + 2 * res.train_accuracy_err, color=colour,
                           alpha=0.3, lw=0)
        sim = row.get("simulation")
        if sim is not None:
            # symbols every ~t_max/25 time units, as in the paper
            every = max(1, round(sim.t.size / 25))
            sl = slice(0, None, every)
            ax.errorbar(sim.t[sl], sim.gen_error[sl], yerr=sim.gen_error_sem[sl], fmt="o",
                        ms=4, mfc="none", color=colour, capsize=2, lw=0.8)
            inset.errorbar(sim.t[sl], sim.train_accuracy[sl], yerr=sim.train_accuracy_sem[sl],
                           fmt="o", ms=2.5, mfc="none", color=colour, lw=0.6)
    for name, ax in axes.items():
        ax.axhline(bayes, ls="--", color="grey", lw=1, label=f"Bayes-optimal ({bayes:.4f})")
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        insets[name].set_xlim(0, args.t_max)
        insets[name].set_xlabel("t", fontsize=8)
        insets[name].set_ylabel("train accuracy", fontsize=8)
        insets[name].tick_params(labelsize=7)
        ax.legend(loc="upper left", bbox_to_anchor=(0.1, 1.0), fontsize=8)
    # Zoom on the region where the curves differ (the first steps fall from 0.5 within t ~ 1).
    axes["left"].set_ylim(bayes - 0.008, 0.2)
    axes["left"].set_ylabel("generalisation error")
    sim_note = (f"symbols: simulation at d = {args.d}, {args.seeds} seeds (± 1 s.e.m.)"
                if args.seeds > 0 else "no simulation")
    axes["left"].set_title(
        f"Persistent-SGD, 1/τ = {INV_TAU:g}, λ = 0\n"
        f"linear law where valid (τ ≥ η·max(1, (1−b)/b)), else exact one-step law", fontsize=9)
    axes["right"].set_title("full-batch gradient descent", fontsize=9)
    fig.suptitle(
        f"Fig. 1: two-cluster, α = {ALPHA:g}, Δ = {DELTA:g}, logistic loss, η = {ETA:g}, R = {R:g}. "
        f"Lines: DMFT (qmc, {rule.n_points} points × {rule.n_h0} h0 nodes × "
        f"{rule.n_replicates} replicates, band ± 2 s.e.); {sim_note}", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Reproduce the paper's Fig. 1 (DMFT vs d = 500 simulations, both panels).",
        allow_abbrev=False)
    parser.add_argument("--t-max", type=float, default=50.0, help="time horizon (default 50)")
    parser.add_argument("--seeds", type=int, default=10,
                        help="simulation seeds per curve (default 10; 0: DMFT only)")
    parser.add_argument("--d", type=int, default=500, help="simulation dimension (default 500)")
    parser.add_argument("--points", type=int,
                        help="qmc Sobol' points, a power of 2 (default: quaddmft.QMC's)")
    parser.add_argument("--h0-nodes", type=int, help="qmc h0 nodes (default: quaddmft.QMC's)")
    parser.add_argument("--replicates", type=int,
                        help="qmc replicates (default: quaddmft.QMC's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of rule and simulation")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output directory")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write validation/_cache/")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bars of the solver and simulator (default on)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        make_rule(args)
        rows = compute(args)
    except ParameterError as exc:
        print(f"fig1: error: {exc}", file=sys.stderr)
        return 2
    bayes = bayes_optimal_error(ALPHA, DELTA)
    png, js = args.out / "fig1.png", args.out / "fig1.json"
    draw(rows, bayes, args, png)
    record = {
        "settings": {"alpha": ALPHA, "delta": DELTA, "eta": ETA, "R": R, "inv_tau": INV_TAU,
                     **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}},
        "bayes_optimal": bayes,
        "curves": [
            {"panel": row["panel"], "label": row["label"], "law": row["law"],
             **{kind: row[kind].to_json_dict() for kind in ("dmft", "simulation") if kind in row}}
            for row in rows
        ],
    }
    js.write_text(json.dumps(record))
    print(f"fig1: wrote {png} and {js} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
