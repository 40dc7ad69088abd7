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
    rule = c.rule(seed=args.seed)
    out = []

    # P-SGD escapes slowly from m0 = 1.1e-3: a finer rule keeps the rule's own symmetry
    # breaking (see fig3.py) below m0.
    psgd_rule = c.rule(n_points=args.psgd_points, seed=args.seed)

    def add(panel, label, lam, schedule, colour):
        problem = qd.Problem(three, "logistic", lam=lam, R=R, m0=qd.FiniteDStart(D))
        r = rule if isinstance(schedule, qd.FullBatch) else psgd_rule
        out.append(c.Curve(panel, label, problem, schedule, ETA, args.t_max, r, D, args.seeds,
                           colour=colour, seed=args.seed))

    add("left", "GD, λ = 0.1", 0.1, qd.FullBatch(), "C0")
    for b, colour in ((0.3, "C1"), (0.2, "C2")):
        add("left", f"P-SGD b = 1/τ = {b:g}, λ = 0.1", 0.1,
            qd.PersistentSGD(b, 1.0 / b, law=qd.LinearLaw()), colour)
    for lam, colour in ((0.1, "C0"), (0.2, "C3"), (0.3, "C4")):
        add("right", f"GD, λ = {lam:g}", lam, qd.FullBatch(), colour)
    return out


def draw(rows, args, png):
    fig, axes, insets = plotting.new_figure()
    oracle = qd.oracle_error(DELTA)
    for ax, inset, panel in zip(axes, insets, ("left", "right")):
        plotting.draw_curves(ax, inset, c.panel_rows(rows, panel), inset_kind="C")
        plotting.reference_line(ax, oracle, "oracle error")
        ax.set_xlabel("t")
        ax.set_xlim(0, args.t_max)
        ax.set_ylim(0.0, 0.52)
        ax.legend(loc="upper left", bbox_to_anchor=(0.02, 0.8), fontsize=8)
        inset.set_xlim(0, args.t_max)
    axes[0].set_ylabel("generalisation error")
    axes[0].set_title(f"λ = 0.1: GD and Persistent-SGD (1/τ = b, linear law; P-SGD DMFT "
                      f"{args.psgd_points} pts)", fontsize=9)
    axes[1].set_title("full-batch GD, varying λ", fontsize=9)
    rule = rows[0]["curve"].rule
    fig.suptitle(
        f"Fig. 2: three-cluster door model, α = {ALPHA:g}, Δ = {DELTA:g}, L = {L:g}, "
        f"η = {ETA:g}, R = {R:g}.\nLines: DMFT ({c.rule_text(rule)}, ± 2 s.e.), "
        f"m0 = √(2R/πd) = {qd.finite_d_m0(R, D):.2e} (d = {D}); symbols: simulation at d = {D}, "
        f"{args.seeds} seeds (± 1 s.e.m.). Insets: C(t,t).", fontsize=8.5)
    fig.savefig(png, dpi=130)
    return {"oracle_error": oracle}


def main(argv=None) -> int:
    return c.run_figure("fig2", curves, draw, argv, __doc__.splitlines()[0], seeds=SEEDS,
                        t_max=T_MAX, add_args=add_args)


def add_args(p):
    p.add_argument("--psgd-points", type=int, default=512,
                   help="QMC points of the P-SGD DMFT curves (default 512; GD 128)")


if __name__ == "__main__":
    sys.exit(main())
