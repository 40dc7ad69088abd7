r"""The ``Quadrature`` rule: deterministic averaging by Karhunen-Loeve modes and sparse grids,
with a global fixed-point iteration over the horizon.

Representation (THEORY section 3): htilde(k) = P(k) h(0) + eta sum_{j<k} R(k, j) xi(j), with
xi ~ GP(0, M_C). Given a covariance M (K x K, steps 0..K-1), xi = B zeta with B the
Karhunen-Loeve modes of M truncated at a discarded variance fraction ``kl_tol``; the Gaussian
coordinates (h0, h(0)/sqrt(R), zeta_1..zeta_n) are integrated by an anisotropic Smolyak grid of
Gauss-Hermite rules: h0 and h(0) cost 1, mode i costs 1 + log10(lambda_1 / lambda_i) /
``levels_per_decade`` (each decade of variance costs 1/levels_per_decade levels), clamped at
level - 1 so that every kept mode is integrated at least by the 3-point rule. The sum over c is exact
(reduced by the c -> -c symmetry). Coordinates that cannot matter are dropped: h0 when the data
are centred and m0 = 0, h(0) when R = 0.

Selection paths: b = 1 gives one path (fully deterministic). For b < 1 and K + 1 <= ``enumerate_up_to``
all 2^(K+1) paths are summed with their exact Markov probabilities; beyond, ``n_paths`` scrambled
Sobol' paths (a low-discrepancy set) carry the Gaussian quadrature inside, and ``n_path_replicates``
independent randomisations give a sampling error bar.

Because the modes need the whole M_C, the rule iterates: start from a causal ``QMC`` sweep, rebuild
modes and nodes from the current M_C, re-solve (a causal sweep with the noise map fixed), and stop
when max |Delta M_C|, |Delta Gamma| relative to max |M_C| is below ``tol``. Anderson mixing
(depth ``anderson``) accelerates the iteration; the history of changes is returned, and a
non-converged iteration raises ConvergenceError.

Training accuracy: the average of a 0/1 indicator, which a sparse grid (negative weights, fixed
nodes) integrates badly (errors of 0.1 were measured). It is therefore computed by an observer
pass: randomized-QMC nodes (``accuracy_rule``) driven by the converged m, P, R and M_C (the exact
Gaussian law of htilde, through the causal Cholesky map), Rao-Blackwellised over the newest
innovation; its ``train_accuracy_err`` is the standard error over the QMC randomisations.

Error indicator (``*_err`` of the other curves): |X(level) - X(level - 1)| + |X(kl_tol) - X(100 kl_tol)|
per time, each obtained by re-iterating from the converged kernels, plus (nested averaging) the
standard error over path randomisations. It estimates, and does not rigorously bound, the error,
and it is meant in sup norm over t: the difference between two levels crosses zero at some
times, where the pointwise value understates the local error. Measured (Fig. 1 settings, GD,
t <= 6, against level 8): sup error 1.1e-4 / 1.3e-5 / 4.9e-7 / 1.8e-7 at levels 3 / 4 / 5 / 6,
with sup indicator 2.6e-4 / 1.0e-4 / 1.4e-5 / 3.2e-7.
With ``level="auto"`` the level rises from 2 until the sup over t of the gen_error indicator is
below ``target`` (ConvergenceError at ``max_level``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import product

import numpy as np
from scipy.stats import qmc

from ._averaging import QMC, RULES, AveragingRule, NodeSet
from ._errors import ConvergenceError, check_int, check_power_of_two, check_real
from ._quadrature import KLModes, smolyak
from ._selection import path_probability, sample_paths
from ._solver import _Progress, causal_sweep, run_replicates

__all__ = ["Quadrature"]


def _averaged(results, K):
    """A stand-in sweep with the path-replicate mean of m, P, R and M_C (for the observer pass)."""
    first = results[0][0]
    mean = {name: np.mean([getattr(r[0], name) for r in results], axis=0) for name in ("m", "P", "R", "M_C")}
    return replace(first, **mean)

_CURVES = ("m", "C", "gen_error", "train_loss", "train_accuracy")
_KERNELS = ("Gamma", "M_C", "mu", "R", "P", "C_perp")


@dataclass(frozen=True)
class Quadrature(AveragingRule):
    """Deterministic rule: KL modes of M_C x anisotropic Smolyak Gauss-Hermite grid (module docstring).

    Parameters: ``level`` (int >= 1, or "auto"), ``kl_tol`` (discarded variance fraction),
    ``max_modes``, ``levels_per_decade``, ``tol`` (iteration), ``max_iter``, ``anderson`` (depth,
    0 = plain Picard), ``enumerate_up_to`` (max K+1 for exact s-path enumeration), ``n_paths``,
    ``n_path_replicates``, ``seed``, ``target`` and ``max_level`` (auto mode), ``indicator``
    (compute the error indicator; costs two more warm-started iterations).
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
        if self.level != "auto":
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

    @property
    def n_replicates(self) -> int:
        return self.n_path_replicates

    def params(self) -> dict:
        return {"rule": self.name, "level": self.level, "kl_tol": self.kl_tol,
                "max_modes": self.max_modes, "levels_per_decade": self.levels_per_decade,
                "tol": self.tol, "anderson": self.anderson, "enumerate_up_to": self.enumerate_up_to,
                "n_paths": self.n_paths, "n_path_replicates": self.n_path_replicates,
                "seed": self.seed, "target": self.target}

    # ----------------------------------------------------------------- nodes
    def gaussian_nodes(self, problem, modes: KLModes, level: int):
        """Smolyak nodes over (h0, h_init, zeta): returns (h0, h_init, zeta (n, n_modes), weights)."""
        clusters = problem.mixture.reduced_clusters()
        use_h0 = not (problem.m0 == 0.0 and np.all(clusters.c == 0.0))
        use_init = problem.R > 0.0
        variances = modes.variances
        costs = [1.0] * (use_h0 + use_init)
        if variances.size:
            decades = np.log10(variances[0] / np.maximum(variances, 1e-300))
            # Clamped at level - 1 so that every kept mode gets at least the 3-point rule: a
            # 1-point rule would silently drop the mode's variance (Gaussian moments need it).
            costs += list(np.minimum(1.0 + decades / self.levels_per_decade, max(level - 1, 1)))
        grid, weights = smolyak(costs, level)
        col = 0
        h0 = grid[:, col] if use_h0 else np.zeros(len(weights))
        col += use_h0
        h_init = grid[:, col] if use_init else np.zeros(len(weights))
        col += use_init
        return h0, h_init, grid[:, col:], weights

    def node_set(self, problem, paths, path_weights, modes, level, K):
        """Product of clusters x selection paths x Gaussian grid, as one NodeSet."""
        clusters = problem.mixture.reduced_clusters()
        h0, h_init, zeta, gw = self.gaussian_nodes(problem, modes, level)
        n_g, n_p, n_c = gw.size, len(path_weights), clusters.c.size
        ic, ip, ig = (a.ravel() for a in np.meshgrid(np.arange(n_c), np.arange(n_p), np.arange(n_g), indexing="ij"))
        return NodeSet(
            weight=clusters.prob[ic] * path_weights[ip] * gw[ig],
            c=clusters.c[ic], y=clusters.y[ic], h0=h0[ig], h_init=h_init[ig],
            innovations=np.ascontiguousarray(zeta[ig]),  # KLModes keeps >= 1 mode
            s=np.ascontiguousarray(paths[ip]),
        )

    def path_sets(self, chain, K):
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

    # ------------------------------------------------------------- iteration
    def iterate(self, problem, chain, eta, K, paths, path_weights, M_start, level, kl_tol, history, label):
        """Global fixed-point iteration M_C -> sweep(KL(M_C)) with Anderson mixing."""
        M = M_start.copy()
        iu = np.tril_indices(K + 1)
        xs, fs = [], []
        gamma_prev = None
        for it in range(1, self.max_iter + 1):
            modes = KLModes(M[:K, :K], kl_tol, self.max_modes)
            nodes = self.node_set(problem, paths, path_weights, modes, level, K)
            sweep = causal_sweep(problem, chain, eta, K, nodes, noise_map=modes.B)
            scale = max(np.abs(sweep.M_C).max(), 1e-300)
            change = np.abs(sweep.M_C - M).max() / scale
            if gamma_prev is not None:
                change = max(change, np.abs(sweep.Gamma - gamma_prev).max() / max(np.abs(sweep.Gamma).max(), 1e-300))
            gamma_prev = sweep.Gamma
            history.append({"stage": label, "iteration": it, "change": float(change),
                            "n_modes": modes.n_modes, "discarded": modes.discarded,
                            "n_nodes": int(nodes.size), "level": level, "kl_tol": kl_tol})
            if change < self.tol:
                return sweep, modes
            # Anderson (type II) mixing on the lower triangle of M_C.
            x, f = M[iu], sweep.M_C[iu] - M[iu]
            xs.append(x)
            fs.append(f)
            xs, fs = xs[-(self.anderson + 1):], fs[-(self.anderson + 1):]
            x_new = x + f
            if self.anderson and len(xs) > 1:
                dX = np.stack([xs[i + 1] - xs[i] for i in range(len(xs) - 1)], axis=1)
                dF = np.stack([fs[i + 1] - fs[i] for i in range(len(fs) - 1)], axis=1)
                gamma, *_ = np.linalg.lstsq(dF, f, rcond=None)
                x_new = x + f - (dX + dF) @ gamma
            M = np.zeros_like(M)
            M[iu] = x_new
            M = M + np.tril(M, -1).T
        raise ConvergenceError(
            f"quadrature iteration ({label}) did not reach tol = {self.tol:g} in {self.max_iter} "
            f"iterations (last change {history[-1]['change']:.3g}); raise max_iter or anderson",
            history=history,
        )

    def _solve_paths(self, problem, chain, eta, K, paths, weights, M0, level, history, tag):
        """Converged sweep at (level, kl_tol), and the two coarser ones for the indicator."""
        fine, _ = self.iterate(problem, chain, eta, K, paths, weights, M0, level, self.kl_tol,
                               history, f"{tag}level {level}")
        if not self.indicator:
            return fine, None
        coarse_level, _ = self.iterate(problem, chain, eta, K, paths, weights, fine.M_C,
                                       max(level - 1, 1), self.kl_tol, history, f"{tag}level {level - 1}")
        coarse_kl, _ = self.iterate(problem, chain, eta, K, paths, weights, fine.M_C, level,
                                    min(100 * self.kl_tol, 0.5), history, f"{tag}kl_tol x100")
        indicator = {name: np.abs(getattr(fine, name) - getattr(coarse_level, name))
                     + np.abs(getattr(fine, name) - getattr(coarse_kl, name)) for name in _CURVES}
        return fine, indicator

    def observe_accuracy(self, problem, chain, eta, K, solved):
        """Training accuracy by the randomized-QMC observer pass (module docstring)."""
        rule = self.accuracy_rule
        values = [causal_sweep(problem, chain, eta, K, rule.nodes(problem, chain, K, rng), frozen=solved).train_accuracy
                  for rng in rule.replicate_generators()]
        return np.mean(values, axis=0), np.std(values, axis=0, ddof=1) / math.sqrt(len(values))

    def run(self, problem, chain, eta, K, progress):
        start_rule = QMC(n_points=64, n_h0=4, n_replicates=2, seed=self.seed)
        start, _, _ = run_replicates(start_rule, problem, chain, eta, K, False)
        path_sets, sampled = self.path_sets(chain, K)
        history = []
        levels = [self.level] if self.level != "auto" else list(range(2, self.max_level + 1))
        tracker = _Progress(progress, len(levels) * len(path_sets), "quaddmft quadrature")
        M0 = start["M_C"]
        for level in levels:
            results = []
            for i, (paths, weights) in enumerate(path_sets):
                results.append(self._solve_paths(problem, chain, eta, K, paths, weights, M0, level,
                                                 history, f"paths {i}: " if sampled else ""))
                tracker.step(f"level {level}")
            fields = {}
            for name in _CURVES:
                values = np.stack([getattr(r[0], name) for r in results])
                spread = values.std(axis=0, ddof=1) / math.sqrt(len(results)) if sampled else 0.0
                quad = np.mean([r[1][name] for r in results], axis=0) if self.indicator else 0.0
                fields[name] = values.mean(axis=0)
                fields[f"{name}_err"] = np.hypot(spread, quad) + np.zeros(K + 1)
            for name in _KERNELS:
                fields[name] = np.mean([getattr(r[0], name) for r in results], axis=0)
            fields["train_accuracy"], fields["train_accuracy_err"] = self.observe_accuracy(
                problem, chain, eta, K, results[0][0] if len(results) == 1 else _averaged(results, K))
            if self.level != "auto":
                break
            if self.indicator and fields["gen_error_err"].max() <= self.target:
                break
            M0 = fields["M_C"]
        else:
            raise ConvergenceError(
                f"quadrature level reached max_level = {self.max_level} with gen_error indicator "
                f"{fields['gen_error_err'].max():.3g} > target = {self.target:g}", history=history)
        main = [h for h in history if h["level"] == level and h["kl_tol"] == self.kl_tol][-1]
        message = (f"quadrature: level {level}, {len(history)} sweeps in all, last change "
                   f"{main['change']:.2g}, {main['n_modes']} KL modes (discarded variance "
                   f"{main['discarded']:.1e}), {main['n_nodes']} nodes"
                   + (", nested path averaging" if sampled else ""))
        return fields, history, message


RULES["quadrature"] = Quadrature
