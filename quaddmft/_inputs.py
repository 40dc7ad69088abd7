"""The inputs every run shares, validated once for ``solve`` and ``simulate``: problem, selection
process and the time grid t_k = k eta, k = 0..K, K = floor(t_max / eta) -- or, for a
learning-rate schedule (eta an array of K steps, docs/theory.md eq. 8.1), t_k = sum_{j<k} eta_j."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_real
from ._problem import Problem
from ._selection import Chain, FullBatch, SelectionProcess

__all__ = ["RunInputs", "check_run", "horizon"]


def horizon(eta: float, t_max: float) -> int:
    """Number of steps K with K eta <= t_max (a tolerance absorbs round-off in t_max/eta)."""
    return int(math.floor(t_max / eta + 1e-9))


@dataclass(frozen=True)
class RunInputs:
    """Validated problem, schedule (default FullBatch()), its law at eta, eta (a float, or the
    array of the K steps of a learning-rate schedule), t_max and K."""

    problem: Problem
    schedule: SelectionProcess
    chain: Chain
    eta: float | np.ndarray
    t_max: float
    K: int

    @property
    def t(self) -> np.ndarray:
        """The grid t_k, k = 0..K."""
        if np.ndim(self.eta) == 0:
            return self.eta * np.arange(self.K + 1)
        return np.concatenate([[0.0], np.cumsum(self.eta)])

    def params(self) -> dict:
        """Parameters of the problem, the schedule and the grid, as stored in results."""
        chain = self.chain
        eta = self.eta if np.ndim(self.eta) == 0 else self.eta.tolist()
        return {**self.problem.params(), **self.schedule.params(), "eta": eta,
                "t_max": self.t_max, "K": self.K,
                "chain": {"b": chain.b, "p_on": chain.p_on, "p_stay": chain.p_stay}}


def _check_schedule_of_steps(eta, t_max, schedule):
    """A learning-rate schedule: a 1-D array of K >= 1 positive finite steps, t_max None or their
    sum; only with a deterministic selection (the chains of a random one are per step size)."""
    steps = np.array(eta, dtype=float)
    if steps.ndim != 1 or steps.size < 1 or not np.all(np.isfinite(steps)) or np.any(steps <= 0):
        raise ParameterError(f"eta must be a positive number or a 1-D array of positive steps, got {eta!r}")
    total = float(steps.sum())
    if t_max is not None:
        t_max = check_real("t_max", t_max, low=0.0)
        if not math.isclose(t_max, total, rel_tol=1e-9):
            raise ParameterError(f"t_max = {t_max} must equal the sum of the steps in eta ({total}), or be None")
    chain = schedule.chain(float(steps.min()))
    if not chain.deterministic:
        raise ParameterError("a schedule of steps (eta an array) needs a deterministic selection "
                             f"(FullBatch()); got {schedule!r}")
    steps.setflags(write=False)
    return steps, total, chain


def check_run(problem, schedule, eta, t_max) -> RunInputs:
    """Validate the shared inputs; raise ParameterError naming the first bad one."""
    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a quaddmft.Problem, got {problem!r}")
    schedule = FullBatch() if schedule is None else schedule
    if not isinstance(schedule, SelectionProcess):
        raise ParameterError(
            f"schedule must be FullBatch(), SGD(b) or PersistentSGD(b, tau), got {schedule!r}")
    if np.ndim(eta) > 0 or isinstance(eta, (list, tuple)):
        steps, total, chain = _check_schedule_of_steps(eta, t_max, schedule)
        return RunInputs(problem, schedule, chain, steps, total, steps.size)
    eta = check_real("eta", eta, low=0.0)
    t_max = check_real("t_max", t_max, low=0.0)
    K = horizon(eta, t_max)
    if K < 1:
        raise ParameterError(f"t_max = {t_max} must be at least one step, eta = {eta}")
    return RunInputs(problem, schedule, schedule.chain(eta), eta, t_max, K)
