"""The inputs every run shares, validated once for ``solve`` and ``simulate``: problem, selection
process, momentum and the time grid t_k = k eta, k = 0..K, K = floor(t_max / eta).

The one combination that no equation of docs/theory.md covers is refused here, with a
ParameterError naming both sides: momentum with the spherical constraint (where the velocity
would be taken, before or after the projection, is a choice the model does not make). The
spherical constraint with ridge, and off the sphere at the start, are refused by ``Spherical``."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """Validated problem, schedule (default FullBatch()), its law at eta, eta, t_max, K and the
    momentum (None: plain (S)GD)."""

    problem: Problem
    schedule: SelectionProcess
    chain: Chain
    eta: float
    t_max: float
    K: int
    momentum: Momentum | None = None

    def params(self) -> dict:
        """Parameters of the problem, the schedule, the momentum and the grid, as stored in
        results (the momentum only when given)."""
        chain = self.chain
        return {**self.problem.params(), **self.schedule.params(),
                **({} if self.momentum is None else self.momentum.params()), "eta": self.eta,
                "t_max": self.t_max, "K": self.K,
                "chain": {"b": chain.b, "p_on": chain.p_on, "p_stay": chain.p_stay}}


def _check_combination(problem: Problem, momentum) -> None:
    """Refuse the combination of the module docstring, naming both sides."""
    if momentum is not None and problem.spherical:
        raise ParameterError(f"momentum = {momentum!r} with constraint = spherical is not "
                             "supported: use plain (S)GD with the spherical constraint, or ridge "
                             "with momentum")


def check_run(problem, schedule, eta, t_max, momentum=None) -> RunInputs:
    """Validate the shared inputs; raise ParameterError naming the first bad one."""
    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a quaddmft.Problem, got {problem!r}")
    schedule = FullBatch() if schedule is None else schedule
    if not isinstance(schedule, SelectionProcess):
        raise ParameterError(
            f"schedule must be FullBatch(), SGD(b) or PersistentSGD(b, tau), got {schedule!r}")
    eta = check_real("eta", eta, low=0.0)
    t_max = check_real("t_max", t_max, low=0.0)
    K = horizon(eta, t_max)
    if K < 1:
        raise ParameterError(f"t_max = {t_max} must be at least one step, eta = {eta}")
    if momentum is not None and not isinstance(momentum, Momentum):
        raise ParameterError(f"momentum must be None, HeavyBall(beta) or Nesterov(beta), "
                             f"got {momentum!r}")
    _check_combination(problem, momentum)
    return RunInputs(problem, schedule, schedule.chain(eta), eta, t_max, K, momentum)
