"""Response-kernel benchmark: backward substitution (current) vs stored history (baseline).

Both kernels advance the same nodes through the same K steps with the kernels of a solved DMFT
(two clusters, logistic, GD, Fig. 1 settings); Gamma(k, .) from both must agree. Prints wall
times, the ratio, and the memory of each method's response storage.

    python benchmarks/response.py [--K 100] [--points 512] [--h0 8]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import quaddmft as qd
from quaddmft._sweep import effective_step

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
            effective_step(*common, np.ascontiguousarray(res.R[: k + 1, : k + 1].T), noise_row, 0.0,
                           nodes.c, nodes.y, nodes.h0, nodes.h_init, nodes.innovations, nodes.s,
                           xi, g, a, store, *out)
            row = store[:, : k + 1]
        gamma[k, : k + 1] = (nodes.weight * a[:, k]) @ row
    return time.perf_counter() - start, gamma, store.nbytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--K", type=int, default=100)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--h0", type=int, default=8)
    args = parser.parse_args(argv)
    eta = 0.2
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    res = qd.solve(problem, qd.FullBatch(), eta=eta, t_max=args.K * eta,
                   rule=qd.QMC(n_points=64, n_h0=4, n_replicates=2))
    chain = qd.FullBatch().chain(eta)
    rule = qd.QMC(n_points=args.points, n_h0=args.h0, n_replicates=2)
    nodes = rule.nodes(problem, chain, args.K, np.random.default_rng(0))
    for kind in ("stored", "backward"):  # warm-up: compile both kernels
        sweep(kind, problem, res, rule.nodes(problem, chain, 3, np.random.default_rng(0)), eta, 3)
    t_old, g_old, mem_old = sweep("stored", problem, res, nodes, eta, args.K)
    t_new, g_new, mem_new = sweep("backward", problem, res, nodes, eta, args.K)
    diff = np.abs(g_new - g_old).max() / np.abs(g_old).max()
    print(f"N = {nodes.size} nodes, K = {args.K} steps")
    print(f"stored history (baseline): {t_old:8.3f} s, response memory {mem_old / 2**20:9.1f} MiB")
    print(f"backward substitution    : {t_new:8.3f} s, response memory {mem_new / 2**20:9.1f} MiB")
    print(f"speed-up {t_old / t_new:.2f}x, memory ratio {mem_old / mem_new:.1f}x, "
          f"max relative Gamma difference {diff:.1e}")


if __name__ == "__main__":
    main()
