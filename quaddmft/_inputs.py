"""The inputs every run shares, validated once for ``solve`` and ``simulate``: problem, selection
process, momentum and the time grid t_k = k eta, k = 0..K, K = floor(t_max / eta) -- or, for a
learning-rate schedule (eta an array of K steps, docs/theory.md eq. 9.1), t_k = sum_{j<k} eta_j.

The combinations that no equation of docs/theory.md covers are refused here, with a
ParameterError naming both sides: momentum with the spherical constraint (where the velocity
would be taken, before or after the projection, is a choice the model does not make), and a
learning-rate schedule with momentum, Langevin noise or the spherical constraint (eq. 9.1 is
derived for plain GD). The spherical constraint with ridge, and off the sphere at the start, are
refused by ``Spherical``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_real
from ._momentum import Momentum
from ._problem import Problem
from ._selection import Chain, FullBatch, SelectionProcess

__all__ = ["RunInputs", "check_run", "horizon"]


def horizon(eta: float, t_max: float) -> int:
    """Number of steps K with K eta <= t_max (a tolerance absorbs round-off in t_max/eta)."""
    return int(math.floor(t_max / eta + 1e-9))


@dataclass(frozen=True)
class RunInputs:
    """Validated problem, schedule (default FullBatch()), its law at eta, eta (a float, or the
    array of the K steps of a learning-rate schedule), t_max, K and the momentum (None: plain
    (S)GD)."""

    problem: Problem
    schedule: SelectionProcess
    chain: Chain
    eta: float | np.ndarray
    t_max: float
    K: int
    momentum: Momentum | None = None

    @property
    def t(self) -> np.ndarray:
        """The grid t_k, k = 0..K."""
        if np.ndim(self.eta) == 0:
            return self.eta * np.arange(self.K + 1)
        return np.concatenate([[0.0], np.cumsum(self.eta)])

    def params(self) -> dict:
        """Parameters of the problem, the schedule, the momentum and the grid, as stored in
        results (the momentum only when given)."""
        chain = self.chain
        eta = self.eta if np.ndim(self.eta) == 0 else self.eta.tolist()
        return {**self.problem.params(), **self.schedule.params(),
                **({} if self.momentum is None else self.momentum.params()), "eta": eta,
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


def _check_combination(problem: Problem, momentum, variable: bool = False) -> None:
    """Refuse the combinations of the module docstring, naming both sides (``variable``: eta is
    a learning-rate schedule)."""
    if momentum is not None and problem.spherical:
        raise ParameterError(f"momentum = {momentum!r} with constraint = spherical is not "
                             "supported: use plain (S)GD with the spherical constraint, or ridge "
                             "with momentum")
    if not variable:
        return
    for given, name in ((momentum is not None, f"momentum = {momentum!r}"),
                        (problem.temperature > 0, f"temperature = {problem.temperature}"),
                        (problem.spherical, "constraint = spherical")):
        if given:
            raise ParameterError(f"a learning-rate schedule (eta an array) with {name} is not "
                                 "supported: variable steps are for plain gradient descent")


def check_run(problem, schedule, eta, t_max, momentum=None) -> RunInputs:
    """Validate the shared inputs; raise ParameterError naming the first bad one."""
    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a quaddmft.Problem, got {problem!r}")
    schedule = FullBatch() if schedule is None else schedule
    if not isinstance(schedule, SelectionProcess):
        raise ParameterError(
            f"schedule must be FullBatch(), SGD(b) or PersistentSGD(b, tau), got {schedule!r}")
    if momentum is not None and not isinstance(momentum, Momentum):
        raise ParameterError(f"momentum must be None, HeavyBall(beta) or Nesterov(beta), "
                             f"got {momentum!r}")
    if np.ndim(eta) > 0 or isinstance(eta, (list, tuple)):
        _check_combination(problem, momentum, variable=True)
        steps, total, chain = _check_schedule_of_steps(eta, t_max, schedule)
        return RunInputs(problem, schedule, chain, steps, total, steps.size, momentum)
    eta = check_real("eta", eta, low=0.0)
    t_max = check_real("t_max", t_max, low=0.0)
    K = horizon(eta, t_max)
    if K < 1:
        raise ParameterError(f"t_max = {t_max} must be at least one step, eta = {eta}")
    _check_combination(problem, momentum)
    return RunInputs(problem, schedule, schedule.chain(eta), eta, t_max, K, momentum)
