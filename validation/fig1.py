"""Reproduce both panels of the paper's Fig. 1: DMFT lines against d = 500 simulations.

Two-cluster model, alpha = 2, Delta = 0.5, logistic loss, eta = 0.2, R = 0.01.
  Left:  Persistent-SGD, 1/tau = 0.6, lambda = 0, b = 1, 0.3, 0.1. The paper's per-step (linear)
         law needs tau >= eta max(1, (1-b)/b), which fails at b = 0.1 (P(1 -> 0) = 1.08); that
         curve uses the exact one-step law of the continuous-time chain, and the legend says so.
         The b = 0.1 curve is also drawn (dashed, squares) with the paper's linear law whose
         off-probability is clipped at 1 (qd.ClippedLinearLaw: selection rate 0.107, not b), since
         that is what a direct simulation of the paper's update does: DMFT line and simulation.
  Right: full-batch gradient descent, lambda = 0, 0.1, 1.
DMFT: the deterministic rule qd.Quadrature (tolerance 1e-4 unless --tolerance), its ladder capped
at the library's standard rung unless --max-resolution (validation/_common.py, ladder_cap); line
with a band of +-2 times its refinement error estimate.
Simulation: symbols with +-1 s.e.m. bars.
Dashed grey: the Bayes-optimal error 0.5 erfc(sqrt(alpha / (2 Delta (alpha + Delta)))).
Insets: training accuracy.

Writes validation/out/fig1.png and validation/out/fig1.json (every curve). Each solve and
simulation is cached in validation/_cache/ (validation/_common.py's Cache, keyed by a hash of its
parameters), so a rerun only redraws.

    python validation/fig1.py                 # t_max = 50, 10 seeds at d = 500
    python validation/fig1.py --t-max 10 --seeds 2 --tolerance 1e-3   # quick look
"""

from __future__ import annotations

import sys

import _common as c
import quaddmft as qd
from quaddmft import plotting

ALPHA, DELTA, ETA, R = 2.0, 0.5, 0.2, 0.01
INV_TAU = 0.6
LEFT_B = (1.0, 0.3, 0.1)
CLIPPED_B = 0.1  # also drawn with the clipped linear law (the paper's simulation)
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


def curves(args):
    out = []

    def add(panel, label, lam, schedule, colour, style="-", marker="o"):
        problem = qd.Problem(qd.TwoCluster(ALPHA, DELTA), "logistic", lam=lam, R=R)
        rule = c.curve_rule(args, schedule, ETA, args.t_max)
        out.append(c.Curve(panel, label, problem, schedule, ETA, args.t_max, rule, args.d,
                           args.seeds, colour=colour, style=style, marker=marker, seed=args.seed))

    for b, colour in zip(LEFT_B, c.COLORS):
        schedule = persistent(b)
        add("left", f"b = {b:g} ({schedule.law.name} law)", 0.0, schedule, colour)
    # What a direct simulation of the paper's update does at b = 0.1: the linear law with the
    # off-probability clipped at 1 (selection rate 0.107, not b); DMFT and simulation of it.
    clipped = qd.PersistentSGD(CLIPPED_B, 1.0 / INV_TAU, law=qd.ClippedLinearLaw())
    chain = clipped.chain(ETA)
    rate = chain.p_on / (1.0 - chain.q)  # stationary P(s = 1)
    add("left", f"b = {CLIPPED_B:g} (linear law, P(1→0) clipped at 1: rate {rate:.3f})",
        0.0, clipped, "C3", style="--", marker="s")
    for lam, colour in zip(RIGHT_LAM, c.COLORS):
        add("right", f"λ = {lam:g}", lam, qd.FullBatch(), colour)
    return out


def draw(rows, args, png):
    # Legend (upper left, right of the steep early drop) and inset (upper right) sit above the
    # curves: past t ~ 8 every curve is below 0.13, and the y-range reaches 0.2.
    fig, axes, insets = plotting.new_figure(figsize=(13.0, 6.2), sharey=True,
                                            boxes=([0.65, 0.42, 0.33, 0.33],) * 2)
    bayes = qd.bayes_optimal_error(ALPHA, DELTA)
    for ax, inset, panel in zip(axes, insets, ("left", "right")):
        panel_rows = c.panel_rows(rows, panel)
        plotting.draw_curves(ax, inset, panel_rows)
        plotting.reference_line(ax, bayes, "Bayes-optimal")
        if any("simulation" in r for r in panel_rows):
            c.simulation_entry(ax, f"simulation, {c.sim_text(panel_rows)} (± 1 s.e.m.)")
        if any("simulation" in r and r["curve"].marker == "s" for r in panel_rows):
            c.simulation_entry(ax, "simulation of the clipped linear law", "s")
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        inset.set_xlim(0, args.t_max)
        c.fit_inset(inset, panel_rows)
        ax.legend(loc="upper left", bbox_to_anchor=(0.1, 1.0), fontsize=7)
    # Zoom on the region where the curves differ (the first steps fall from 0.5 within t ~ 1).
    axes[0].set_ylim(bayes - 0.008, 0.2)
    axes[0].set_ylabel("generalisation error")
    axes[0].set_title(
        f"Persistent-SGD, 1/τ = {INV_TAU:g}, λ = 0. Selection law named per curve: the paper's linear\n"
        f"law where valid (τ ≥ η·max(1, (1−b)/b)); b = {CLIPPED_B:g}: exact one-step law (solid) and "
        f"the\nlinear law with P(1→0) clipped at 1 (dashed: what a direct simulation of the paper does)",
        fontsize=8.5)
    axes[1].set_title("full-batch gradient descent", fontsize=9)
    sim_note = (f"symbols: simulation at d = {args.d}, {args.seeds} seeds (± 1 s.e.m.)"
                if args.seeds > 0 else "no simulation")
    fig.suptitle(
        f"Fig. 1: two-cluster, α = {ALPHA:g}, Δ = {DELTA:g}, logistic loss, η = {ETA:g}, "
        f"R = {R:g}; {sim_note}.\nLines: DMFT ({c.rule_text(rows[0]['curve'].rule, args)})",
        fontsize=9)
    plotting.save_figure(fig, png)  # atomic, 200 dpi
    return {"bayes_optimal_error": bayes}


def add_args(p):
    p.add_argument("--d", type=int, default=500, help="simulation dimension (default 500)")


def settings(args) -> dict:
    return {"alpha": ALPHA, "delta": DELTA, "eta": ETA, "R": R, "inv_tau": INV_TAU}


def main(argv=None) -> int:
    return c.run_figure("fig1", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX, add_args=add_args, settings_fn=settings)


if __name__ == "__main__":
    sys.exit(main())
