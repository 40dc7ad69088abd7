"""Averaging rules: how the average <.> over the effective sample is discretised.

* ``MonteCarlo`` (``montecarlo.py``): i.i.d. samples of everything, c included (the paper's
  approach); replicates give a standard error.
* ``QMC`` (``qmc.py``): exact sum over c, Gauss-Hermite over h0, scrambled Sobol' over h(0), the
  innovations of xi and the selection uniforms; replicates give a standard error.
* ``Quadrature`` (``quadrature.py``, the default): deterministic, on a ladder of resolutions --
  Karhunen-Loeve modes of C_perp on a sparse Gauss-Hermite grid (full-batch GD, short horizons
  with every selection path), or one fixed Sobol' set with the selection drawn by the sweep
  against the nodes' state (array-RQMC); its error is estimated by refinement.

``RULES`` maps the names of the command line and TOML files to the classes; ``rule_from_params``
rebuilds a rule from the ``params()`` stored in a result.
"""

from .._errors import ErrorKind
from ._base import AveragingRule, NodeSet, RefinedRule, SampledRule
from .montecarlo import MonteCarlo
from .qmc import QMC
from .quadrature import Quadrature, Resolution

__all__ = ["AveragingRule", "SampledRule", "RefinedRule", "NodeSet", "ErrorKind", "MonteCarlo",
           "QMC", "Quadrature", "Resolution", "RULES", "rule_from_params"]

RULES = {"qmc": QMC, "montecarlo": MonteCarlo, "quadrature": Quadrature}


def rule_from_params(params: dict) -> AveragingRule:
    """The rule whose ``params()`` are ``params`` (extra keys, such as a result's problem
    parameters, are ignored).

    Examples
    --------
    >>> import quaddmft as qd
    >>> rule = qd.Quadrature(tolerance=1e-6, ladder=(qd.Resolution(level=2), qd.Resolution(level=3)))
    >>> rule_from_params(rule.params()) == rule
    True
    """
    import dataclasses

    from .._errors import choose

    cls = choose("rule", params.get("rule"), RULES)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in params:
            value = params[f.name]
            if isinstance(value, dict):
                value = rule_from_params(value)
            elif f.name == "ladder" and value is not None:
                value = tuple(Resolution(**r) for r in value)
            kwargs[f.name] = value
    return cls(**kwargs)
