"""Reproduce both panels of the paper's Fig. 1: DMFT lines against d = 500 simulations.

Two-cluster model, alpha = 2, Delta = 0.5, logistic loss, eta = 0.2, R = 0.01.
  Left:  Persistent-SGD, 1/tau = 0.6, lambda = 0, b = 1, 0.3, 0.1. The paper's per-step (linear)
         law needs tau >= eta max(1, (1-b)/b), which fails at b = 0.1 (P(1 -> 0) = 1.08); that
         curve uses the exact one-step law of the continuous-time chain, and the legend says so.
  Right: full-batch gradient descent, lambda = 0, 0.1, 1.
DMFT: qmc rule (quaddmft.QMC's default size unless --points/--h0-nodes/--replicates), line with
a +-2 standard-error band. Simulation: symbols with +-1 s.e.m. bars.
Dashed grey: the Bayes-optimal error 0.5 erfc(sqrt(alpha / (2 Delta (alpha + Delta)))).
Insets: training accuracy.

Writes validation/out/fig1.png and validation/out/fig1.json (every curve). Each solve and
simulation is cached in validation/_cache/ (validation/_common.py's Cache, keyed by a hash of its
parameters), so a rerun only redraws.

    python validation/fig1.py                 # t_max = 50, 10 seeds at d = 500
    python validation/fig1.py --t-max 10 --seeds 2 --points 256   # quick look
"""

from __future__ import annotations

import sys

import _common as c
import quaddmft as qd
from quaddmft import plotting

ALPHA, DELTA, ETA, R = 2.0, 0.5, 0.2, 0.01
INV_TAU = 0.6
LEFT_B = (1.0, 0.3, 0.1)
RIGHT_LAM = (0.0, 0.1, 1.0)
SEEDS, T_MAX = 10, 50.0  # defaults of --seeds and --t-max


def persistent(b: float) -> qd.PersistentSGD:
    """The paper's linear law where it is valid at this eta, else the exact one-step law."""
    schedule = qd.PersistentSGD(b, 1.0 / INV_TAU, law=qd.LinearLaw())
    try:
        schedule.chain(ETA)
    except qd.ParameterError:
        schedule = qd.PersistentSGD(b, 1.0 / INV_TAU, law=qd.ExactLaw())
    return schedule


def make_rule(args) -> qd.QMC:
    sizes = {"n_points": args.points, "n_h0": args.h0_nodes, "n_replicates": args.replicates}
    return qd.QMC(seed=args.seed, **{k: v for k, v in sizes.items() if v is not None})


def curves(args):
    rule = make_rule(args)
    out = []

    def add(panel, label, lam, schedule, colour):
        problem = qd.Problem(qd.TwoCluster(ALPHA, DELTA), "logistic", lam=lam, R=R)
        out.append(c.Curve(panel, label, problem, schedule, ETA, args.t_max, rule, args.d,
                           args.seeds, colour=colour, seed=args.seed))

    for b, colour in zip(LEFT_B, c.COLORS):
        schedule = persistent(b)
        add("left", f"b = {b:g} ({schedule.law.name} law)", 0.0, schedule, colour)
    for lam, colour in zip(RIGHT_LAM, c.COLORS):
        add("right", f"λ = {lam:g}", lam, qd.FullBatch(), colour)
    return out


def draw(rows, args, png):
    fig, axes, insets = plotting.new_figure(figsize=(13.0, 5.2), sharey=True,
                                            boxes=([0.57, 0.5, 0.4, 0.4],) * 2)
    bayes = qd.bayes_optimal_error(ALPHA, DELTA)
    for ax, inset, panel in zip(axes, insets, ("left", "right")):
        plotting.draw_curves(ax, inset, c.panel_rows(rows, panel))
        plotting.reference_line(ax, bayes, "Bayes-optimal")
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        inset.set_xlim(0, args.t_max)
        ax.legend(loc="upper left", bbox_to_anchor=(0.1, 1.0), fontsize=8)
    # Zoom on the region where the curves differ (the first steps fall from 0.5 within t ~ 1).
    axes[0].set_ylim(bayes - 0.008, 0.2)
    axes[0].set_ylabel("generalisation error")
    axes[0].set_title(
        f"Persistent-SGD, 1/τ = {INV_TAU:g}, λ = 0\n"
        f"linear law where valid (τ ≥ η·max(1, (1−b)/b)), else exact one-step law", fontsize=9)
    axes[1].set_title("full-batch gradient descent", fontsize=9)
    sim_note = (f"symbols: simulation at d = {args.d}, {args.seeds} seeds (± 1 s.e.m.)"
                if args.seeds > 0 else "no simulation")
    rule = rows[0]["curve"].rule
    fig.suptitle(
        f"Fig. 1: two-cluster, α = {ALPHA:g}, Δ = {DELTA:g}, logistic loss, η = {ETA:g}, "
        f"R = {R:g}. Lines: DMFT ({c.rule_text(rule)}, band ± 2 s.e.); {sim_note}", fontsize=9)
    fig.savefig(png, dpi=130)
    return {"bayes_optimal_error": bayes}


def add_args(p):
    p.add_argument("--d", type=int, default=500, help="simulation dimension (default 500)")
    p.add_argument("--points", type=int,
                   help="qmc Sobol' points, a power of 2 (default: quaddmft.QMC's)")
    p.add_argument("--h0-nodes", type=int, help="qmc h0 nodes (default: quaddmft.QMC's)")
    p.add_argument("--replicates", type=int, help="qmc replicates (default: quaddmft.QMC's)")


def settings(args) -> dict:
    return {"alpha": ALPHA, "delta": DELTA, "eta": ETA, "R": R, "inv_tau": INV_TAU}


def main(argv=None) -> int:
    return c.run_figure("fig1", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX, add_args=add_args, settings_fn=settings)


if __name__ == "__main__":
    sys.exit(main())
