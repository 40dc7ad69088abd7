"""Response-kernel benchmark: stored history (first baseline), the left-looking per-node
substitution (second baseline), the per-node substitution of the solver, blocked backward
substitution with dense blocks (GEMM per block) and with low-rank blocks (the solver's choice
from ``ResponseOptions.blocked_from``; see quaddmft._response.ResponseBlocks), the latter's
fused kernel also one node at a time (third baseline; the solver's runs nodes in tiles).

All kernels advance the same nodes through the same K steps with the kernels of a solved DMFT
(two clusters, logistic, Fig. 1 settings; GD, or Persistent-SGD b, 1/tau = 0.6 with
``--persistent b``, the nodes' selection paths drawn from its chain); Gamma(k, .) from all must
agree. Prints wall times, ratios, and the memory of each method's response storage.

    python benchmarks/response.py [--K 100] [--points 512] [--h0 8] [--skip-stored] [--persistent 0.3]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

import quaddmft as qd
from quaddmft._kernels import NodeArrays, StepModel, StepState, SweepBuffers, effective_step
from quaddmft._response import ResponseBlocks, ResponseOptions, response_rows

from _baseline_sweep import (StoredBuffers, effective_step_stored, response_left_looking,
                             response_low_rank_per_node, rho_offset)


def sweep(kind, problem, res, nodes, eta, K):
    """Drive one kernel through k = 0..K with the solved m, P, R and Cholesky of M_C."""
    mixture, R = problem.mixture, res.response
    N = nodes.size
    model = StepModel(problem.loss.code, mixture.activation_code, mixture.L, mixture.delta, eta)
    arrays = NodeArrays(nodes.c, nodes.y, nodes.h0, nodes.h_init, nodes.innovations, nodes.s)
    buffers = StoredBuffers.zeros(N, K) if kind == "stored" else SweepBuffers.zeros(N, K)
    scratch = np.zeros((N, K + 1), dtype=np.int64)  # the left-looking baseline's active steps
    # M_C of a sampled random selection may be slightly indefinite: its nearest PSD matrix.
    w, V = np.linalg.eigh(res.M_C[:K, :K])
    chol = np.linalg.cholesky((V * np.maximum(w, 0.0)) @ V.T + 1e-12 * w.max() * np.eye(K))
    gamma = np.zeros((K + 1, K + 1))
    blocks = ResponseBlocks(K, ResponseOptions(low_rank=(kind != "blocked-dense")))
    sqrt_R = math.sqrt(problem.R)
    start = time.perf_counter()
    for k in range(K + 1):
        noise_row = chol[k - 1] if k else np.zeros(K)
        state = StepState(res.m[k], res.P[k], sqrt_R, 0.0)
        if kind == "stored":
            effective_step_stored(k, model, state, R[k], noise_row, arrays, buffers)
            row = buffers.rho[rho_offset(k, N): rho_offset(k, N) + N * (k + 1)].reshape(N, k + 1)
        else:
            R_T = np.ascontiguousarray(R[: k + 1, : k + 1].T)
            blocks.add_row(R, k)
            effective_step(k, model, state, R, noise_row, arrays, buffers, kind == "per-node")
            if kind == "per-node-left":
                response_left_looking(k, R_T, buffers.curv, buffers.response, scratch,
                                      -eta * mixture.delta)
            elif kind == "blocked-low-rank-per-node" and blocks.all_low_rank:
                response_low_rank_per_node(k, buffers.curv, R, blocks.bases, blocks.coef,
                                           blocks.rank, blocks.block, -eta * mixture.delta,
                                           buffers.response)
            elif kind != "per-node":
                response_rows(k, eta, mixture.delta, R, R_T, buffers.curv, buffers.response,
                              blocks)
            row = buffers.response[:, : k + 1]
        gamma[k, : k + 1] = (nodes.weight * buffers.curv[:, k]) @ row
    storage = buffers.rho if kind == "stored" else buffers.response
    return time.perf_counter() - start, gamma, storage.nbytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--K", type=int, default=100)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--h0", type=int, default=8)
    parser.add_argument("--skip-stored", action="store_true",
                        help="leave out the O(N K^2)-memory baseline (for long horizons)")
    parser.add_argument("--persistent", type=float, metavar="B",
                        help="Persistent-SGD with this b (1/tau = 0.6) instead of full-batch GD")
    args = parser.parse_args(argv)
    eta = 0.2
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    schedule = qd.FullBatch() if args.persistent is None else qd.PersistentSGD(args.persistent, 1 / 0.6)
    res = qd.solve(problem, schedule, eta=eta, t_max=args.K * eta,
                   rule=qd.QMC(n_points=64, n_h0=4, n_replicates=2))
    chain = schedule.chain(eta)
    rule = qd.QMC(n_points=args.points, n_h0=args.h0, n_replicates=2)
    nodes = rule.nodes(problem, chain, args.K, np.random.default_rng(0))
    kinds = ("per-node-left", "per-node", "blocked-dense", "blocked-low-rank-per-node",
             "blocked-low-rank")
    kinds = kinds if args.skip_stored else ("stored",) + kinds
    for kind in kinds:  # warm-up: compile every kernel
        sweep(kind, problem, res, rule.nodes(problem, chain, 3, np.random.default_rng(0)), eta, 3)
    with threadpool_limits(limits=1, user_api="blas"):  # as in the solver (see _solver.py)
        runs = {kind: sweep(kind, problem, res, nodes, eta, args.K) for kind in kinds}
    base_t, base_g, _ = runs[kinds[0]]
    print(f"N = {nodes.size} nodes, K = {args.K} steps; ratios against {kinds[0]} (same process)")
    for kind, (t, gam, mem) in runs.items():
        diff = np.abs(gam - base_g).max() / np.abs(base_g).max()
        print(f"{kind:26s}: {t:8.3f} s  speed-up {base_t / t:6.2f}x  response memory "
              f"{mem / 2**20:9.1f} MiB  max relative Gamma difference {diff:.1e}")


if __name__ == "__main__":
    main()
