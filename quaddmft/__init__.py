"""quaddmft: deterministic-quadrature DMFT of SGD on high-dimensional Gaussian-mixture classification.

Solves the d -> infinity dynamical mean-field theory of gradient descent, classical SGD and
Persistent-SGD (Mignacco, Krzakala, Urbani, Zdeborova, NeurIPS 2020) in discrete time, and
simulates the real algorithm at finite d to check it; beyond the mixtures, teacher-student
data, heavy-ball and Nesterov momentum, Langevin noise and the spherical constraint.

    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.0)
    >>> res = qd.solve(problem, qd.FullBatch(), eta=0.2, t_max=0.2)
    >>> round(float(res.gen_error[1]), 5)   # first GD step from w = 0: Bayes-optimal error
    0.10295

The module map is in docs/architecture.md.
"""

import importlib

# Where each public name lives. The package is imported lazily (PEP 562): ``import quaddmft``
# loads nothing heavy, and ``quaddmft --help`` answers without loading numba, scipy or
# matplotlib; a name's module is imported on first use (``qd.solve``, ``from quaddmft import
# Problem``).
_EXPORTS = {
    "._errors": ("ConvergenceError", "DivergenceError", "UnresolvedSelectionError", "ErrorKind", "FileFormatError",
                 "ParameterError"),
    "._loss": ("LOSSES", "Hinge2", "Logistic", "Loss", "Square"),
    "._problem": ("CONSTRAINTS", "MIXTURES", "FiniteDStart", "Mixture", "Problem", "PureNoise",
                  "Spherical", "ThreeCluster", "TwoCluster", "finite_d_m0"),
    "._teacher": ("TEACHERS", "LinearTeacher", "SignTeacher", "Teacher", "TeacherStudent"),
    "._momentum": ("MOMENTA", "HeavyBall", "Momentum", "Nesterov"),
    "._result": ("DMFTResult", "SimulationResult", "Status", "load"),
    "._selection": ("LAWS", "SCHEDULES", "SGD", "ClippedLinearLaw", "ExactLaw", "FullBatch",
                    "LinearLaw", "PersistentSGD", "SelectionLaw", "SelectionProcess"),
    ".rules": ("QMC", "RULES", "AveragingRule", "MonteCarlo", "Quadrature", "Resolution",
               "rule_from_params"),
    "._continuous": ("ContinuousTime",),
    "._solver": ("solve",),
    "._simulator": ("simulate",),
    "._sweep_grid": ("SweepGrid",),
    "._sweep_run": ("sweep",),
    ".plotting": ("plot_sweep",),
    ".references": ("bayes_optimal_error", "oracle_error", "oracle_threshold"),
}
_MODULES = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = ("references", "statics")

__all__ = sorted([*_MODULES, *_SUBMODULES])


def __getattr__(name):
    if name in _MODULES:
        value = getattr(importlib.import_module(_MODULES[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'quaddmft' has no attribute {name!r}")
    globals()[name] = value  # resolved once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"
