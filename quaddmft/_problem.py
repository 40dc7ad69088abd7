r"""Problem definition: the Gaussian mixture, the loss, ridge and the initial condition.

Data (paper eq. 2): x_mu = c_mu v / sqrt(d) + sqrt(Delta) z_mu with v = (1, ..., 1), n = alpha d.

* ``TwoCluster``:   c = +-1 with probability 1/2, y = c, linear activation phi(r) = r.
* ``ThreeCluster``: c = 0 w.p. 1/2 (y = -1), c = +-1 w.p. 1/4 each (y = +1), door activation
  phi(r) = r^2 - L^2 (paper eqs. 3, 4, 6).
* ``PureNoise``:    c = 0, y = 0 (labels carry nothing); with the square loss the dynamics is
  linear and exactly solvable (THEORY section 6).

Generalisation error given the overlap m = w.v/d and the norm C = |w|^2/d (exact at any d,
paper eqs. 24, 25):

    two clusters:   eps = erfc(m / sqrt(2 Delta C)) / 2
    three clusters: eps = erfc(L / sqrt(2 Delta C)) / 2
                          + [erf((L - m)/sqrt(2 Delta C)) + erf((L + m)/sqrt(2 Delta C))] / 4
    pure noise:     eps = 1/4 (eq. 23 with y = 0: (0 - yhat)^2 / 4 = 1/4 for every w).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf, erfc

from ._errors import ParameterError, check_int, check_real, choose
from ._loss import ACT_DOOR, ACT_LINEAR, LOSSES, Loss, Logistic
from ._quadrature import gauss_hermite
from .references import bayes_optimal_error

__all__ = ["Mixture", "TwoCluster", "ThreeCluster", "PureNoise", "Problem", "FiniteDStart",
           "MIXTURES", "finite_d_m0", "LabelFactor", "Spherical", "CONSTRAINTS"]


@dataclass(frozen=True)
class Clusters:
    """Cluster centres c, labels y and probabilities, as float arrays of equal length."""

    c: np.ndarray
    y: np.ndarray
    prob: np.ndarray


@dataclass(frozen=True)
class LabelFactor:
    """The outer factor of a deterministic rule's node set: the label groups of a data model.

    Group g has probability ``prob[g]``, centre ``c[g]``, and its own rule for h0: nodes
    ``h0[g, i]`` with weights ``h0_weight[g, i]`` (each row sums to 1) and labels ``y[g, i]``.
    ``weight()`` flattens it (group-major) into the per-node weights prob[g] h0_weight[g, i].
    ``interpolable``: every group uses the same standard Gauss-Hermite nodes ``h0[0]`` and one
    label, so that the training accuracy may be integrated across h0 by interpolation over the
    standard fine grid (``_observables.interpolated_accuracy``). Otherwise ``fine`` may give,
    per group, its own fine grid for that integral: ``(h0 (G, F), weight (G, F), y (G, F))``, the
    group's law of h0 discretised (weights of a group summing to 1) with the label at each
    point; without either, the plain weighted mean is used.
    """

    prob: np.ndarray  # (G,)
    c: np.ndarray  # (G,)
    h0: np.ndarray  # (G, n)
    h0_weight: np.ndarray  # (G, n)
    y: np.ndarray  # (G, n)
    interpolable: bool = False
    fine: tuple | None = None

    def weight(self) -> np.ndarray:
        """prob[g] h0_weight[g, i], flattened group-major (the product order of ``tensor_product``)."""
        return (self.prob[:, None] * self.h0_weight).ravel()

    def arrays(self) -> dict:
        """``{"c", "y", "h0"}`` flattened group-major, one entry per (group, h0 node)."""
        n = self.h0.shape[1]
        return {"c": np.repeat(self.c, n), "y": self.y.ravel().copy(), "h0": self.h0.ravel().copy()}


@dataclass(frozen=True)
class Mixture:
    """Base class of the data models: sample ratio ``alpha`` = n/d and noise variance ``delta``.

    Subclasses (``TwoCluster``, ``ThreeCluster``, ``PureNoise``) give the centres, labels and
    activation of docs/theory.md eq. 1.1 and ``gen_error(m, C)``, eqs. 4.2-4.3. ``alpha`` > 0,
    ``delta`` > 0, else ParameterError.

    Examples
    --------
    >>> import quaddmft as qd
    >>> sorted(qd.MIXTURES), qd.MIXTURES["two"] is qd.TwoCluster
    (['noise', 'three', 'two'], True)
    >>> isinstance(qd.PureNoise(alpha=0.5, delta=1.0), qd.Mixture)
    True
    """

    alpha: float
    delta: float

    activation_code = ACT_LINEAR
    name = "abstract"
    title = "abstract mixture"
    # True when the loss is invariant under w -> -w (even activation): then m = 0 is a symmetric
    # state of the d -> infinity dynamics, which averaging rules must not break themselves (and
    # which a DMFT started at m0 = 0 never leaves: start it at FiniteDStart(d)).
    w_sign_symmetric = False
    # False when phi'' != 0 (the door): the loss curvature in r is then unbounded and no
    # step size is stable for every r (quaddmft.testing caps the step instead).
    bounded_curvature = True

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_real("alpha", self.alpha, low=0.0))
        object.__setattr__(self, "delta", check_real("delta", self.delta, low=0.0))

    @property
    def L(self) -> float:
        return 0.0

    def clusters(self) -> Clusters:
        raise NotImplementedError

    def phi(self, r: np.ndarray) -> np.ndarray:
        """The activation phi(r) (the table of docs/theory.md section 1): linear unless a subclass
        says otherwise."""
        return r

    def reduced_clusters(self) -> Clusters:
        """Clusters after the exact symmetry (c, h0, htilde) -> -(c, h0, htilde).

        Under it r -> -r; for y = c with linear phi, or for an even phi with y(c) = y(-c),
        Lambda(y, r) is invariant and Lambda' flips sign, so every kernel (Gamma, M_C, mu) and
        observable is unchanged. Averaging over c = -1 therefore equals averaging over c = +1,
        and the sum over c can be restricted to c >= 0 with the weights folded.
        """
        full = self.clusters()
        keep = full.c >= 0
        prob = np.where(full.c[keep] > 0, 2.0, 1.0) * full.prob[keep]
        return Clusters(full.c[keep].copy(), full.y[keep].copy(), prob)

    def label_factor(self, n_h0: int) -> LabelFactor:
        """The label groups of the deterministic rules (``LabelFactor``): the clusters after the
        exact c -> -c symmetry (``reduced_clusters``), each with the ``n_h0``-point Gauss-Hermite
        rule for h0 and its constant label y(c). The data-model hook of the averaging rules:
        a model whose labels depend on h0 (``TeacherStudent``) overrides it."""
        clusters = self.reduced_clusters()
        nodes, weights = gauss_hermite(n_h0)
        G = clusters.c.size
        return LabelFactor(prob=clusters.prob, c=clusters.c, h0=np.tile(nodes, (G, 1)),
                           h0_weight=np.tile(weights, (G, 1)),
                           y=np.repeat(clusters.y[:, None], nodes.size, axis=1), interpolable=True)

    def sample_effective(self, n: int, rng: np.random.Generator):
        """n i.i.d. draws of (c, y, h0) of the effective sample (the Monte Carlo rule's hook):
        the cluster from its probability, h0 ~ N(0, 1)."""
        clusters = self.clusters()
        which = rng.choice(clusters.c.size, size=n, p=clusters.prob)
        return clusters.c[which], clusters.y[which], rng.standard_normal(n)

    def sample(self, d: int, n: int, rng: np.random.Generator):
        """n points of the data model at dimension d: (X (n, d), y (n,), c (n,)), eq. 1.1."""
        clusters = self.clusters()
        which = rng.choice(clusters.prob.size, size=n, p=clusters.prob)
        c = clusters.c[which]
        y = clusters.y[which]
        # In place: X is the largest array of a run (8 n d bytes); no second copy at the peak.
        X = rng.standard_normal((n, d))
        X *= math.sqrt(self.delta)
        # c_mu v / sqrt(d) with v = (1, ..., 1) adds c_mu / sqrt(d) to every coordinate.
        X += (c / math.sqrt(d))[:, None]
        return X, y, c

    def empirical_error(self, y: np.ndarray, r: np.ndarray) -> float:
        """The test error on points with labels y and pre-activations r (paper eq. 23):
        (1/4) mean (y - yhat)^2 with yhat = sign(phi(r)) (+1 at phi = 0 excluded: -1)."""
        y_hat = np.where(self.phi(r) > 0.0, 1.0, -1.0)
        return float(0.25 * np.mean((y - y_hat) ** 2))

    def h0_enters(self, m0: float) -> bool:
        """False when every centre is c = 0 and m0 = 0 (pure noise): then mu = 0, m = 0 for
        ever and h0 never enters the dynamics (docs/theory.md eq. 3.3)."""
        return not (m0 == 0.0 and np.all(self.clusters().c == 0.0))

    @property
    def centre_bound(self) -> float:
        """max |c| over the clusters (bounds the mean part of X/sqrt(d))."""
        return float(np.max(np.abs(self.clusters().c)))

    def gen_error(self, m, C):
        raise NotImplementedError

    def bayes_optimal_error(self) -> float | None:
        """The Bayes-optimal test error where a closed form is known (two clusters), else None."""
        return None

    def params(self) -> dict:
        return {"model": self.name, "alpha": self.alpha, "delta": self.delta}


@dataclass(frozen=True)
class TwoCluster(Mixture):
    """Two symmetric clusters at +-v/sqrt(d), y = c, linear activation (paper section 2).

    docs/theory.md eq. 1.1; ``alpha`` > 0 samples per dimension, ``delta`` > 0 noise variance.

    Examples
    --------
    >>> from quaddmft import TwoCluster
    >>> two = TwoCluster(alpha=2.0, delta=0.5)
    >>> float(two.gen_error(0.0, 1.0))             # m = 0: a coin flip
    0.5
    >>> round(float(two.gen_error(1.0, 1.0)), 6)   # erfc(1) / 2
    0.07865
    """

    name = "two"
    title = "two-cluster"

    def clusters(self) -> Clusters:
        return Clusters(np.array([1.0, -1.0]), np.array([1.0, -1.0]), np.array([0.5, 0.5]))

    def gen_error(self, m, C):
        """eps_gen = erfc(m / sqrt(2 Delta C)) / 2 (paper eq. 24)."""
        m, C = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(C, dtype=float))
        out = np.full(m.shape, 0.5)  # C = 0 means w = 0 (then m = 0): a coin flip
        norm = C > 0.0
        out[norm] = 0.5 * erfc(m[norm] / np.sqrt(2.0 * self.delta * C[norm]))
        return out[()] if out.ndim == 0 else out

    def bayes_optimal_error(self) -> float:
        """docs/theory.md eq. 6.3 (``quaddmft.bayes_optimal_error``)."""
        return bayes_optimal_error(self.alpha, self.delta)


@dataclass(frozen=True)
class ThreeCluster(Mixture):
    """Three clusters (c = 0 labelled -1, c = +-1 labelled +1) with the door activation.

    docs/theory.md eq. 1.1 with phi(r) = r^2 - L^2; ``L`` > 0 is the door half-width. Start the
    DMFT at m0=FiniteDStart(d) (docs/theory.md section 3).

    Examples
    --------
    >>> from quaddmft import ThreeCluster
    >>> three = ThreeCluster(alpha=3.0, delta=0.05, L=0.7)
    >>> three.clusters().c, three.reduced_clusters().prob
    (array([ 0.,  1., -1.]), array([0.5, 0.5]))
    >>> float(three.gen_error(0.0, 1.0))           # m = 0: no better than chance
    0.5
    """

    L_: float = field(default=0.7)
    activation_code = ACT_DOOR
    name = "three"
    title = "three-cluster"
    w_sign_symmetric = True
    bounded_curvature = False

    def __init__(self, alpha: float, delta: float, L: float):
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "delta", delta)
        object.__setattr__(self, "L_", check_real("L", L, low=0.0))
        self.__post_init__()

    @property
    def L(self) -> float:
        return self.L_

    def __repr__(self):
        return f"ThreeCluster(alpha={self.alpha!r}, delta={self.delta!r}, L={self.L_!r})"

    def clusters(self) -> Clusters:
        return Clusters(
            np.array([0.0, 1.0, -1.0]), np.array([-1.0, 1.0, 1.0]), np.array([0.5, 0.25, 0.25])
        )

    def phi(self, r: np.ndarray) -> np.ndarray:
        """The door activation phi(r) = r^2 - L^2 (paper eq. 4)."""
        return r * r - self.L_**2

    def gen_error(self, m, C):
        """Paper eq. 25."""
        m, C = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(C, dtype=float))
        out = np.full(m.shape, 0.5)  # C = 0: w = 0 predicts y = -1 everywhere, wrong on half
        norm = C > 0.0
        s = np.sqrt(2.0 * self.delta * C[norm])
        L, mm = self.L_, m[norm]
        out[norm] = 0.5 * erfc(L / s) + 0.25 * (erf((L - mm) / s) + erf((L + mm) / s))
        return out[()] if out.ndim == 0 else out

    def params(self) -> dict:
        return {**super().params(), "L": self.L_}


@dataclass(frozen=True)
class PureNoise(Mixture):
    """c = 0 and y = 0: the exactly solvable reference of THEORY section 6 (square loss).

    docs/theory.md eqs. 6.1-6.2.

    Examples
    --------
    >>> from quaddmft import PureNoise
    >>> float(PureNoise(alpha=2.0, delta=0.5).gen_error(0.3, 1.0))
    0.25
    """

    name = "noise"
    title = "pure noise"

    def clusters(self) -> Clusters:
        return Clusters(np.array([0.0]), np.array([0.0]), np.array([1.0]))

    def gen_error(self, m, C):
        """Paper eq. 23 with y = 0: every prediction is off by one, eps = 1/4."""
        return np.full(np.broadcast(np.asarray(m), np.asarray(C)).shape, 0.25)


MIXTURES = {"two": TwoCluster, "three": ThreeCluster, "noise": PureNoise}


@dataclass(frozen=True)
class FiniteDStart:
    """The DMFT start m(0) = E|m(0)| = sqrt(2 R / (pi d)) of a random start in dimension ``d``.

    THEORY section 3: the three-cluster (door) dynamics is symmetric under w -> -w, so a DMFT
    started at m0 = 0 stays at m = 0 for ever; the paper starts it at the finite-d average overlap
    of w(0) ~ N(0, R I_d). Pass it as ``Problem(..., m0=FiniteDStart(d))``; the problem resolves
    it with its own R. ``d`` is an integer >= 1.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.ThreeCluster(3.0, 0.05, 0.7), "logistic", R=0.01,
    ...                      m0=qd.FiniteDStart(5000))
    >>> round(problem.m0, 10), problem.m0_d
    (0.0011283792, 5000)
    """

    d: int

    def __post_init__(self):
        object.__setattr__(self, "d", check_int("d", self.d, low=1))

    def m0(self, R: float) -> float:
        return finite_d_m0(R, self.d)


@dataclass(frozen=True)
class Spherical:
    """The spherical constraint |w|^2 = d, in place of ridge: w <- sqrt(d) w / |w| after every
    step (and at the start), in the simulator and in the DMFT alike (docs/theory.md eq. 8.9).

    Pass it as ``Problem(..., constraint=Spherical())`` with ``lam = 0`` and an initial
    condition on the sphere, m0^2 + R = 1. The effective regularisation is then dynamical: the
    projection acts as a time-dependent Lagrange multiplier fixed by C(k) = 1.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=1.0, constraint=qd.Spherical())
    >>> problem.params()["constraint"]
    'spherical'
    """

    name = "spherical"

    def check(self, problem) -> None:
        """Refuse a problem the projection does not describe (ParameterError naming both)."""
        if problem.lam != 0.0:
            raise ParameterError(
                f"constraint = spherical with lam = {problem.lam!r}: the spherical constraint "
                "replaces ridge (the projection absorbs the decay 1 - eta lam); set lam = 0")
        if not math.isclose(problem.m0**2 + problem.R, 1.0, rel_tol=1e-12, abs_tol=1e-12):
            raise ParameterError(
                f"constraint = spherical needs the initial condition on the sphere, "
                f"m0^2 + R = 1, got m0 = {problem.m0!r}, R = {problem.R!r}")


CONSTRAINTS = {"spherical": Spherical}


@dataclass(frozen=True)
class Problem:
    """The learning problem: mixture, loss, ridge ``lam`` >= 0, init variance ``R`` >= 0, ``m0``.

    w(0) ~ N(0, R I_d); the DMFT starts from the overlap m(0) = m0 (0 for a random start at
    d -> infinity). ``loss`` may be a Loss object or one of the names in ``LOSSES``.

    ``m0=FiniteDStart(d)`` starts the DMFT at the finite-d average E|m(0)| = sqrt(2 R / (pi d))
    of a random start in dimension d (THEORY section 3; needed for the three-cluster model, whose
    symmetric dynamics never leaves eps = 0.5 from m0 = 0). It is resolved here: ``m0`` becomes
    that float and ``m0_d`` records d (both in ``params()``). The older spelling
    ``m0="finite-d", m0_d=d`` still works and warns. A float m0 with ``m0_d`` is accepted only if
    it equals sqrt(2 R / (pi m0_d)) (so that ``dataclasses.replace`` round-trips). The simulator
    starts from w(0) = m0 v + sqrt(R) g, so the random start it refers to is simulated with
    m0 = 0 (``replace(problem, m0=0.0, m0_d=None)``).

    ``temperature`` T >= 0: Langevin noise sqrt(2 eta T) N(0, I_d) added to every step
    (docs/theory.md eq. 8.8); the stationary law of full-batch GD on a convex loss is then
    close (O(eta)) to the Gibbs measure exp(-H/T). ``constraint``: None (ridge ``lam``) or
    ``Spherical()`` (|w|^2 = d by projection; needs lam = 0 and m0^2 + R = 1). Both are stored
    in ``params()`` only when set, so that the parameters of the plain problem are unchanged.

    docs/theory.md eqs. 2.1 (w(0)) and 3.8 (m(0) = m0). Raises ParameterError naming the
    parameter for a bad mixture, loss name, lam < 0, R < 0, m0, temperature < 0 or constraint.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "square", lam=0.1, R=0.01)
    >>> problem.loss, problem.alpha
    (Square(), 2.0)
    >>> problem.params()
    {'model': 'two', 'alpha': 2.0, 'delta': 0.5, 'loss': 'square', 'lam': 0.1, 'R': 0.01, 'm0': 0.0}
    """

    mixture: Mixture
    loss: Loss = field(default_factory=Logistic)
    lam: float = 0.0
    R: float = 0.01
    m0: float = 0.0
    m0_d: int | None = None
    temperature: float = 0.0
    constraint: Spherical | None = None

    def __post_init__(self):
        if not isinstance(self.mixture, Mixture):
            raise ParameterError(
                f"mixture must be a Mixture (TwoCluster, ThreeCluster, PureNoise), got {self.mixture!r}"
            )
        loss = self.loss
        if isinstance(loss, str):
            loss = choose("loss", loss, LOSSES)
        if not isinstance(loss, Loss):
            raise ParameterError(f"loss must be a Loss or one of {sorted(LOSSES)}, got {loss!r}")
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "lam", check_real("lam", self.lam, low=0.0, low_open=False))
        object.__setattr__(self, "R", check_real("R", self.R, low=0.0, low_open=False))
        object.__setattr__(self, "m0", self._resolve_m0())
        object.__setattr__(self, "temperature",
                           check_real("temperature", self.temperature, low=0.0, low_open=False))
        constraint = self.constraint
        if isinstance(constraint, str):
            constraint = choose("constraint", constraint, CONSTRAINTS)()
        if constraint is not None and not isinstance(constraint, Spherical):
            raise ParameterError(f"constraint must be None or Spherical(), got {constraint!r}")
        object.__setattr__(self, "constraint", constraint)
        if constraint is not None:
            constraint.check(self)

    @property
    def spherical(self) -> bool:
        """True under the spherical constraint (``Spherical``)."""
        return self.constraint is not None

    def _resolve_m0(self) -> float:
        m0 = self.m0
        if isinstance(m0, FiniteDStart):
            if self.m0_d is not None and self.m0_d != m0.d:
                raise ParameterError(f"m0 = {m0!r} and m0_d = {self.m0_d!r} disagree; pass only m0")
            object.__setattr__(self, "m0_d", m0.d)
            return m0.m0(self.R)
        if isinstance(m0, str):
            if m0 != "finite-d":
                raise ParameterError(f"m0 must be a real number or FiniteDStart(d), got {m0!r}")
            if self.m0_d is None:
                raise ParameterError(
                    "m0 = 'finite-d' needs m0_d, the dimension d of the finite-d start "
                    "sqrt(2 R / (pi d)); pass m0=FiniteDStart(d) instead")
            warnings.warn("m0='finite-d', m0_d=d is deprecated; pass m0=FiniteDStart(d)",
                          DeprecationWarning, stacklevel=4)
            d = check_int("m0_d", self.m0_d, low=1)
            object.__setattr__(self, "m0_d", d)
            return finite_d_m0(self.R, d)
        m0 = check_real("m0", m0)
        if self.m0_d is None:
            return m0
        d = check_int("m0_d", self.m0_d, low=1)
        object.__setattr__(self, "m0_d", d)
        value = finite_d_m0(self.R, d)
        if not math.isclose(m0, value, rel_tol=1e-12, abs_tol=0.0):
            raise ParameterError(
                f"m0_d = {d} is given with m0 = {m0!r}, but the finite-d start is "
                f"sqrt(2 R / (pi d)) = {value!r}; pass m0=FiniteDStart(d) (or drop m0_d)")
        return value

    @property
    def alpha(self) -> float:
        return self.mixture.alpha

    @property
    def delta(self) -> float:
        return self.mixture.delta

    @property
    def h0_enters(self) -> bool:
        """False when every centre is c = 0 and m0 = 0 (pure noise): then mu = 0, m = 0 for ever
        and h0 never enters the dynamics (docs/theory.md eq. 3.3); ``Mixture.h0_enters``."""
        return self.mixture.h0_enters(self.m0)

    def params(self) -> dict:
        return {
            **self.mixture.params(),
            "loss": self.loss.name,
            "lam": self.lam,
            "R": self.R,
            "m0": self.m0,
            **({} if self.m0_d is None else {"m0_d": self.m0_d}),
            **({} if self.temperature == 0.0 else {"temperature": self.temperature}),
            **({} if self.constraint is None else {"constraint": self.constraint.name}),
        }


def finite_d_m0(R: float, d: int) -> float:
    """E|m(0)| = sqrt(2 R / (pi d)) for w(0) ~ N(0, R I_d): the paper's DMFT start for three clusters.

    ``R`` >= 0 the initial variance, ``d`` >= 1 the dimension (docs/theory.md section 3).

    Examples
    --------
    >>> from quaddmft import finite_d_m0
    >>> round(finite_d_m0(0.01, 5000), 10)
    0.0011283792
    """
    return math.sqrt(2.0 * R / (math.pi * d))
