r"""``Quadrature``: deterministic averaging by Karhunen-Loeve modes and sparse grids.

Representation (THEORY section 3): htilde(k) = P(k) h(0) + eta sum_{j<k} R(k, j) xi(j), with
xi ~ GP(0, M_C). Given a covariance M (K x K, steps 0..K-1), xi = B zeta with B the
Karhunen-Loeve modes of M truncated at a discarded variance fraction ``kl_tol``; the Gaussian
coordinates (h0, h(0)/sqrt(R), zeta_1..zeta_n) are integrated by an anisotropic Smolyak grid of
Gauss-Hermite rules: h0 and h(0) cost 1, mode i costs 1 + log10(lambda_1 / lambda_i) /
``levels_per_decade`` (each decade of variance costs 1/levels_per_decade levels), clamped at
level - 1 so that every kept mode is integrated at least by the 3-point rule. The sum over c is
exact (reduced by the c -> -c symmetry). Coordinates that cannot matter are dropped: h0 when the
data are centred and m0 = 0, h(0) when R = 0.

Selection paths: b = 1 gives one path (fully deterministic). For b < 1 and K + 1 <=
``enumerate_up_to`` all 2^(K+1) paths are summed with their exact Markov probabilities; beyond,
``n_paths`` scrambled Sobol' paths (a low-discrepancy set) carry the Gaussian quadrature inside,
and ``n_path_replicates`` independent randomisations give a sampling error bar.

Because the modes need the whole M_C, the solver iterates (``_solver``, ``_fixed_point``): start
from a causal ``QMC`` sweep (``start_rule``), rebuild modes and nodes from the current M_C,
re-solve (a causal sweep with the noise basis fixed), and stop when max |Delta M_C|,
|Delta Gamma| relative to max |M_C| is below ``tol``, with Anderson mixing of depth ``anderson``.

Training accuracy: the average of a 0/1 indicator, which a sparse grid (negative weights, fixed
nodes) integrates badly (errors of 0.1 were measured). It is therefore computed by an observer
pass: randomized-QMC nodes (``accuracy_rule``) driven by the converged m, P, R and M_C,
Rao-Blackwellised over the newest innovation; its ``train_accuracy_err`` is the standard error
over the QMC randomisations.

Error indicator (``*_err`` of the other curves): |X(level) - X(level - 1)| + |X(kl_tol) -
X(100 kl_tol)| per time (the ``coarser`` variants, each iterated from the converged kernels),
plus (nested averaging) the standard error over path randomisations. It estimates, and does not
rigorously bound, the error, and it is meant in sup norm over t: the difference between two
levels crosses zero at some times, where the pointwise value understates the local error.
Measured (Fig. 1 settings, GD, t <= 6, against level 8): sup error 1.1e-4 / 1.3e-5 / 4.9e-7 /
1.8e-7 at levels 3 / 4 / 5 / 6, with sup indicator 2.6e-4 / 1.0e-4 / 1.4e-5 / 3.2e-7.
With ``level="auto"`` the levels 2..``max_level`` are tried in turn until the sup over t of the
gen_error indicator is below ``target`` (ConvergenceError at ``max_level``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

import numpy as np
from scipy.stats import qmc

from .._errors import ParameterError, check_int, check_power_of_two, check_real
from .._quadrature import KLModes, smolyak, tensor_product
from .._selection import path_probability, sample_paths
from ._base import ModalRule, NodeSet
from .qmc import QMC

__all__ = ["Quadrature", "FixedPointOptions"]


@dataclass(frozen=True)
class FixedPointOptions:
    """Stopping rule and acceleration of the global iteration (``_fixed_point.anderson``)."""

    tol: float
    max_iter: int
    anderson: int


@dataclass(frozen=True)
class Quadrature(ModalRule):
    """Deterministic rule: KL modes of M_C x anisotropic Smolyak Gauss-Hermite grid (module docstring).

    Parameters: ``level`` (int >= 1, or "auto"), ``kl_tol`` (discarded variance fraction),
    ``max_modes``, ``levels_per_decade``, ``tol`` (iteration), ``max_iter``, ``anderson`` (depth,
    0 = plain Picard), ``enumerate_up_to`` (max K+1 for exact s-path enumeration), ``n_paths``,
    ``n_path_replicates``, ``seed``, ``target`` and ``max_level`` (auto mode), ``indicator``
    (compute the error indicator; costs two more warm-started iterations), ``accuracy_rule``
    (the QMC rule of the training-accuracy observer pass).

    Examples
    --------
    >>> import quaddmft as qd
    >>> rule = qd.Quadrature(level=3)
    >>> [r.level for r in rule.coarser()], [r.kl_tol for r in rule.coarser()]
    ([2, 3], [1e-08, 1e-06])
    """

    level: int | str = 4
    kl_tol: float = 1e-8
    max_modes: int = 12
    levels_per_decade: float = 1.0
    tol: float = 1e-10
    max_iter: int = 80
    anderson: int = 5
    enumerate_up_to: int = 10
    n_paths: int = 64
    n_path_replicates: int = 4
    seed: int = 0
    target: float = 1e-6
    max_level: int = 8
    indicator: bool = True
    accuracy_rule: QMC = QMC(n_points=128, n_h0=8, n_replicates=8)
    name = "quadrature"

    def __post_init__(self):
        if self.level != "auto":  # the one string, resolved here at the boundary (candidates)
            object.__setattr__(self, "level", check_int("level", self.level, low=1))
        object.__setattr__(self, "kl_tol", check_real("kl_tol", self.kl_tol, low=0.0, high=1.0))
        object.__setattr__(self, "max_modes", check_int("max_modes", self.max_modes, low=1))
        object.__setattr__(self, "levels_per_decade",
                           check_real("levels_per_decade", self.levels_per_decade, low=0.0))
        object.__setattr__(self, "tol", check_real("tol", self.tol, low=0.0))
        object.__setattr__(self, "max_iter", check_int("max_iter", self.max_iter, low=1))
        object.__setattr__(self, "anderson", check_int("anderson", self.anderson, low=0))
        object.__setattr__(self, "enumerate_up_to", check_int("enumerate_up_to", self.enumerate_up_to, low=0))
        object.__setattr__(self, "n_paths", check_power_of_two("n_paths", self.n_paths))
        object.__setattr__(self, "n_path_replicates", check_int("n_path_replicates", self.n_path_replicates, low=2))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))
        object.__setattr__(self, "target", check_real("target", self.target, low=0.0))
        object.__setattr__(self, "max_level", check_int("max_level", self.max_level, low=2))
        if not isinstance(self.accuracy_rule, QMC):
            raise ParameterError(f"accuracy_rule must be a QMC rule, got {self.accuracy_rule!r}")

    # ------------------------------------------------------------ for the solver
    @property
    def start_rule(self) -> QMC:
        """The causal sweep that gives the first covariance of the iteration."""
        return QMC(n_points=64, n_h0=4, n_replicates=2, seed=self.seed)

    @property
    def observer(self) -> QMC:
        return self.accuracy_rule

    @property
    def fixed_point(self) -> FixedPointOptions:
        return FixedPointOptions(self.tol, self.max_iter, self.anderson)

    def candidates(self):
        if self.level == "auto":
            return tuple(replace(self, level=level) for level in range(2, self.max_level + 1))
        return (self,)

    def accepts(self, gen_error_err) -> bool:
        if self.level != "auto":
            return True
        return gen_error_err is not None and gen_error_err.max() <= self.target

    def search_exhausted(self, gen_error_err) -> str:
        return (f"quadrature level reached max_level = {self.max_level} with gen_error indicator "
                f"{gen_error_err.max():.3g} > target = {self.target:g}")

    def coarser(self):
        if not self.indicator:
            return ()
        return (replace(self, level=max(self.level - 1, 1)),
                replace(self, kl_tol=min(100 * self.kl_tol, 0.5)))

    def describe(self) -> dict:
        return {"level": self.level, "kl_tol": self.kl_tol}

    def modes(self, covariance, K):
        return KLModes(covariance[:K, :K], self.kl_tol, self.max_modes)

    # --------------------------------------------------------------------- nodes
    def gaussian_nodes(self, problem, modes: KLModes):
        """Smolyak nodes over (h0, h_init, zeta): returns (h0, h_init, zeta (n, n_modes), weights)."""
        use_h0 = problem.h0_enters
        use_init = problem.R > 0.0
        variances = modes.variances
        costs = [1.0] * (use_h0 + use_init)
        if variances.size:
            decades = np.log10(variances[0] / np.maximum(variances, 1e-300))
            # Clamped at level - 1 so that every kept mode gets at least the 3-point rule: a
            # 1-point rule would silently drop the mode's variance (Gaussian moments need it).
            costs += list(np.minimum(1.0 + decades / self.levels_per_decade, max(self.level - 1, 1)))
        grid, weights = smolyak(costs, self.level)
        col = 0
        h0 = grid[:, col] if use_h0 else np.zeros(len(weights))
        col += use_h0
        h_init = grid[:, col] if use_init else np.zeros(len(weights))
        col += use_init
        return h0, h_init, grid[:, col:], weights

    def nodes(self, problem, chain, K, part, modes):
        """Product of clusters x selection paths x Gaussian grid, as one NodeSet."""
        paths, path_weights = part
        clusters = problem.mixture.reduced_clusters()
        h0, h_init, zeta, gw = self.gaussian_nodes(problem, modes)
        weight, a = tensor_product(
            (clusters.prob, {"c": clusters.c, "y": clusters.y}),
            (path_weights, {"s": paths}),
            (gw, {"h0": h0, "h_init": h_init, "innovations": zeta}),  # KLModes keeps >= 1 mode
        )
        return NodeSet(weight=weight, c=a["c"], y=a["y"], h0=a["h0"], h_init=a["h_init"],
                       innovations=np.ascontiguousarray(a["innovations"]),
                       s=np.ascontiguousarray(a["s"]), noise_basis=modes.B)

    def parts(self, problem, chain, K):
        """[(paths, weights)] per path replicate, and whether they carry sampling error."""
        if chain.deterministic:
            return [(np.ones((1, K + 1)), np.ones(1))], False
        if K + 1 <= self.enumerate_up_to:
            paths = np.array(list(product((0.0, 1.0), repeat=K + 1)))
            prob = path_probability(chain, paths)
            keep = prob > 0.0
            return [(paths[keep], prob[keep])], False
        sets = []
        for ss in np.random.SeedSequence(self.seed).spawn(self.n_path_replicates):
            u = qmc.Sobol(d=K + 1, scramble=True, seed=np.random.default_rng(ss)).random(self.n_paths)
            sets.append((sample_paths(chain, u), np.full(self.n_paths, 1.0 / self.n_paths)))
        return sets, True
