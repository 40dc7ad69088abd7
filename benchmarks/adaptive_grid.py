"""Study: a dimension-adaptive index set (Gerstner-Griebel) for the KL modes of C_perp, against
the fixed anisotropic grids of the modal ladder (issue 11; docs/numerics.md section 3).

Fig. 1 GD (two clusters, logistic, alpha = 2, Delta = 0.5, lambda = 0, R = 0.01, eta = 0.2), or
with ``--problem three`` the door model of Fig. 2 (lambda = 0.1). The default rule is solved
first; at its converged C_perp (8 KL modes, 24 Gauss-Hermite nodes in h0) the index set grows
greedily from l = (1, ..., 1): every admissible forward neighbour c of
the set I (each c - e_i with c_i > 1 in I) is scored once, when it becomes admissible, by

    indicator(c) = max over m, C, gen_error, train_loss of
                   sup_t |curve(I + {c}) - curve(I)| / max(1, sup_t |reference curve|),

each curve from one causal sweep on the combination grid (``_quadrature.combination_grid``),
and the best-scoring candidate joins I, until the grid has ``--budget`` nodes. With
``--indicator frozen`` the score is that of Gerstner and Griebel instead, the tensor difference
Delta_c = (Q_{c_1} - Q_{c_1 - 1}) x ... x (Q_{c_D} - Q_{c_D - 1}) applied to the kernels at the
default's converged dynamics: an observer pass (``_causal.observe``, the weight side frozen)
over Delta_c's few nodes, whose Gamma, M_C, mu and train_loss are sums linear in the node
weights, scored as max over them of sup |Delta| / sup |converged kernel|. Each step's
error against the reference is printed, and so are those of the ladder's fixed grids:
``MODAL_LADDER[1]`` (costs (1, 1, 1, 2), 165 nodes) and ``DIRECT_RUNG`` (costs (1, 1, 2), 105).
All at one C_perp, as one sweep each: what is compared is the quadrature error of the grid,
not a fixed point (the default's own sweep at its C_perp is within 2e-12 of its fixed point).

A study, not a rule: the indicators cost many sweeps (measured: 14 s of CPU at t <= 10 for a
200-node set, against 0.5 s for the default solve; 175 s at t <= 50); the frozen ones one
observer pass per candidate (2.4 / 5.1 / 7.6 s for 47 / 111 / 169 nodes at t <= 10, the python
loop over the steps of each pass: batching the candidates is what is left to make it cheap).

    NUMBA_NUM_THREADS=1 python benchmarks/adaptive_grid.py --t-max 10 --budget 200 \\
        [--reference REF.npz] [--out benchmarks/adaptive_grid.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import quaddmft as qd
from _refcache import write_text
from quaddmft._causal import causal_sweep, observe
from quaddmft._quadrature import _index_set, combination_grid, gauss_hermite, karhunen_loeve
from quaddmft.rules.quadrature import DIRECT_RUNG, MODAL_LADDER, Resolution

PROBLEMS = {  # Fig. 1 GD; the three-cluster door model of Fig. 2 (coverage setting gd-three-lam0.1-t10)
    "two": qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01),
    "three": qd.Problem(qd.ThreeCluster(3.0, 0.05, 0.7), "logistic", lam=0.1, R=0.01,
                        m0=qd.FiniteDStart(5000)),
}
ETA = 0.2
CURVES = ("m", "C", "gen_error", "train_loss")
MODES = 8
# The KL modes and h0 rule of the default rung 1; the grid over the modes is the study's.
RESOLUTION = Resolution(level=4, n_h0=24, max_modes=MODES, kl_tol=1e-11)


class Study:
    """One causal sweep per index set, at the default's C_perp (module docstring)."""

    def __init__(self, problem, t_max: float, reference: dict):
        self.problem = problem
        self.K = int(round(t_max / ETA))
        self.chain = qd.FullBatch().chain(ETA)
        self.rule = qd.Quadrature()
        solved = qd.solve(problem, qd.FullBatch(), eta=ETA, t_max=t_max)
        self.C_perp = solved.C_perp
        # As many modes as the rung keeps (fewer than MODES on short horizons).
        self.modes = karhunen_loeve(self.C_perp, RESOLUTION.kl_tol, MODES).n_modes
        self.reference = reference
        self.scale = {q: max(1.0, float(np.abs(reference[q]).max())) for q in CURVES}

    def curves(self, members) -> tuple[dict, int]:
        grid = combination_grid(members)
        nodes = self.rule._modal_nodes(self.problem, self.chain, self.K, RESOLUTION, self.C_perp,
                                       grid=grid)
        sweep = causal_sweep(self.problem, self.chain, ETA, self.K, nodes, accuracy=False)
        return {q: np.asarray(getattr(sweep, q)) for q in CURVES}, int(grid[1].size)

    def errors(self, curves) -> dict:
        return {q: float(np.abs(curves[q] - self.reference[q]).max()) for q in CURVES}

    def indicator(self, finer, coarser) -> float:
        return max(float(np.abs(finer[q] - coarser[q]).max()) / self.scale[q] for q in CURVES)

    def sweep_score(self, members, candidate, current) -> float:
        """The change of the curves ``current`` (those of ``members``) when ``candidate`` joins."""
        return self.indicator(self.curves(members + [candidate])[0], current)

    def frozen_score(self, members, candidate, current=None) -> float:
        """Delta_candidate of the kernels at the converged dynamics (module docstring)."""
        if not hasattr(self, "solved"):
            grid = combination_grid(_index_set(MODAL_LADDER[1].costs(self.modes),
                                               MODAL_LADDER[1].level - 1))
            nodes = self.rule._modal_nodes(self.problem, self.chain, self.K, RESOLUTION,
                                           self.C_perp, grid=grid)
            self.solved = causal_sweep(self.problem, self.chain, ETA, self.K, nodes,
                                       accuracy=False)
            self.kernel_scale = {name: max(1e-300, float(np.abs(getattr(self.solved, name)).max()))
                                 for name in ("Gamma", "M_C", "mu")}
            self.kernel_scale["train_loss"] = max(1.0, float(np.abs(self.solved.train_loss).max()))
        nodes = self.rule._modal_nodes(self.problem, self.chain, self.K, RESOLUTION, self.C_perp,
                                       grid=difference_grid(candidate))
        observed = observe(self.problem, self.chain, ETA, self.K, nodes, self.solved)
        return max(float(np.abs(getattr(observed, name)).max()) / scale
                   for name, scale in self.kernel_scale.items())


def difference_grid(index) -> tuple[np.ndarray, np.ndarray]:
    """The nodes and signed weights of (Q_{l_1} - Q_{l_1 - 1}) x ... (Q_0 = 0; Q_l the
    (2 l - 1)-point Gauss-Hermite rule): coinciding nodes are left unmerged, the sums are linear."""
    factors = []
    for level in index:
        x, w = gauss_hermite(2 * level - 1)
        if level > 1:
            x0, w0 = gauss_hermite(2 * level - 3)
            x, w = np.concatenate([x, x0]), np.concatenate([w, -w0])
        factors.append((x, w))
    nodes = np.meshgrid(*[f[0] for f in factors], indexing="ij")
    weights = np.meshgrid(*[f[1] for f in factors], indexing="ij")
    return (np.stack([g.ravel() for g in nodes], axis=1),
            np.prod(np.stack([g.ravel() for g in weights], axis=1), axis=1))


def greedy(study: Study, budget: int, log, frozen: bool = False) -> list:
    """Grow the index set until ``budget`` grid nodes; one record per step."""
    score_of = study.frozen_score if frozen else study.sweep_score
    D = study.modes
    members = [(1,) * D]
    current, size = study.curves(members)
    scores, steps = {}, []
    while size < budget:
        for l in list(members):
            for i in range(D):
                c = tuple(l[j] + (j == i) for j in range(D))
                admissible = all(tuple(c[j] - (j == k) for j in range(D)) in members
                                 for k in range(D) if c[k] > 1)
                if c not in members and c not in scores and admissible:
                    scores[c] = score_of(members, c, current)
        best = max(scores, key=scores.get)
        score = scores.pop(best)
        members.append(best)
        current, size = study.curves(members)
        errors = study.errors(current)
        steps.append({"added": list(best), "indicator": score, "nodes": size, "errors": errors})
        log(f"add {best} indicator {score:.1e} -> {size} nodes | "
            + " ".join(f"{q} {errors[q]:.1e}" for q in CURVES))
    return steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="two")
    parser.add_argument("--t-max", type=float, default=10.0)
    parser.add_argument("--budget", type=int, default=200, help="grid nodes (times 24 h0 nodes)")
    parser.add_argument("--reference", help="an .npz with m, C, gen_error, train_loss (default: "
                                            "Quadrature(resolution=3) solved here)")
    parser.add_argument("--indicator", choices=("sweep", "frozen"), default="sweep",
                        help="score candidates by two sweeps, or by Delta_c at frozen kernels")
    parser.add_argument("--out", default="", help="write the records to this JSON")
    args = parser.parse_args(argv)
    if args.reference:
        reference = dict(np.load(args.reference))
    else:
        solved = qd.solve(PROBLEMS[args.problem], qd.FullBatch(), eta=ETA, t_max=args.t_max,
                          rule=qd.Quadrature(resolution=3, fixed_point_tol=1e-4))
        reference = {q: getattr(solved, q) for q in CURVES}
    study = Study(PROBLEMS[args.problem], args.t_max, reference)
    start = time.process_time()
    steps = greedy(study, args.budget, print, frozen=args.indicator == "frozen")
    cpu = time.process_time() - start
    print(f"greedy: {cpu:.1f} s of CPU")
    fixed = {}
    for name, resolution in (("MODAL_LADDER[1]", MODAL_LADDER[1]), ("DIRECT_RUNG", DIRECT_RUNG)):
        costs = resolution.costs(study.modes)
        members = _index_set(costs, resolution.level - 1)
        curves, size = study.curves(members)
        fixed[name] = {"costs": list(resolution.mode_costs), "nodes": size,
                       "errors": study.errors(curves)}
        print(f"{name} (costs {resolution.mode_costs}): {size} nodes | "
              + " ".join(f"{q} {e:.1e}" for q, e in fixed[name]["errors"].items()))
    if args.out:
        write_text(args.out, json.dumps({"problem": args.problem, "indicator": args.indicator,
                                         "t_max": args.t_max,
                                         "budget": args.budget,
                                         "greedy_cpu_s": cpu, "steps": steps, "fixed": fixed},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
