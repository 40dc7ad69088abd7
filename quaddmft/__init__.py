"""quaddmft: deterministic-quadrature DMFT of SGD on high-dimensional Gaussian-mixture classification.

Solves the d -> infinity dynamical mean-field theory of gradient descent, classical SGD and
Persistent-SGD (Mignacco, Krzakala, Urbani, Zdeborova, NeurIPS 2020) in discrete time, and
simulates the real algorithm at finite d to check it.

    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.0)
    >>> res = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=0.2)
    >>> round(float(res.gen_error[1]), 5)   # first GD step from w = 0: Bayes-optimal error
    0.10295

The module map is in docs/architecture.md.
"""

from ._errors import ConvergenceError, DivergenceError, ParameterError
from ._loss import LOSSES, Hinge2, Logistic, Loss, Square
from ._problem import (MIXTURES, FiniteDStart, Mixture, Problem, PureNoise, ThreeCluster,
                       TwoCluster, finite_d_m0)
from ._result import DMFTResult, SimulationResult, Status, load
from ._selection import (LAWS, SCHEDULES, SGD, ExactLaw, FullBatch, LinearLaw, PersistentSGD,
                         SelectionLaw, SelectionProcess)
from .rules import (QMC, RULES, AveragingRule, ErrorKind, MonteCarlo, Quadrature, Resolution,
                    rule_from_params)
from ._continuous import ContinuousTime
from ._solver import solve
from ._simulator import simulate
from . import references, statics
from .references import bayes_optimal_error, oracle_error, oracle_threshold

__all__ = [
    "AveragingRule", "ContinuousTime", "ConvergenceError", "DMFTResult", "DivergenceError", "ErrorKind",
    "ExactLaw", "FiniteDStart", "FullBatch", "Hinge2", "LAWS", "LOSSES", "LinearLaw", "Logistic",
    "Loss", "MIXTURES", "Mixture", "MonteCarlo", "ParameterError", "PersistentSGD", "Problem",
    "PureNoise", "QMC", "Quadrature", "RULES", "Resolution", "SCHEDULES", "SGD", "SelectionLaw",
    "SelectionProcess", "SimulationResult", "Square", "Status", "ThreeCluster", "TwoCluster",
    "bayes_optimal_error", "finite_d_m0", "load", "oracle_error", "oracle_threshold",
    "references", "rule_from_params", "simulate", "solve", "statics",
]
__version__ = "0.1.0"
