r"""Hypothesis strategies over valid (and invalid) quaddmft parameters, for property-based tests.

Requires ``hypothesis`` (a test dependency: ``pip install "quaddmft[test]"``).

    from hypothesis import given
    from quaddmft.testing import problems, schedules, stable_step_sizes

    @given(problem=problems(), data=st.data())
    def test_something(problem, data):
        eta = data.draw(stable_step_sizes(problem))
        schedule = data.draw(schedules(eta))
        ...

Ranges are chosen so that every drawn configuration is valid input *and* a well-posed run:

* alpha in [0.3, 4], Delta in [0.1, 2], lambda in [0, 1], R in [0.01, 1.5], L in [0.3, 1.5];
* step sizes below half the stability limit of full-batch GD, 2 / (lambda + kappa x_top), where
  x_top bounds the top eigenvalue of X^T X / d (``stability_limit``) and kappa bounds the
  loss curvature (1/4 logistic, 1 square and squared hinge, linear activation); the door activation
  of the three-cluster model has unbounded curvature, so its step is capped at 0.1;
* Persistent-SGD taus satisfying the linear law's constraint tau >= eta max(1, (1-b)/b)
  (THEORY section 5), or any tau > 0 with the exact law.

``invalid_reals`` draws values that every real parameter must refuse with ParameterError.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from ._problem import Problem, PureNoise, ThreeCluster, TwoCluster
from ._selection import SGD, ExactLaw, FullBatch, PersistentSGD
from .rules import QMC

__all__ = [
    "alphas", "deltas", "lams", "init_variances", "door_widths", "mixtures", "losses", "problems",
    "stable_step_sizes", "batch_fractions", "schedules", "horizons", "small_rules",
    "invalid_reals", "curvature_bound", "stability_limit",
]

_FLOAT = dict(allow_nan=False, allow_infinity=False)


def alphas(low: float = 0.3, high: float = 4.0):
    """Sample ratio alpha = n/d."""
    return st.floats(low, high, **_FLOAT)


def deltas(low: float = 0.1, high: float = 2.0):
    """Noise variance Delta."""
    return st.floats(low, high, **_FLOAT)


def lams(low: float = 0.0, high: float = 1.0):
    """Ridge lambda >= 0."""
    return st.floats(low, high, **_FLOAT)


def init_variances(low: float = 0.01, high: float = 1.5):
    """Initial variance R of w(0) ~ N(0, R I)."""
    return st.floats(low, high, **_FLOAT)


def door_widths(low: float = 0.3, high: float = 1.5):
    """Door half-width L of the three-cluster activation."""
    return st.floats(low, high, **_FLOAT)


def mixtures(kinds=("two", "three", "noise")):
    """TwoCluster, ThreeCluster and/or PureNoise with valid parameters."""
    options = []
    if "two" in kinds:
        options.append(st.builds(TwoCluster, alphas(), deltas()))
    if "three" in kinds:
        options.append(st.builds(ThreeCluster, alphas(), deltas(), door_widths()))
    if "noise" in kinds:
        options.append(st.builds(PureNoise, alphas(), deltas()))
    return st.one_of(options)


def losses(names=("logistic", "square", "squared-hinge")):
    """Loss names accepted by ``Problem``."""
    return st.sampled_from(list(names))


def problems(mixture=None, loss=None, lam=None, R=None, m0=None):
    """Problems; each argument is a strategy (default: the full valid range above, m0 = 0).

    With the door activation (three clusters) the square and squared-hinge losses are quartic in
    r and GD on them blows up from an O(1) start, so three-cluster problems get the logistic loss
    (whatever ``loss`` offers).
    """
    def build(mix):
        loss_strategy = losses() if loss is None else loss
        if not mix.bounded_curvature:
            loss_strategy = st.just("logistic")
        return st.builds(
            Problem, st.just(mix), loss_strategy,
            lam=lams() if lam is None else lam,
            R=init_variances() if R is None else R,
            m0=st.just(0.0) if m0 is None else m0,
        )

    return (mixtures() if mixture is None else mixture).flatmap(build)


def curvature_bound(problem: Problem) -> float:
    """Upper bound of Lambda'' for the linear activation (1/4 logistic, 1 otherwise)."""
    return problem.loss.curvature_bound


def stability_limit(problem: Problem) -> float:
    """2 / (lambda + kappa x_top): full-batch GD (linear phi) is stable below it.

    x_top = (max|c| sqrt(alpha) + sqrt(Delta) (1 + sqrt(alpha)))^2 bounds the top eigenvalue of
    X^T X / d up to finite-d fluctuations of the edge (Delta (1 + sqrt(alpha))^2, the Marchenko-Pastur edge, for pure noise).
    """
    # |X/sqrt(d)| <= sqrt(alpha) max|c| + sqrt(Delta) (1 + sqrt(alpha)) (mean part + MP edge).
    c_max = problem.mixture.centre_bound
    top = (c_max * math.sqrt(problem.alpha)
           + math.sqrt(problem.delta) * (1.0 + math.sqrt(problem.alpha))) ** 2
    return 2.0 / (problem.lam + curvature_bound(problem) * top)


def stable_step_sizes(problem: Problem, low: float = 0.02, high: float = 0.3, safety: float = 0.5):
    """Step sizes in [low, min(high, safety * stability_limit)] (capped at 0.1 for the door)."""
    cap = min(high, safety * stability_limit(problem))
    if not problem.mixture.bounded_curvature:
        cap = min(cap, 0.1)
    return st.floats(min(low, cap), cap, **_FLOAT)


def batch_fractions(low: float = 0.1, high: float = 0.9):
    """Batch fraction b in [low, high]."""
    return st.floats(low, high, **_FLOAT)


def schedules(eta: float, kinds=("gd", "sgd", "persistent", "persistent-exact")):
    """Valid selection processes at step size eta (the linear law's tau constraint respected)."""
    options = []
    if "gd" in kinds:
        options.append(st.just(FullBatch()))
    if "sgd" in kinds:
        options.append(st.builds(SGD, batch_fractions()))
    if "persistent" in kinds:
        options.append(batch_fractions().flatmap(lambda b: st.builds(
            PersistentSGD, st.just(b),
            st.floats(1.0, 5.0).map(lambda f: f * eta * max(1.0, (1.0 - b) / b)))))
    if "persistent-exact" in kinds:
        options.append(st.builds(PersistentSGD, batch_fractions(), st.floats(0.05, 5.0, **_FLOAT),
                                 law=st.just(ExactLaw())))
    return st.one_of(options)


def horizons(low: int = 3, high: int = 12):
    """Number of steps K (keep small: the solver costs O(N K^3))."""
    return st.integers(low, high)


def small_rules(seed=None):
    """Cheap QMC rules (32 Sobol' points x 8 Gauss-Hermite nodes for h0 x 4 replicates).

    Fewer h0 nodes bias sharp observables without the replicate spread showing it (4 nodes: the
    training accuracy off by 7e-3 at Delta = 0.25); use larger rules to compare with simulations.
    """
    return st.builds(QMC, n_points=st.just(32), n_h0=st.just(8), n_replicates=st.just(4),
                     seed=st.integers(0, 2**16) if seed is None else st.just(seed))


def invalid_reals(low: float | None = 0.0, high: float | None = None, low_open: bool = True,
                  high_open: bool = True):
    """Values a real parameter with the given allowed interval must refuse.

    Non-finite floats, non-numbers (str, None, bool), and finite values outside the interval.
    """
    bad = [st.sampled_from([math.nan, math.inf, -math.inf, "1.0", None, True, [1.0]])]
    if low is not None:
        below = st.floats(max_value=low, exclude_max=not low_open, **_FLOAT)
        bad.append(below)
    if high is not None:
        bad.append(st.floats(min_value=high, exclude_min=not high_open, **_FLOAT))
    return st.one_of(bad)
