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
default's converged dynamics: an observer pass (as ``_causal.observe``: the weight side frozen)
over Delta_c's few nodes, whose Gamma, M_C, mu and train_loss are sums linear in the node
weights, scored as max over them of sup |Delta| / sup |converged kernel|; all the candidates
that became admissible at a step go through one pass, their sums kept apart. Each step's
error against the reference is printed, and so are those of the ladder's fixed grids:
``MODAL_LADDER[1]`` (costs (1, 1, 1, 2), 165 nodes) and ``DIRECT_RUNG`` (costs (1, 1, 2), 105).
All at one C_perp, as one sweep each: what is compared is the quadrature error of the grid,
not a fixed point (the default's own sweep at its C_perp is within 2e-12 of its fixed point).

A study, not a rule: the sweep scores cost two sweeps per candidate (measured: 14 s of CPU at
t <= 10 for a 200-node set, against 0.5 s for the default solve; 175 s at t <= 50); the frozen
ones one pass per step of the greedy (printed: the scoring time, the passes, and the default
solve's time and errors in the same process).

    NUMBA_NUM_THREADS=1 python benchmarks/adaptive_grid.py --t-max 10 --budget 200 \\
        [--reference REF.npz] [--out benchmarks/adaptive_grid.json]
"""

from __future__ import annotations

import argparse
import json
import time
from functools import cached_property

import numpy as np
from threadpoolctl import threadpool_limits

import quaddmft as qd
from _refcache import write_text
from quaddmft._causal import _March, causal_sweep
from quaddmft._quadrature import (_index_set, combination_grid, gauss_hermite, karhunen_loeve,
                                  smolyak)
from quaddmft._response import ResponseOptions
from quaddmft._weights import FrozenWeights
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

    @cached_property
    def solved(self):
        """The converged dynamics the frozen scores observe: rung 1's sweep at C_perp."""
        grid = smolyak(MODAL_LADDER[1].costs(self.modes), MODAL_LADDER[1].level)
        nodes = self.rule._modal_nodes(self.problem, self.chain, self.K, RESOLUTION, self.C_perp,
                                       grid=grid)
        return causal_sweep(self.problem, self.chain, ETA, self.K, nodes, accuracy=False)

    @cached_property
    def kernel_scale(self) -> np.ndarray:
        """sup |Gamma|, |M_C|, |mu| and max(1, sup |train_loss|) of ``solved``."""
        return np.array([max(1e-300, float(np.abs(getattr(self.solved, name)).max()))
                         for name in ("Gamma", "M_C", "mu")]
                        + [max(1.0, float(np.abs(self.solved.train_loss).max()))])

    def sweep_scores(self, members, candidates, current) -> list:
        """The change of the curves ``current`` (those of ``members``) when each candidate
        joins: one sweep per candidate."""
        return [self.indicator(self.curves(members + [c])[0], current) for c in candidates]

    def frozen_scores(self, members, candidates, current=None) -> list:
        """Delta_c of the kernels at the converged dynamics (module docstring), every candidate
        in one observer pass over the union of their difference nodes, the kernel sums kept
        per candidate (``_GroupedMarch``)."""
        parts = [difference_grid(c) for c in candidates]
        grid = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        owner = np.concatenate([np.full(p[1].size, i) for i, p in enumerate(parts)])
        nodes = self.rule._modal_nodes(self.problem, self.chain, self.K, RESOLUTION, self.C_perp,
                                       grid=grid)
        frozen = FrozenWeights(self.K, ETA, self.problem.lam, self.problem.R, self.solved,
                               self.problem.temperature)
        # The grid is the innermost factor of the node set (``_modal_nodes``).
        march = _GroupedMarch(self.problem, self.chain, ETA, self.K, nodes, frozen,
                              ResponseOptions(), False,
                              groups=np.tile(owner, nodes.size // owner.size),
                              n_groups=len(candidates))
        with threadpool_limits(limits=1, user_api="blas"):
            for k in range(self.K + 1):
                march.step(k)
        return list((march.peak / self.kernel_scale).max(axis=1))


class _GroupedMarch(_March):
    """An observer pass (frozen weight side) that also keeps, per group of nodes, the peak over
    the steps of |Gamma(k, .)|, |M_C(k, .)|, |mu(k)| and |train_loss(k)| of that group's nodes
    alone (full-batch GD: s = 1). A study's subclass of the sweep's private state."""

    def __init__(self, *args, groups, n_groups):
        super().__init__(*args)
        self.members = np.zeros((n_groups, groups.size))
        self.members[groups, np.arange(groups.size)] = 1.0
        self.peak = np.zeros((n_groups, 4))

    def _kernel_rows(self, k: int) -> None:
        super()._kernel_rows(k)
        alpha, delta = self.problem.alpha, self.model.delta
        w, buffers, S = self.nodes.weight, self.buffers, self.members
        rows = (alpha * delta * (S @ ((w * buffers.curv[:, k])[:, None]
                                      * buffers.response[:, : k + 1])),
                alpha * delta * (S @ ((w * buffers.grad[:, k])[:, None]
                                      * buffers.grad[:, : k + 1])),
                alpha * (S @ (w * buffers.grad[:, k] * self.projection))[:, None],
                alpha * (S @ (w * buffers.loss))[:, None])
        for j, row in enumerate(rows):
            self.peak[:, j] = np.maximum(self.peak[:, j], np.abs(row).max(axis=1))


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
    score = study.frozen_scores if frozen else study.sweep_scores
    D = study.modes
    members = [(1,) * D]
    current, size = study.curves(members)
    scores, steps = {}, []
    study.scoring_cpu, study.passes = 0.0, 0
    while size < budget:
        new = []
        for l in list(members):
            for i in range(D):
                c = tuple(l[j] + (j == i) for j in range(D))
                admissible = all(tuple(c[j] - (j == k) for j in range(D)) in members
                                 for k in range(D) if c[k] > 1)
                if c not in members and c not in scores and c not in new and admissible:
                    new.append(c)
        if new:
            start = time.process_time()
            scores.update(zip(new, score(members, new, current)))
            study.scoring_cpu += time.process_time() - start
            study.passes += 1
        best = max(scores, key=scores.get)
        value = scores.pop(best)
        members.append(best)
        current, size = study.curves(members)
        errors = study.errors(current)
        steps.append({"added": list(best), "indicator": value, "nodes": size, "errors": errors})
        log(f"add {best} indicator {value:.1e} -> {size} nodes | "
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
    # Solved again (the Study solved it once for its C_perp): this time warm, for the timing.
    start = time.process_time()
    default = qd.solve(PROBLEMS[args.problem], qd.FullBatch(), eta=ETA, t_max=args.t_max)
    solve_cpu = time.process_time() - start
    steps = greedy(study, args.budget, print, frozen=args.indicator == "frozen")
    cpu = study.scoring_cpu
    print(f"scoring the candidates: {cpu:.2f} s of CPU in {study.passes} passes; the default "
          f"solve {solve_cpu:.2f} s (its errors: "
          + " ".join(f"{q} {e:.1e}" for q, e in study.errors(
              {q: getattr(default, q) for q in CURVES}).items()) + ")")
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
                                         "t_max": args.t_max, "scoring_passes": study.passes,
                                         "default_solve_cpu_s": solve_cpu,
                                         "budget": args.budget,
                                         "scoring_cpu_s": cpu, "steps": steps, "fixed": fixed},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
