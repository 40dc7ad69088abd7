"""Long horizons: full-batch GD to t = 1e4 in the continuous-time limit, and ridge to its fixed point.

Left: two clusters, alpha = 2, Delta = 0.5, logistic loss, lambda = 0 (the setting of the
paper's Fig. 4 left), R = 0, 0.01, 1: the continuous-time DMFT (gradient flow:
``qd.ContinuousTime`` on a graded ladder, docs/theory.md section 9) on a log time axis to
t = 1e4, with its error band; dashed, the max-margin error 0.1672 (the t -> infinity limit of
unregularised GD on separable data, which the paper's Fig. 4 text claims every initialisation
reaches) and the Bayes-optimal error. Symbols: finite-d simulations of GD on the finest grid of
the ladder (a schedule of steps, the same discrete dynamics as the finest DMFT level) at
d = 1000 and 2000 to t = 1000.
Right: ridge lambda = 0.1, the same R: the gap |eps_gen(t) - eps_static| on log-log axes, with
eps_static the minimiser's test error from the replica saddle point (``quaddmft.statics``);
simulation gaps level off at their finite-d distance from it.

Checks recorded in out/long_time.json (and in REPORT.md): the late-time trend (GD: eps_gen
increasing towards the max-margin error over t >= 10; ridge: the gap decreasing while it is above
the error estimate), the ridge result at the horizon against the statics, the observed orders of
each ladder, its wall time, and sup |finest level - simulation| with the simulation's s.e.m.

    python validation/long_time.py                 # t = 1e4 (GD), 200 (ridge); hours on 2 cores
    python validation/long_time.py --t-max 1000 --t-max-ridge 150 --seeds 2   # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _common as c
import numpy as np

import quaddmft as qd
from quaddmft import plotting

ALPHA, DELTA = 2.0, 0.5
R_VALUES = (0.0, 0.01, 1.0)
MAX_MARGIN_ERROR = 0.1672  # the value for alpha = 2, Delta = 0.5
RIDGE = 0.1
VERSION = 1  # part of every cache key of this script
# Part of the DMFT keys only. 2: the built-in modal ladder changed (rung 1 at level 4 with costs
# (1, 1, 1, 2), then DIRECT_RUNG beyond LONG_HORIZON steps, 2026-12-02), which the rule's params
# do not show; the simulations did not change.
LADDER_VERSION = 2


def ladder(args, ridge: bool) -> qd.ContinuousTime:
    # Ridge: the coarse step is capped (the explicit steps stay stable at the fixed point,
    # eta < 2 / (lambda + max Lambda'' x_+) = 2.4 here).
    return qd.ContinuousTime(step=args.step * (2 if ridge else 1), levels=args.levels,
                             growth=args.growth, max_step=args.max_step_ridge if ridge else None)


def rule(args) -> qd.Quadrature:
    return qd.Quadrature(resolution=args.resolution)


def _key(kind: str, **parts) -> dict:
    return {"kind": kind, "version": VERSION, **parts}


def solve_curve(problem, time_model, t_max, args, cache):
    key = _key("dmft-continuous", problem=problem.params(), time=time_model.params(),
               t_max=t_max, rule=rule(args).params(), ladder=LADDER_VERSION)
    return cache.get_or_run(key, lambda: qd.solve(problem, t_max=t_max, time=time_model,
                                                  rule=rule(args), progress=args.progress))


def simulation_steps(time_model, t_max, t_sim) -> np.ndarray:
    """The steps of the finest grid of the ladder up to its last point <= t_sim."""
    fine = time_model.grids(t_max)[-1]
    return np.diff(fine[fine <= t_sim * (1 + 1e-12)])


def simulate_curve(problem, time_model, t_max, t_sim, d, args, cache):
    steps = simulation_steps(time_model, t_max, t_sim)
    key = _key("simulation-schedule", problem=problem.params(), time=time_model.params(),
               t_max=t_max, t_sim=t_sim, d=d, seeds=args.seeds, seed=args.seed)
    return cache.get_or_run(key, lambda: qd.simulate(problem, eta=steps, d=d, seeds=args.seeds,
                                                     seed=args.seed, progress=args.progress))


def compute(args, cache):
    rows = []
    for ridge in (False, True):
        lam, t_max = (RIDGE, args.t_max_ridge) if ridge else (0.0, args.t_max)
        model = ladder(args, ridge)
        for R, colour in zip(R_VALUES, c.COLORS):
            if args.only and f"{'ridge' if ridge else 'gd'}-{R:g}" not in args.only:
                continue
            problem = qd.Problem(qd.TwoCluster(ALPHA, DELTA), "logistic", lam=lam, R=R)
            label = f"R = {R:g}"
            started = time.perf_counter()
            dmft, cached = solve_curve(problem, model, t_max, args, cache)
            print(f"long_time: {'ridge' if ridge else 'GD'} {label}: DMFT "
                  f"{'cached' if cached else f'{time.perf_counter() - started:.0f} s'}",
                  file=sys.stderr, flush=True)
            sims = {}
            for d in (args.ds if args.seeds else ()):
                sims[d], _ = simulate_curve(problem, model, t_max, min(args.t_sim, t_max), d,
                                            args, cache)
            rows.append({"ridge": ridge, "R": R, "label": label, "colour": colour,
                         "dmft": dmft, "simulations": sims, "model": model})
    return rows


def finest_level(dmft) -> dict:
    levels = [h for h in dmft.history if str(h.get("stage", "")).startswith("level")]
    return {name: np.asarray(v) for name, v in levels[-1]["curves"].items()}


def checks(row, statics) -> dict:
    """The numbers of the module docstring for one curve."""
    res = row["dmft"]
    t, eps, err = res.t, res.gen_error, res.gen_error_err
    out = {"R": row["R"], "ridge": row["ridge"], "t_max": float(t[-1]),
           "wall_time_s": res.wall_time, "level_K": res.params["level_K"],
           "observed_orders_gen_error": res.params["observed_orders"]["gen_error"],
           "sup_error_estimate": float(err.max()), "final_gen_error": float(eps[-1]),
           "final_error_estimate": float(err[-1])}
    late = t >= 10.0
    if row["ridge"]:
        gap = np.abs(eps - statics.gen_error)
        resolved = late & (gap > err)
        out["gap_at_horizon"] = float(gap[-1])
        out["gap_monotone_where_resolved"] = bool(np.all(np.diff(gap[resolved]) <= 0))
        out["statics_gen_error"] = statics.gen_error
        out["agrees_with_statics_1e-6"] = bool(gap[-1] <= 1e-6)
    else:
        out["monotone_increasing_after_t10"] = bool(np.all(np.diff(eps[late]) >= -err[late][1:]))
        out["distance_to_max_margin_at_horizon"] = float(MAX_MARGIN_ERROR - eps[-1])
    fine = finest_level(res)
    for d, sim in row["simulations"].items():
        n = sim.t.size
        stride = 2 ** (len(res.params["level_K"]) - 1)
        coarse = sim.t[::stride]
        k = coarse.size
        np.testing.assert_allclose(coarse, t[:k], rtol=1e-12, atol=1e-12)
        diff = np.abs(fine["gen_error"][:k] - sim.gen_error[::stride])
        sem = sim.gen_error_err[::stride]
        keep = coarse >= 1.0
        worst = int(np.argmax(np.where(keep, diff, -1.0)))
        out[f"sim_d{d}"] = {"t_max": float(sim.t[n - 1]), "seeds": sim.params["seeds"],
                            "sup_diff_t_ge_1": float(diff[worst]), "at_t": float(coarse[worst]),
                            "sem_there": float(sem[worst]),
                            "z_max_t_ge_1": float(np.max(diff[keep] / np.maximum(sem[keep], 1e-300))),
                            "wall_time_s": sim.wall_time}
    return out


def draw(rows, statics, bayes, png):
    # Insets and legends where no curve or symbol runs (left: upper left / upper right; right:
    # the empty bottom left and bottom centre, below the ridge curves' dip at t ~ 100).
    fig, axes, insets = plotting.new_figure(boxes=([0.08, 0.55, 0.36, 0.35], [0.09, 0.07, 0.24, 0.28]))
    markers = {0: "o", 1: "s"}
    for row in rows:
        ax, inset = (axes[1], insets[1]) if row["ridge"] else (axes[0], insets[0])
        res, colour = row["dmft"], row["colour"]
        t = res.t[1:]
        if row["ridge"]:
            gap = np.abs(res.gen_error[1:] - statics.gen_error)
            ax.loglog(t, gap, color=colour, lw=1.4, label=f"{row['label']}: DMFT, gradient flow")
            ax.loglog(t, res.gen_error_err[1:], color=colour, lw=0.8, ls=":")
            inset.semilogx(t, res.gen_error[1:], color=colour, lw=1.1)
        else:
            ax.semilogx(t, res.gen_error[1:], color=colour, lw=1.4, label=f"{row['label']}: DMFT, gradient flow")
            ax.fill_between(t, res.gen_error[1:] - 2 * res.gen_error_err[1:],
                            res.gen_error[1:] + 2 * res.gen_error_err[1:], color=colour, alpha=0.25, lw=0)
            inset.loglog(t, res.C[1:], color=colour, lw=1.1)
        for i, (d, sim) in enumerate(sorted(row["simulations"].items())):
            pick = np.unique(np.geomspace(1, sim.t.size - 1, 22).astype(int))
            y = sim.gen_error[pick]
            y = np.abs(y - statics.gen_error) if row["ridge"] else y
            ax.errorbar(sim.t[pick], y, yerr=sim.gen_error_err[pick], color=colour, ls="none",
                        marker=markers[i], mfc="white" if i else colour, ms=4, lw=0.8,
                        label=f"{row['label']}: simulation d = {d}")
    plotting.reference_line(axes[0], MAX_MARGIN_ERROR, "max-margin")
    plotting.reference_line(axes[0], bayes, "Bayes-optimal")
    plotting.reference_line(insets[1], statics.gen_error, "statics")
    axes[0].set_xlabel("t")
    axes[1].set_xlabel("t")
    axes[0].set_ylabel("generalisation error")
    axes[1].set_ylabel("|eps_gen(t) - eps_static|  (dotted: error estimate)")
    insets[0].set_title("|w|²/d", fontsize=8)
    insets[1].set_title("eps_gen(t)", fontsize=8)
    axes[0].set_title(f"GD, λ = 0: α = {ALPHA:g}, Δ = {DELTA:g}, logistic", fontsize=9)
    axes[1].set_title(f"ridge GD, λ = {RIDGE:g}: gap to the statics ε = {statics.gen_error:.6f}",
                      fontsize=9)
    for ax in axes:
        ax.legend(fontsize=6, loc="upper right" if ax is axes[0] else "lower center")
    fig.suptitle("Long horizons: continuous-time DMFT (Richardson over a graded ladder, Quadrature "
                 "rule) against GD simulations on the finest schedule", fontsize=9)
    png.parent.mkdir(parents=True, exist_ok=True)
    with c.atomic_write(png, "wb") as fh:  # the package's writer: usual file mode, fsync
        fig.savefig(fh, format="png", dpi=130)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--t-max", type=float, default=1e4, help="GD horizon (default 1e4)")
    p.add_argument("--t-max-ridge", type=float, default=200.0, help="ridge horizon (default 200)")
    p.add_argument("--t-sim", type=float, default=1000.0, help="simulation horizon (default 1000)")
    p.add_argument("--ds", type=int, nargs="+", default=[1000, 2000], help="simulation dimensions")
    p.add_argument("--seeds", type=int, default=4, help="seeds per simulation (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=float, default=0.2, help="coarse step h (ridge: 2h)")
    p.add_argument("--levels", type=int, default=3, help="levels of the ladder")
    p.add_argument("--growth", type=float, default=10.0, help="time scale of the graded mesh")
    p.add_argument("--max-step-ridge", type=float, default=2.0, help="cap of the ridge coarse step")
    p.add_argument("--resolution", type=int, default=1, help="Quadrature rung")
    p.add_argument("--out", type=Path, default=c.OUT)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--only", nargs="+", default=None, metavar="CURVE",
                   help="compute (and cache) only these curves, e.g. gd-0.01 ridge-1; no figure")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    statics = qd.statics.saddle_point(ALPHA, DELTA, RIDGE, "logistic")
    bayes = qd.bayes_optimal_error(ALPHA, DELTA)
    try:
        rows = compute(args, c.Cache(c.CACHE, not args.no_cache, args.fresh))
    except qd.ParameterError as exc:
        print(f"long_time: error: {exc}", file=sys.stderr)
        return 2
    if args.only:
        print(f"long_time: computed {args.only} (cached); run without --only for the figure")
        return 0
    draw(rows, statics, bayes, args.out / "long_time.png")
    record = {"figure": "long_time", "settings": {k: (str(v) if isinstance(v, Path) else v)
                                                    for k, v in vars(args).items()},
              "references": {"max_margin_error": MAX_MARGIN_ERROR, "bayes_optimal_error": bayes,
                             "statics_gen_error": statics.gen_error, "statics_m": statics.m,
                             "statics_q": statics.q},
              "checks": [checks(row, statics) for row in rows]}
    c.write_text(args.out / "long_time.json", json.dumps(record, indent=1, default=float))
    print(f"long_time: wrote {args.out / 'long_time.png'} and long_time.json in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
