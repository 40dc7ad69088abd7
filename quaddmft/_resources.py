"""What a run will cost, estimated before it starts: memory (refused beyond a limit) and time.

``solve`` and ``simulate`` call ``check_solve`` / ``check_simulate`` before allocating anything:
a run whose memory estimate exceeds ``max_memory`` (default: ``DEFAULT_MEMORY_FRACTION`` of this
machine's physical memory) raises ParameterError naming ``max_memory``, the parameters that set
the size, and the estimate. The time estimate is rough (within a factor of a few): per node and
step of a causal sweep, c (K + b^2 K^2 / 6) with a random selection of fraction b (the
per-node response over the selected steps), c (K + 64^2/6 + 10 K) under full-batch GD (the
low-rank blocked response), times the node-sweeps a rule needs (``AveragingRule.cost``);
the command line prints it for long runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ._errors import ParameterError, check_real

__all__ = ["Estimate", "sweep_memory", "machine_memory", "default_memory_limit", "check_solve",
           "check_simulate", "DEFAULT_MEMORY_FRACTION"]

DEFAULT_MEMORY_FRACTION = 0.75
# Seconds per node, step and unit of work of the per-node sweep, measured on one core (Fig. 1,
# Persistent-SGD b = 0.3, K = 100: 32768 node-sweeps in 2.7 s). Rough: the low-rank blocked
# response of full-batch GD is faster, small node sets pay fixed costs.
_SECONDS_PER_UNIT = 3e-9
# Simulator: seconds per multiply-add of the two matrix-vector products per step.
_SECONDS_PER_FLOP = 1e-9


@dataclass(frozen=True)
class Estimate:
    """Memory (bytes) and a rough wall time (seconds) of a run, and what sets them."""

    bytes: float
    seconds: float
    what: str

    def describe(self) -> str:
        return f"{_gib(self.bytes)} and about {_duration(self.seconds)} ({self.what})"


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 0.1):.1g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_memory(N: int, K: int) -> float:
    """Bytes of one causal sweep over N nodes and K steps: ten (N, K+1) per-node arrays (the
    node coordinates, selection paths, xi, grad, curv, response, the active-step scratch, the
    stored rbar, htilde) and seven (K+1)^2 matrices (Gamma, M_C, its Cholesky factor, R, R^T,
    C_perp, the low-rank coefficients of R)."""
    return 8.0 * N * (K + 1) * 10 + 8.0 * (K + 1) ** 2 * 7


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def default_memory_limit() -> float:
    """``DEFAULT_MEMORY_FRACTION`` of the physical memory (16 GiB when it cannot be read)."""
    total = machine_memory()
    return DEFAULT_MEMORY_FRACTION * total if total else 16.0 * 2**30


def _limit(max_memory) -> float:
    if max_memory is None:
        return default_memory_limit()
    return check_real("max_memory", max_memory, low=0.0)


def _refuse(estimate: Estimate, limit: float, advice: str) -> None:
    if estimate.bytes > limit:
        raise ParameterError(
            f"the run needs about {_gib(estimate.bytes)} ({estimate.what}), more than "
            f"max_memory = {_gib(limit)}; {advice}")


def check_solve(rule, problem, chain, K: int, max_memory=None) -> Estimate:
    """Estimate a solve by ``rule`` (``rule.cost``: its largest node set and its node-sweeps;
    ``rule.held_matrices``: the kernels it keeps across sweeps) and refuse it beyond
    ``max_memory`` bytes. The memory is checked against each sweep worker's measured peak
    (tests/test_sweep.py, ``test_memory_within_the_solves_estimate``)."""
    max_nodes, node_sweeps = rule.cost(problem, chain, K)
    # The matrices the rule keeps across its sweeps (replicates, rungs, fixed-point history).
    held = 8.0 * (K + 1) ** 2 * rule.held_matrices(problem, chain, K)
    # Langevin noise: each sweep also holds the noise covariance M_C + (2T/eta) I and, at its
    # end, the temporary R R^T of C_perp (``_weights.WeightSide``); momentum keeps only a few
    # vectors of length K+1 (the previous step's gradients), nothing of note.
    held += 8.0 * (K + 1) ** 2 * (2 if problem.temperature > 0.0 else 0)
    if max_nodes == 0:  # a rule that does not estimate its cost: the kernels alone
        return Estimate(sweep_memory(0, K) + held, 0.0, f"K = {K} steps, nodes not estimated")
    n = K + 1
    if chain.deterministic:  # low-rank blocked response from k = 64: ~10 n per step beyond
        work = n + min(n, 64) ** 2 / 6 + 10 * n
    else:  # per-node response over the selected steps only
        work = n + chain.b**2 * n**2 / 6
    per_node_sweep = _SECONDS_PER_UNIT * n * work
    estimate = Estimate(sweep_memory(max_nodes, K) + held, node_sweeps * per_node_sweep,
                        f"{max_nodes} nodes, K = {K} steps")
    _refuse(estimate, _limit(max_memory),
            "shorten t_max (memory grows like K^2 for the kernels and N K for the nodes), or use "
            "a coarser rule (for a Quadrature tolerance: bound its ladder with max_resolution)")
    return estimate



def check_spare_rung(n_nodes: int, K: int, label: str) -> None:
    """Refuse a spare rung (``_solver._refined``: a finer node set replacing one that could not
    resolve the selection) whose sweep and six more kept kernels exceed the default memory
    limit (the solve's own ``max_memory`` was checked for the rungs planned at its start)."""
    estimate = Estimate(sweep_memory(n_nodes, K) + 8.0 * 6 * (K + 1) ** 2, 0.0,
                        f"{label}: {n_nodes} nodes, K = {K} steps")
    _refuse(estimate, default_memory_limit(),
            "the coarser rungs could not resolve the random selection to this horizon; shorten "
            "t_max or bound the ladder (Quadrature max_resolution)")

def check_simulate(n: int, d: int, K: int, seeds: int, test_points: int, stochastic: bool,
                   max_memory=None, state_vectors: int = 0) -> Estimate:
    """Estimate a simulation (the data X: 8 n d bytes; selection uniforms and paths: 16 n (K+1);
    test points 8 test_points d; ``state_vectors`` more vectors of length d: momentum's previous
    weights and step, Langevin noise) and refuse it beyond ``max_memory`` bytes."""
    memory = (8.0 * n * d + (16.0 * n * (K + 1) if stochastic else 0.0) + 8.0 * test_points * d
              + 8.0 * state_vectors * d)
    seconds = _SECONDS_PER_FLOP * seeds * (K + 1) * (4.0 * n * d + 2.0 * test_points * d)
    estimate = Estimate(memory, seconds, f"n = {n} samples, d = {d}, K = {K} steps")
    _refuse(estimate, _limit(max_memory), "use a smaller d or a shorter t_max")
    return estimate
