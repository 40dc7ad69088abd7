"""Reproduce both panels of the paper's Fig. 4: the role of the initial variance R (full-batch GD).

Left:  two-cluster, alpha = 2, Delta = 0.5, lambda = 0, eta = 0.2, R = 0, 0.01, 0.1, 1, 5;
       simulations at d = 500; dashed: the Bayes-optimal error (R = 0 reaches it at t = eta).
Right: three-cluster door model, alpha = 3, Delta = 0.1, lambda = 0, eta = 0.1,
       R = 0.01, 0.5, 5; simulations at d = 1000. The paper does not state L: L = 0.7 here (as in
       its Figs. 2-3), said on the plot. DMFT from m0 = sqrt(2 R / (pi d)), d = 1000.
       Dashed: the three-cluster oracle error.
Insets: training accuracy. The paper gives no time range; t <= 40 (left), t <= 20 (right).
DMFT: the deterministic rule qd.Quadrature (tolerance 1e-4), band +-2 times its refinement
estimate; its ladder capped at the library's standard rung unless --max-resolution
(validation/_common.py, ladder_cap).

    python validation/fig4.py
    python validation/fig4.py --t-max 10 --t-max-right 5 --seeds 2   # quick look
"""

from __future__ import annotations

import sys

import _common as c
import quaddmft as qd
from quaddmft import plotting

LEFT = dict(alpha=2.0, delta=0.5, eta=0.2, R=(0.0, 0.01, 0.1, 1.0, 5.0), d=500)
RIGHT = dict(alpha=3.0, delta=0.1, L=0.7, eta=0.1, R=(0.01, 0.5, 5.0), d=1000)
SEEDS, T_MAX = 8, 40.0  # defaults of --seeds and --t-max


def curves(args):
    rule = c.curve_rule(args, qd.FullBatch(), LEFT["eta"], args.t_max)
    right_rule = c.curve_rule(args, qd.FullBatch(), RIGHT["eta"], args.t_max_right)
    out = []
    two = qd.TwoCluster(LEFT["alpha"], LEFT["delta"])
    for R, colour in zip(LEFT["R"], c.COLORS):
        problem = qd.Problem(two, "logistic", lam=0.0, R=R)
        out.append(c.Curve("left", f"R = {R:g}", problem, qd.FullBatch(), LEFT["eta"],
                           args.t_max, rule, LEFT["d"], args.seeds, colour=colour,
                           seed=args.seed))
    three = qd.ThreeCluster(RIGHT["alpha"], RIGHT["delta"], RIGHT["L"])
    for R, colour in zip(RIGHT["R"], c.COLORS):
        problem = qd.Problem(three, "logistic", lam=0.0, R=R, m0=qd.FiniteDStart(RIGHT["d"]))
        out.append(c.Curve("right", f"R = {R:g} (m0 = {problem.m0:.4f})", problem,
                           qd.FullBatch(), RIGHT["eta"], args.t_max_right, right_rule, RIGHT["d"],
                           args.seeds, colour=colour, seed=args.seed))
    return out


def draw(rows, args, png):
    # Left: past t ~ 7 every curve is below 0.135, so the legend and the inset go in the band
    # above it, right of the steep early drops (y up to 0.2). Right: the curves stay below 0.52;
    # the y-axis goes to 1 and the legend and inset use the empty upper half.
    fig, axes, insets = plotting.new_figure(figsize=(13.0, 6.0),
                                            boxes=([0.67, 0.45, 0.31, 0.5],
                                                   [0.6, 0.56, 0.38, 0.41]))
    bayes = qd.bayes_optimal_error(LEFT["alpha"], LEFT["delta"])
    oracle = qd.oracle_error(RIGHT["delta"])
    left, right = c.panel_rows(rows, "left"), c.panel_rows(rows, "right")
    plotting.draw_curves(axes[0], insets[0], left)
    plotting.draw_curves(axes[1], insets[1], right)
    plotting.reference_line(axes[0], bayes, "Bayes-optimal")
    plotting.reference_line(axes[1], oracle, "oracle error")
    for ax, panel_rows in ((axes[0], left), (axes[1], right)):
        if any("simulation" in r for r in panel_rows):
            c.simulation_entry(ax, f"simulation, {c.sim_text(panel_rows)} (± 1 s.e.m.)")
    axes[0].set_xlim(0, args.t_max)
    insets[0].set_xlim(0, args.t_max)
    axes[1].set_xlim(0, args.t_max_right)
    insets[1].set_xlim(0, args.t_max_right)
    c.fit_inset(insets[0], left)
    c.fit_inset(insets[1], right)
    axes[0].set_ylim(bayes - 0.005, 0.2)  # y-axis cut, as in the paper
    axes[1].set_ylim(0.0, 1.0)
    axes[1].set_yticks([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    axes[0].legend(loc="upper left", bbox_to_anchor=(0.16, 1.0), fontsize=7)
    axes[1].legend(loc="upper left", fontsize=7)
    for ax in axes:
        ax.set_xlabel("t")
    axes[0].set_ylabel("generalisation error")
    axes[0].set_title(f"two clusters, α = {LEFT['alpha']:g}, Δ = {LEFT['delta']:g}, λ = 0, "
                      f"η = {LEFT['eta']:g}; d = {LEFT['d']}, {args.seeds} seeds "
                      f"(y-axis cut)", fontsize=9)
    axes[1].set_title(f"three clusters, α = {RIGHT['alpha']:g}, Δ = {RIGHT['delta']:g}, "
                      f"L = {RIGHT['L']:g} (not stated in the paper; chosen here), λ = 0, "
                      f"η = {RIGHT['eta']:g}\nd = {RIGHT['d']}, {args.seeds} seeds; DMFT from "
                      f"m0 = √(2R/πd)", fontsize=9)
    fig.suptitle(f"Fig. 4: full-batch GD, varying the initial variance R; symbols: simulation "
                 f"(± 1 s.e.m.); insets: training accuracy.\nLines: DMFT "
                 f"({c.rule_text(rows[0]['curve'].rule, args)})", fontsize=9)
    plotting.save_figure(fig, png)  # atomic, 200 dpi
    return {"bayes_optimal_error": bayes, "oracle_error": oracle, "L_right": RIGHT["L"]}


def add_args(p):
    p.add_argument("--t-max-right", type=float, default=20.0,
                   help="horizon of the right panel (default 20; eta = 0.1 there)")


def main(argv=None) -> int:
    return c.run_figure("fig4", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX, add_args=add_args)


if __name__ == "__main__":
    sys.exit(main())
