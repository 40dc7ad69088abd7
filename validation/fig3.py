"""Reproduce both panels of the paper's Fig. 3.

Left: three-cluster door model, alpha = 2, Delta = 0.05, L = 0.7, lambda = 0, eta = 0.2, R = 1;
      full-batch GD and Persistent-SGD with b = 1/tau = 0.3 (linear law), simulated at
      d = 500, 1000, 5000, 10000 (``--dims``). The d -> infinity DMFT depends on d only through
      its start m0 = sqrt(2 R / (pi d)) (at m0 = 0 the symmetric dynamics never leaves
      eps = 0.5), so there is one DMFT line per d, drawn in the colour of its simulation.
      Dashed: the three-cluster oracle error.
Right: two-cluster, alpha = 2, Delta = 0.5, lambda = 0, eta = 0.2, R = 0.01, b = 0.3:
      Persistent-SGD with 1/tau = 0.15, 0.3, 0.6 (linear law) and classical SGD (i.i.d.
      Bernoulli(b) batches: the DMFT uses the same discrete law, the paper's "SGD-inspired
      discretisation"), simulations at d = 500. Dashed: the Bayes-optimal error.
Insets: training accuracy. The paper gives no time range; t <= 30 here.
DMFT: the deterministic rule qd.Quadrature (tolerance 1e-4), band +-2 times its refinement
estimate; its ladder capped at the library's standard rung unless --max-resolution
(validation/_common.py, ladder_cap).

    python validation/fig3.py                            # defaults below
    python validation/fig3.py --dims 500 1000 --t-max 10 --seeds 2   # quick look
"""

from __future__ import annotations

import sys

import _common as c
import quaddmft as qd
from quaddmft import plotting

LEFT = dict(alpha=2.0, delta=0.05, L=0.7, eta=0.2, R=1.0)
RIGHT = dict(alpha=2.0, delta=0.5, eta=0.2, R=0.01, b=0.3)
DIM_COLOURS = {500: "C0", 1000: "C1", 5000: "C2", 10000: "C3"}
SEEDS, T_MAX = 8, 30.0  # defaults of --seeds and --t-max


def seeds_at(d: int, args) -> int:
    return args.seeds if d <= 1000 else args.seeds_large


def curves(args):
    out = []
    three = qd.ThreeCluster(LEFT["alpha"], LEFT["delta"], LEFT["L"])
    # Every node set of the rule is exactly symmetric under w -> -w (Gauss-Hermite and Smolyak
    # nodes; antithetic Sobol' pairs), so the rule itself never seeds the escape from m ~ m0.
    for d in args.dims:
        colour = DIM_COLOURS.get(d, "k")
        for name, schedule, style, marker in (
                ("GD", qd.FullBatch(), "-", "o"),
                ("P-SGD linear law",
                 qd.PersistentSGD(0.3, 1 / 0.3, law=qd.LinearLaw()), "--", "s")):
            r = c.curve_rule(args, schedule, LEFT["eta"], args.t_max)
            problem = qd.Problem(three, "logistic", lam=0.0, R=LEFT["R"], m0=qd.FiniteDStart(d))
            out.append(c.Curve("left", f"{name}, d = {d}", problem, schedule, LEFT["eta"],
                               args.t_max, r, d, seeds_at(d, args), colour=colour,
                               style=style, marker=marker, seed=args.seed))
    two = qd.TwoCluster(RIGHT["alpha"], RIGHT["delta"])
    b = RIGHT["b"]
    for label, schedule, colour in (
            ("P-SGD (linear law) 1/τ = 0.15", qd.PersistentSGD(b, 1 / 0.15, law=qd.LinearLaw()), "C0"),
            ("P-SGD (linear law) 1/τ = 0.3", qd.PersistentSGD(b, 1 / 0.3, law=qd.LinearLaw()), "C1"),
            ("P-SGD (linear law) 1/τ = 0.6", qd.PersistentSGD(b, 1 / 0.6, law=qd.LinearLaw()), "C2"),
            ("SGD", qd.SGD(b), "C3")):
        problem = qd.Problem(two, "logistic", lam=0.0, R=RIGHT["R"])
        rule = c.curve_rule(args, schedule, RIGHT["eta"], args.t_max)
        out.append(c.Curve("right", f"{label}, b = {b:g}", problem, schedule, RIGHT["eta"],
                           args.t_max, rule, 500, args.seeds, colour=colour, seed=args.seed))
    return out


def draw(rows, args, png):
    # Left: the curves and error bars stay below 0.52; the y-axis goes to 1 and the legend
    # (upper left) and inset (upper right) use the empty upper half. Right: past
    # t ~ 1 every curve is below 0.16; legend and inset sit above, right of the early drop.
    fig, axes, insets = plotting.new_figure(figsize=(14.0, 6.4),
                                            boxes=([0.62, 0.56, 0.36, 0.41],
                                                   [0.62, 0.45, 0.36, 0.38]))
    oracle = qd.oracle_error(LEFT["delta"])
    bayes = qd.bayes_optimal_error(RIGHT["alpha"], RIGHT["delta"])
    left, right = c.panel_rows(rows, "left"), c.panel_rows(rows, "right")
    plotting.draw_curves(axes[0], insets[0], left)
    plotting.draw_curves(axes[1], insets[1], right)
    plotting.reference_line(axes[0], oracle, "oracle error")
    plotting.reference_line(axes[1], bayes, "Bayes-optimal")
    if any("simulation" in r for r in left):
        c.simulation_entry(axes[0], "simulation of GD (± 1 s.e.m.)", "o")
        c.simulation_entry(axes[0], "simulation of P-SGD (± 1 s.e.m.)", "s")
    if any("simulation" in r for r in right):
        c.simulation_entry(axes[1], f"simulation, {c.sim_text(right)} (± 1 s.e.m.)")
    for ax, inset in zip(axes, insets):
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        inset.set_xlim(0, args.t_max)
    c.fit_inset(insets[0], left)
    c.fit_inset(insets[1], right)
    axes[0].set_ylim(0.0, 1.0)
    axes[0].set_yticks([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    axes[0].legend(loc="upper left", fontsize=6.5)
    axes[1].set_ylim(bayes - 0.01, 0.25)
    axes[1].legend(loc="upper left", bbox_to_anchor=(0.1, 1.0), fontsize=7.5)
    axes[0].set_ylabel("generalisation error")
    ds = sorted({r["curve"].d for r in left})
    axes[0].set_title(
        f"three clusters, α = {LEFT['alpha']:g}, Δ = {LEFT['delta']:g}, L = {LEFT['L']:g}, λ = 0, "
        f"R = {LEFT['R']:g}; solid GD, dashed P-SGD b = 1/τ = 0.3 (linear law)\n"
        f"DMFT from m0 = √(2R/πd): {c.finite_d_note(LEFT['R'], ds)}\nseeds: "
        + ", ".join(f"{seeds_at(d, args)} at d={d}" for d in ds), fontsize=8)
    axes[1].set_title(
        f"two clusters, α = {RIGHT['alpha']:g}, Δ = {RIGHT['delta']:g}, λ = 0, R = {RIGHT['R']:g}, "
        f"b = {b_text()}\nP-SGD linear law, SGD i.i.d. batches; d = 500, {args.seeds} seeds",
        fontsize=8)
    fig.suptitle(f"Fig. 3 (η = 0.2). Lines: DMFT ({c.rule_text(rows[0]['curve'].rule, args)});\n"
                 f"symbols: simulation (± 1 s.e.m.). Insets: training accuracy.", fontsize=9)
    plotting.save_figure(fig, png)  # atomic, 200 dpi
    return {"oracle_error": oracle, "bayes_optimal_error": bayes}


def b_text():
    return f"{RIGHT['b']:g}"


def add_args(p):
    p.add_argument("--dims", type=int, nargs="+", default=[500, 1000, 5000, 10000],
                   help="simulation dimensions of the left panel (default 500 1000 5000 10000)")
    p.add_argument("--seeds-large", type=int, default=4,
                   help="seeds at d > 1000 in the left panel (default 4)")


def main(argv=None) -> int:
    return c.run_figure("fig3", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX, add_args=add_args)


if __name__ == "__main__":
    sys.exit(main())
