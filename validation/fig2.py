"""Reproduce both panels of the paper's Fig. 2: three-cluster door model, DMFT vs d = 5000.

alpha = 3, Delta = 0.05, L = 0.7, logistic loss on y phi(r), phi(r) = r^2 - L^2, eta = 0.2,
R = 0.01. The DMFT starts at the finite-d overlap m0 = sqrt(2 R / (pi d)) with d = 5000 (at
m0 = 0 the symmetric d -> infinity dynamics never leaves eps = 0.5); the simulations start from
w(0) ~ N(0, R I_d).
  Left:  lambda = 0.1; full-batch GD and Persistent-SGD with b = 1/tau = 0.2, 0.3 (linear law).
  Right: full-batch GD, lambda = 0.1, 0.2, 0.3.
Insets: the weight norm C(t,t) = |w|^2/d. Dashed: the three-cluster oracle error
(quaddmft.oracle_error(Delta): door classifier along v* with the best norm).
The paper gives no time range; t <= 30 here.
DMFT: the deterministic rule qd.Quadrature (tolerance 1e-4), band +-2 times its refinement
estimate; its ladder capped at the library's standard rung unless --max-resolution
(validation/_common.py, ladder_cap).

    python validation/fig2.py               # t_max = 30, 4 seeds at d = 5000
    python validation/fig2.py --t-max 10 --seeds 2   # quick look
"""

from __future__ import annotations

import sys

import _common as c
import quaddmft as qd
from quaddmft import plotting

ALPHA, DELTA, L, ETA, R, D = 3.0, 0.05, 0.7, 0.2, 0.01, 5000
SEEDS, T_MAX = 4, 30.0  # defaults of --seeds and --t-max


def curves(args):
    three = qd.ThreeCluster(ALPHA, DELTA, L)
    # The rule's node sets are exactly symmetric under w -> -w (Gauss-Hermite and Smolyak
    # nodes; antithetic Sobol' pairs), so the rule itself never seeds the escape from m ~ m0.
    out = []

    def add(panel, label, lam, schedule, colour):
        problem = qd.Problem(three, "logistic", lam=lam, R=R, m0=qd.FiniteDStart(D))
        r = c.curve_rule(args, schedule, ETA, args.t_max)
        out.append(c.Curve(panel, label, problem, schedule, ETA, args.t_max, r, D, args.seeds,
                           colour=colour, seed=args.seed))

    add("left", "GD, λ = 0.1", 0.1, qd.FullBatch(), "C0")
    for b, colour in ((0.3, "C1"), (0.2, "C2")):
        add("left", f"P-SGD b = 1/τ = {b:g} (linear law)", 0.1,
            qd.PersistentSGD(b, 1.0 / b, law=qd.LinearLaw()), colour)
    for lam, colour in ((0.1, "C0"), (0.2, "C3"), (0.3, "C4")):
        add("right", f"GD, λ = {lam:g}", lam, qd.FullBatch(), colour)
    return out


def draw(rows, args, png):
    # The curves and error bars stay below 0.52: the y-axis goes to 1 and the legend (upper
    # left) and inset (upper right) use the empty upper half, so they hide nothing.
    fig, axes, insets = plotting.new_figure(figsize=(13.0, 6.0),
                                            boxes=([0.58, 0.57, 0.4, 0.4],) * 2)
    oracle = qd.oracle_error(DELTA)
    for ax, inset, panel in zip(axes, insets, ("left", "right")):
        panel_rows = c.panel_rows(rows, panel)
        plotting.draw_curves(ax, inset, panel_rows, inset_kind="C")
        plotting.reference_line(ax, oracle, "oracle error")
        if any("simulation" in r for r in panel_rows):
            c.simulation_entry(ax, f"simulation, {c.sim_text(panel_rows)} (± 1 s.e.m.)")
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        ax.set_ylim(0.0, 1.0)
        ax.set_yticks([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
        ax.legend(loc="upper left", fontsize=7)
        inset.set_xlim(0, args.t_max)
        c.fit_inset(inset, panel_rows, "C")
    axes[0].set_ylabel("generalisation error")
    axes[0].set_title("λ = 0.1: GD and Persistent-SGD (1/τ = b, linear law)", fontsize=9)
    axes[1].set_title("full-batch GD, varying λ", fontsize=9)
    fig.suptitle(
        f"Fig. 2: three-cluster door model, α = {ALPHA:g}, Δ = {DELTA:g}, L = {L:g}, "
        f"η = {ETA:g}, R = {R:g}; symbols: simulation at d = {D}, {args.seeds} seeds "
        f"(± 1 s.e.m.); insets: C(t,t).\nLines: DMFT from m0 = √(2R/πd) = "
        f"{qd.finite_d_m0(R, D):.2e} (d = {D}), {c.rule_text(rows[0]['curve'].rule, args)}",
        fontsize=8.5)
    plotting.save_figure(fig, png)  # atomic, 200 dpi
    return {"oracle_error": oracle}


def main(argv=None) -> int:
    return c.run_figure("fig2", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX)


if __name__ == "__main__":
    sys.exit(main())
