"""Response-kernel benchmark: stored history (first baseline), per-node backward substitution,
blocked backward substitution with dense blocks (GEMM per block) and with low-rank blocks (the
solver's choice from BLOCKED_RESPONSE_FROM; see quaddmft._sweep.ResponseBlocks).

All kernels advance the same nodes through the same K steps with the kernels of a solved DMFT
(two clusters, logistic, GD, Fig. 1 settings); Gamma(k, .) from all must agree. Prints wall
times, ratios, and the memory of each method's response storage.

    python benchmarks/response.py [--K 100] [--points 512] [--h0 8] [--skip-stored]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

import quaddmft as qd
from quaddmft._sweep import RESPONSE_BLOCK, ResponseBlocks, effective_step, response_rows

from _baseline_sweep import effective_step_stored, rho_offset


def sweep(kind, problem, res, nodes, eta, K):
    """Drive one kernel through k = 0..K with the solved m, P, R and Cholesky of M_C."""
    mixture, loss = problem.mixture, problem.loss
    N = nodes.size
    xi, g, a = np.zeros((N, K)), np.zeros((N, K + 1)), np.zeros((N, K + 1))
    out = [np.empty(N) for _ in range(3)]
    chol = np.linalg.cholesky(res.M_C[:K, :K] + 1e-14 * np.eye(K))
    store = np.empty(rho_offset(K + 1, N)) if kind == "stored" else np.zeros((N, K + 1))
    gamma = np.zeros((K + 1, K + 1))
    blocks = ResponseBlocks(K, RESPONSE_BLOCK, dense=(kind == "blocked-dense"))
    start = time.perf_counter()
    for k in range(K + 1):
        noise_row = chol[k - 1] if k else np.zeros(K)
        common = (k, loss.code, mixture.activation_code, mixture.L, mixture.delta, eta, res.m[k],
                  res.P[k], math.sqrt(problem.R))
        if kind == "stored":
            effective_step_stored(*common, res.R[k], noise_row, 0.0, nodes.c, nodes.y, nodes.h0,
                                  nodes.h_init, nodes.innovations, nodes.s, xi, g, a, store, *out)
            row = store[rho_offset(k, N): rho_offset(k, N) + N * (k + 1)].reshape(N, k + 1)
        else:
            R_T = np.ascontiguousarray(res.R[: k + 1, : k + 1].T)
            blocks.add_row(res.R, k)
            effective_step(*common, R_T, noise_row, 0.0,
                           nodes.c, nodes.y, nodes.h0, nodes.h_init, nodes.innovations, nodes.s,
                           xi, g, a, store, out[0], out[1], kind == "per-node")
            if kind != "per-node":
                response_rows(k, eta, mixture.delta, res.R, R_T, a, store, blocks)
            row = store[:, : k + 1]
        gamma[k, : k + 1] = (nodes.weight * a[:, k]) @ row
    return time.perf_counter() - start, gamma, store.nbytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--K", type=int, default=100)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--h0", type=int, default=8)
    parser.add_argument("--skip-stored", action="store_true",
                        help="leave out the O(N K^2)-memory baseline (for long horizons)")
    args = parser.parse_args(argv)
    eta = 0.2
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    res = qd.solve(problem, qd.FullBatch(), eta=eta, t_max=args.K * eta,
                   rule=qd.QMC(n_points=64, n_h0=4, n_replicates=2))
    chain = qd.FullBatch().chain(eta)
    rule = qd.QMC(n_points=args.points, n_h0=args.h0, n_replicates=2)
    nodes = rule.nodes(problem, chain, args.K, np.random.default_rng(0))
    kinds = ("per-node", "blocked-dense", "blocked-low-rank")
    kinds = kinds if args.skip_stored else ("stored",) + kinds
    for kind in kinds:  # warm-up: compile every kernel
        sweep(kind, problem, res, rule.nodes(problem, chain, 3, np.random.default_rng(0)), eta, 3)
    with threadpool_limits(limits=1, user_api="blas"):  # as in the solver (see _solver.py)
        runs = {kind: sweep(kind, problem, res, nodes, eta, args.K) for kind in kinds}
    base_t, base_g, _ = runs[kinds[0]]
    print(f"N = {nodes.size} nodes, K = {args.K} steps; ratios against {kinds[0]} (same process)")
    for kind, (t, gam, mem) in runs.items():
        diff = np.abs(gam - base_g).max() / np.abs(base_g).max()
        print(f"{kind:9s}: {t:8.3f} s  speed-up {base_t / t:6.2f}x  response memory "
              f"{mem / 2**20:9.1f} MiB  max relative Gamma difference {diff:.1e}")


if __name__ == "__main__":
    main()
