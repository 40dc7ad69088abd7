"""Cross-check the DMFT rule of chosen three-cluster GD curves (Fig. 4 right, Fig. 3 left).

    python validation/rule_check.py fig4 --points 512
Solves each curve again with an independent rule, the randomised ``qd.QMC`` (N points x 6 h0
nodes x ``--replicates``), and prints sup_t |DMFT(figure's rule) - DMFT(QMC)|, the final values
with their error estimates and the simulation's final value, so that a disagreement can be
attributed to the quadrature or to d. Results are cached like the figures' own runs (the
figure's curves are run first if they are not).
"""
import argparse
import dataclasses
import sys

import numpy as np

import _common as c
import quaddmft as qd
import fig3
import fig4


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("figure", choices=["fig3", "fig4"])
    p.add_argument("--points", type=int, default=512)
    p.add_argument("--replicates", type=int, default=4)
    p.add_argument("--only", nargs="*", default=None, help="labels to refine (default: GD curves)")
    args = p.parse_args(argv)
    module = {"fig3": fig3, "fig4": fig4}[args.figure]
    fargs = c.parser("", module.SEEDS, module.T_MAX)  # the figure's defaults: its cache keys
    if hasattr(module, "add_args"):
        module.add_args(fargs)
    fargs = fargs.parse_args([])
    cache = c.Cache()
    for cv in module.curves(fargs):
        if cv.problem.mixture.name != "three" or cv.schedule.params()["schedule"] != "gd":
            continue
        if args.only and cv.label not in args.only:
            continue
        # the figure's own runs (cached by the figure script; run here if they are not)
        (row,) = c.compute([cv], cache, True, "rule_check")
        base, sim = row["dmft"], row["simulation"]
        fine_cv = dataclasses.replace(cv, seeds=0, rule=qd.QMC(n_points=args.points, n_h0=6,
                                                               n_replicates=args.replicates))
        fine = c.compute([fine_cv], cache, True, "rule_check")[0]["dmft"]
        dd = np.abs(base.gen_error - fine.gen_error)
        ds = np.abs(fine.gen_error - sim.gen_error)
        zs = ds / np.sqrt(fine.gen_error_err**2 + sim.gen_error_err**2 + 1e-30)
        print(f"{args.figure} {cv.label}: {base.params['rule']} vs qmc {args.points}: sup |diff| "
              f"{dd.max():.4f} (t={base.t[dd.argmax()]:.1f}); qmc vs sim: sup {ds.max():.4f} "
              f"(t={fine.t[ds.argmax()]:.1f}, z_max {zs.max():.1f}); final: {base.params['rule']} "
              f"{base.gen_error[-1]:.4f}±{base.gen_error_err[-1]:.4f}, qmc {args.points}-pt "
              f"{fine.gen_error[-1]:.4f}±{fine.gen_error_err[-1]:.4f}, sim "
              f"{sim.gen_error[-1]:.4f}±{sim.gen_error_err[-1]:.4f}; wall {fine.wall_time:.0f} s",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
