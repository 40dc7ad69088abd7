r"""Finite-d simulation of the real algorithm: (stochastic) gradient descent on a Gaussian mixture.

This is the independent check of the DMFT solver. It shares with the solver only the sample
losses (``Loss.terms``, i.e. ``_loss.loss_terms``) and the selection law (``Chain`` and
``sample_paths``); everything else is the plain finite-d algorithm (THEORY section 1,
paper eqs. 2, 5, 7-9), written in numpy so that the heavy work is two BLAS matrix-vector products
per step.

Data (paper eq. 2), with v = (1, ..., 1) and n = round(alpha d) samples:

    x_mu = c_mu v / sqrt(d) + sqrt(Delta) z_mu,   z_mu ~ N(0, I_d),   (c_mu, y_mu) ~ clusters().

Training loss (paper eq. 5) and its gradient, with r_mu = w.x_mu / sqrt(d):

    H(w)      = sum_mu Lambda(y_mu, r_mu) + (lam/2) |w|^2,
    grad H(w) = lam w + sum_mu Lambda'(y_mu, r_mu) x_mu / sqrt(d).

Algorithm (paper eq. 7; selection s_mu(k) in {0, 1} by eqs. 8/9, THEORY section 5):

    w(0)   = m0 v + sqrt(R) g,   g ~ N(0, I_d),
    w(k+1) = w(k) - eta [ lam w(k) + sum_mu s_mu(k) Lambda'(y_mu, r_mu(k)) x_mu / sqrt(d) ].

Observables recorded at every grid point t_k = k eta, k = 0..K:

    m = w.v/d,  C = |w|^2/d,  eps_gen = mixture.gen_error(m, C) (paper eqs. 24/25, exact given w),
    e = (1/d) sum_mu Lambda(y_mu, r_mu)         (paper eq. 21 at finite d: alpha <Lambda>),
    a = (1/n) #{mu : y_mu phi(r_mu) > 0}         (paper eq. 22),
    optionally the empirical test error (1/4) <(y - yhat)^2> on fresh points (paper eq. 23),
    yhat = +1 if phi(r) > 0 else -1.

Extensions (docs/theory.md section 8): the data may be any data model's (``Mixture.sample``:
teacher-student data, eq. 8.1); the update is the two-step rule of eq. 8.6,

    u(k+1) = a1 u(k) + a2 u(k-1) + b0 q(k) + b1 q(k-1),   q(k) = -eta g(k) + sqrt(2 eta T) z(k),

with (a1, a2, b0, b1) of the momentum (``_momentum``; u(-1) = u(0), q(-1) = 0), Langevin
noise z(k) ~ N(0, I_d) of the problem's temperature T, and, under the spherical constraint,
u <- sqrt(d) u / |u| after every step and at the start. Plain (S)GD without noise runs the
update of paper eq. 7 as written above, operation for operation.

Random streams: ``simulate`` derives one SeedSequence per seed from ``SeedSequence(seed)``, and
each of those five independent child streams (data, initial weights, selection, test points,
Langevin noise).
Separate streams keep the dataset and w(0) of a seed identical whatever the schedule and the
number of test points, so that runs differing only in the schedule are compared on the very same
data (common random numbers), and the deterministic chain (b = 1) can skip its uniforms without
shifting anything else.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError, check_int, divergence_reason
from ._inputs import check_run
from ._observables import CURVES, mean_and_standard_error
from ._problem import Problem
from ._resources import check_simulate
from ._result import SimulationResult, Status
from ._selection import Chain, SelectionProcess, sample_paths

_PLAIN = (1.0, 0.0, 1.0, 0.0)

__all__ = ["simulate", "make_dataset", "training_loss", "gradient", "simulation_state_vectors"]

# Indices of the child streams of one seed's SeedSequence (see the module docstring).
_STREAM_DATA, _STREAM_INIT, _STREAM_SELECTION, _STREAM_TEST, _STREAM_NOISE = range(5)


def n_samples(problem: Problem, d: int) -> int:
    """n = round(alpha d), the number of training samples at dimension d."""
    return int(round(problem.alpha * d))


def make_dataset(problem: Problem, d: int, rng: np.random.Generator):
    """Draw the training set of paper eq. 2 at dimension ``d`` from the generator ``rng``.

    Returns ``(X, y, c)``: X of shape (n, d) with rows x_mu = c_mu v/sqrt(d) + sqrt(Delta) z_mu,
    labels y (n,) and cluster coefficients c (n,), n = round(alpha d) (``n_samples``); the pairs
    (c_mu, y_mu) are i.i.d. from ``problem.mixture.clusters()`` (teacher-student data:
    ``TeacherStudent.sample``, eq. 8.1).

    Raises ParameterError if d is not an integer >= 1 or n would be 0. docs/theory.md eq. 1.1.

    Examples
    --------
    >>> import numpy as np
    >>> import quaddmft as qd
    >>> from quaddmft._simulator import make_dataset
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5))
    >>> X, y, c = make_dataset(problem, 50, np.random.default_rng(0))
    >>> X.shape, bool(np.all(y == c))
    ((100, 50), True)
    """
    d = check_int("d", d, low=1)
    n = n_samples(problem, d)
    if n < 1:
        raise ParameterError(
            f"d = {d} gives n = round(alpha d) = {n} samples at alpha = {problem.alpha}; "
            f"d must be at least {math.ceil(0.5 / problem.alpha)}"
        )
    return problem.mixture.sample(d, n, rng)


def _loss_terms(problem: Problem, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(Lambda, Lambda', Lambda'') at (y_mu, r_mu), shape (3, n); shared with the solver."""
    mixture = problem.mixture
    return problem.loss.terms(y, r, activation_code=mixture.activation_code, L=mixture.L)


def _preactivations(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """r_mu = w.x_mu / sqrt(d), shape (n,)."""
    return (X @ w) / math.sqrt(X.shape[1])


def training_loss(w, X, y, problem: Problem) -> float:
    """H(w) = sum_mu Lambda(y_mu, w.x_mu/sqrt(d)) + (lam/2) |w|^2 (paper eq. 5).

    Shapes: w (d,), X (n, d), y (n,). Returns a float. docs/theory.md eq. 1.4.

    Examples
    --------
    >>> import numpy as np
    >>> import quaddmft as qd
    >>> from quaddmft._simulator import make_dataset, training_loss
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic")
    >>> X, y, _ = make_dataset(problem, 50, np.random.default_rng(0))
    >>> round(training_loss(np.zeros(50), X, y, problem) / 100, 6)   # log 2 per sample at w = 0
    0.693147
    """
    w = np.asarray(w, dtype=float)
    r = _preactivations(w, X)
    return float(_loss_terms(problem, y, r)[0].sum() + 0.5 * problem.lam * (w @ w))


def gradient(w, X, y, s, problem: Problem, *, r=None) -> np.ndarray:
    """The update direction of paper eq. 7: lam w + sum_mu s_mu Lambda'(y_mu, r_mu) x_mu/sqrt(d).

    With s = 1 for every mu this is the gradient of ``training_loss``. Shapes: w (d,), X (n, d),
    y (n,), s (n,) with entries in {0, 1} (or any weights). ``r`` may pass the pre-activations
    r_mu = w.x_mu/sqrt(d) when the caller already has them (saves one matrix-vector product).
    Returns an array of shape (d,). docs/theory.md eq. 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> import quaddmft as qd
    >>> from quaddmft._simulator import gradient, make_dataset, training_loss
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.1)
    >>> X, y, _ = make_dataset(problem, 20, np.random.default_rng(1))
    >>> w, e = np.random.default_rng(2).standard_normal(20), np.eye(20)[3] * 1e-6
    >>> fd = (training_loss(w + e, X, y, problem) - training_loss(w - e, X, y, problem)) / 2e-6
    >>> bool(abs(gradient(w, X, y, np.ones(40), problem)[3] - fd) < 1e-6)
    True
    """
    w = np.asarray(w, dtype=float)
    if r is None:
        r = _preactivations(w, X)
    dloss = _loss_terms(problem, y, r)[1]
    return problem.lam * w + (X.T @ (s * dloss)) / math.sqrt(X.shape[1])


def _child(seed_seq: np.random.SeedSequence, index: int) -> np.random.Generator:
    """Generator of child stream ``index`` of ``seed_seq``.

    Built from the spawn key rather than with ``seed_seq.spawn``, which is stateful: calling it
    twice on the same object gives different children, and per-seed paths must be reproducible
    from the seed's SeedSequence alone.
    """
    child = np.random.SeedSequence(
        seed_seq.entropy, spawn_key=tuple(seed_seq.spawn_key) + (index,),
        pool_size=seed_seq.pool_size,
    )
    return np.random.default_rng(child)


def seed_sequences(seed: int, seeds: int) -> list[np.random.SeedSequence]:
    """The per-seed SeedSequences used by ``simulate``: ``SeedSequence(seed).spawn(seeds)``."""
    return np.random.SeedSequence(seed).spawn(seeds)


def _selection_paths(chain: Chain, n: int, K: int, rng: np.random.Generator) -> np.ndarray:
    """Selection paths s_mu(k), shape (n, K+1), by the law shared with the solver.

    A deterministic chain (full batch) draws no uniforms, so FullBatch() and PersistentSGD(b=1)
    give the identical run for the same seed.
    """
    if chain.deterministic:
        return np.ones((n, K + 1))
    return sample_paths(chain, rng.random((n, K + 1)))


def _eta_text(eta) -> str:
    """eta for a message: the number, or the largest step of a schedule."""
    return f"{eta}" if np.ndim(eta) == 0 else f"max(eta_k) = {np.max(eta):g}"


class _Update:
    """The update of the module docstring for one run: w(k) -> w(k+1) from the gradient g(k)."""

    def __init__(self, problem: Problem, momentum, eta, d: int, rng):
        # eta: a number, or the K steps of a learning-rate schedule (plain GD only: ``check_run``)
        self.eta, self.d, self.rng = eta, d, rng
        self.k = 0  # steps taken (the index into a schedule)
        self.coefficients = _PLAIN if momentum is None else momentum.coefficients
        self.noise_sd = math.sqrt(2.0 * eta * problem.temperature) if problem.temperature else 0.0
        self.spherical = problem.spherical
        self.plain = self.coefficients == _PLAIN and not self.noise_sd and not self.spherical
        self.previous = None  # (w(k-1), q(k-1))

    def project(self, w: np.ndarray) -> np.ndarray:
        """w on the sphere |w|^2 = d under the spherical constraint, else w."""
        return w * (math.sqrt(self.d) / np.linalg.norm(w)) if self.spherical else w

    def __call__(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.plain:
            eta = self.eta if np.ndim(self.eta) == 0 else self.eta[self.k]
            self.k += 1
            return w - eta * g
        a1, a2, b0, b1 = self.coefficients
        q = -self.eta * g
        if self.noise_sd:
            q += self.noise_sd * self.rng.standard_normal(w.size)
        w_prev, q_prev = self.previous if self.previous is not None else (w, 0.0 * q)
        self.previous = (w, q)
        return self.project(a1 * w + a2 * w_prev + b0 * q + b1 * q_prev)


@dataclass(frozen=True)
class SeedPath:
    """Per-step statistics of one run (one seed), each of shape (K+1,).

    ``gen_error_empirical`` is empty when no test points were requested. A run that diverged
    stops before the step ``divergence = (k, reason)`` names: its curves have k points.
    """

    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    gen_error_empirical: np.ndarray
    divergence: tuple | None = None

    def truncated(self, n: int) -> "SeedPath":
        """The first n points of every curve."""
        return SeedPath(*(getattr(self, f)[:n] if getattr(self, f).size else getattr(self, f)
                          for f in ("m", "C", "gen_error", "train_loss", "train_accuracy",
                                    "gen_error_empirical")), divergence=self.divergence)


def simulate_seed(problem: Problem, chain: Chain, *, eta, K: int, d: int,
                  seed_seq: np.random.SeedSequence, test_points: int = 0,
                  momentum=None) -> SeedPath:
    """Run the algorithm of the module docstring for K steps on one seed; return its path.

    ``eta``: the learning rate, or the array of the K steps of a schedule (docs/theory.md eq. 9.1).
    Inputs are assumed validated (``simulate`` does it). At the first grid point k where the
    run diverges (``_errors.divergence_reason`` on |w|^2/d, or non-finite pre-activations or
    loss) it stops and returns the path of steps 0..k-1 with ``divergence = (k, reason)``.
    """
    mixture = problem.mixture
    X, y, _ = make_dataset(problem, d, _child(seed_seq, _STREAM_DATA))
    n = X.shape[0]
    update = _Update(problem, momentum, eta, d, _child(seed_seq, _STREAM_NOISE))
    w = problem.m0 + math.sqrt(problem.R) * _child(seed_seq, _STREAM_INIT).standard_normal(d)
    w = update.project(w)
    s = _selection_paths(chain, n, K, _child(seed_seq, _STREAM_SELECTION))
    if test_points:
        X_test, y_test, _ = mixture.sample(d, test_points, _child(seed_seq, _STREAM_TEST))

    m = np.empty(K + 1)
    C = np.empty(K + 1)
    train_loss = np.empty(K + 1)
    train_accuracy = np.empty(K + 1)
    test_error = np.empty(K + 1 if test_points else 0)

    # Overflow is detected and reported as a divergence below; numpy's warnings on the way there
    # would only repeat it less clearly.
    divergence = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(K + 1):
            r = _preactivations(w, X)
            m[k] = w.sum() / d
            C[k] = (w @ w) / d
            reason = divergence_reason(C, k)
            if reason is None and not (np.isfinite(m[k]) and np.all(np.isfinite(r))):
                reason = "the weights are not finite"
            train_loss[k] = _loss_terms(problem, y, r)[0].sum() / d if reason is None else np.nan
            if reason is None and not np.isfinite(train_loss[k]):
                reason = f"the training loss is not finite (|w|^2/d = {C[k]:.3g})"
            if reason is not None:
                divergence = (k, f"{reason} (is eta = {_eta_text(eta)} beyond the stability limit?)")
                break
            train_accuracy[k] = np.mean(y * problem.mixture.phi(r) > 0.0)
            if test_points:
                test_error[k] = mixture.empirical_error(y_test, _preactivations(w, X_test))
            if k < K:
                w = update(w, gradient(w, X, y, s[:, k], problem, r=r))

    gen_error = np.asarray(mixture.gen_error(m, C), dtype=float)
    path = SeedPath(m=m, C=C, gen_error=gen_error, train_loss=train_loss,
                    train_accuracy=train_accuracy, gen_error_empirical=test_error,
                    divergence=divergence)
    return path if divergence is None else path.truncated(divergence[0])


def simulation_state_vectors(problem: Problem, momentum) -> int:
    """Vectors of length d the update keeps besides w (``_Update``): under momentum or Langevin
    noise w(k-1), q(k-1), q(k) and the noise draw; none for plain (S)GD."""
    return 4 if momentum is not None or problem.temperature > 0.0 else 0


def _check_sizes(problem, d, seeds, seed, test_points):
    d = check_int("d", d, low=1)
    if n_samples(problem, d) < 1:
        raise ParameterError(
            f"d = {d} gives no training sample at alpha = {problem.alpha} (n = round(alpha d) = 0)")
    return (d, check_int("seeds", seeds, low=2), check_int("seed", seed, low=0),
            check_int("test_points", test_points, low=0))


def _run_seeds(problem, chain, eta, K, d, seed_seqs, test_points, progress, momentum=None):
    """Every seed's path, one after the other; after a divergence at step k the later seeds
    stop there too and every path is cut to steps 0..k-1. Returns (paths, (k, reason) or None,
    the last step kept)."""
    started = time.perf_counter()
    paths, divergence = [], None
    for index, seed_seq in enumerate(seed_seqs):
        path = simulate_seed(problem, chain, eta=eta, K=K, d=d, seed_seq=seed_seq,
                             test_points=test_points, momentum=momentum)
        paths.append(path)
        if path.divergence is not None and (divergence is None or path.divergence[0] < divergence[0]):
            divergence = path.divergence
            K = divergence[0] - 1
        if progress:
            print(f"quaddmft simulate: seed {index + 1}/{len(seed_seqs)} done "
                  f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    if divergence is not None:
        if divergence[0] < 2:
            raise ParameterError(f"the run diverges at its first step ({divergence[1]}): "
                                 f"eta = {_eta_text(eta)} is beyond the stability limit")
        paths = [p.truncated(divergence[0]) for p in paths]
        warnings.warn(f"simulate: the run diverged at step k = {divergence[0]}: {divergence[1]}; "
                      f"the result stops before it (status 'diverged')", RuntimeWarning,
                      stacklevel=3)
    return paths, divergence, K


def _seed_statistics(paths: list[SeedPath]) -> dict:
    """Mean over seeds of every curve and its standard error ``<curve>_err``."""
    fields = {}
    with_test = paths[0].gen_error_empirical.size > 0
    for name in CURVES + (("gen_error_empirical",) if with_test else ()):
        fields[name], fields[f"{name}_err"] = mean_and_standard_error([getattr(p, name) for p in paths])
    if not with_test:
        fields["gen_error_empirical"] = np.empty(0)
        fields["gen_error_empirical_err"] = np.empty(0)
    return fields


def _law_note(schedule: SelectionProcess, chain: Chain) -> str:
    """Which selection law was simulated, in words and numbers (to be shown on plots)."""
    if chain.deterministic:
        return "full batch: s = 1 for every sample and step"
    law = getattr(schedule, "law", None)
    name = f"{schedule.name} ({law.name} law)" if law is not None else schedule.name
    return (f"{name}: s(0) ~ Bernoulli({chain.b:.6g}), P(0->1) = {chain.p_on:.6g}, "
            f"P(1->1) = {chain.p_stay:.6g} per step")


def simulate(problem: Problem, schedule: SelectionProcess | None = None, *, eta,
             t_max: float | None = None, d: int, seeds: int = 8, seed: int = 0,
             test_points: int = 0, momentum=None, progress: bool = False,
             max_memory: float | None = None) -> SimulationResult:
    r"""Simulate (S)GD at finite dimension d (paper eqs. 7-9) and average over independent seeds.

    Each seed draws its own dataset (n = round(alpha d) samples), w(0) = m0 v + sqrt(R) g and
    selection paths, then runs K = floor(t_max/eta + 1e-9) steps; see the module docstring for
    the equations and the recorded statistics. Seeds run one after the other; memory is about
    8 n d bytes (the data) + 16 n (K+1) bytes (uniforms and selection paths, not for full batch)
    + 8 test_points d bytes. Time is dominated by the two matrix-vector products with X per step.

    Parameters
    ----------
    problem : Problem
        Mixture, loss, ridge lam, initial variance R and mean overlap m0.
    schedule : SelectionProcess, default FullBatch()
        FullBatch(), SGD(b) or PersistentSGD(b, tau, law); ``schedule.chain(eta)`` is simulated
        with ``sample_paths``, the law the solver uses too.
    eta : float > 0, or a 1-D array of K positive steps
        Learning rate; the grid is t_k = k eta. An array is a learning-rate schedule (full-batch
        plain GD): step k -> k+1 uses eta_k, t_k = sum_{j<k} eta_j (``solve``'s counterpart).
    t_max : float >= eta
        Horizon in time units (None, or the sum of the steps, with a schedule).
    d : int >= 1
        Dimension.
    seeds : int >= 2
        Independent runs (dataset, w(0), selection); at least two for a standard error.
    seed : int >= 0
        Root of ``SeedSequence(seed).spawn(seeds)``: the same seed, a bit-identical result.
    test_points : int >= 0
        Fresh test points per seed (drawn once) for the empirical test error (0: none).
    momentum : Momentum, optional
        ``HeavyBall(beta)`` or ``Nesterov(beta)`` (docs/theory.md eq. 8.6); None: plain (S)GD.
    progress : bool  Print one line per finished seed on stderr.
    max_memory : float > 0, default 3/4 of the machine's memory
        Bytes the run may use (estimated before it starts, ``_resources.check_simulate``).

    Returns
    -------
    SimulationResult
        Mean over seeds of every curve (shape (K+1,)), standard error std(ddof=1)/sqrt(seeds)
        in ``*_err``; ``gen_error_empirical`` is empty without test points.

    Raises
    ------
    ParameterError  for invalid inputs (named, with the allowed range).
    A run that diverges (``_errors.divergence_reason``) is not an exception: the result has
    ``status`` "diverged", its curves stop before the step named in ``message``, and a
    RuntimeWarning says so.

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.0)
    >>> sim = qd.simulate(problem, qd.FullBatch(), eta=0.2, t_max=0.2, d=400, seeds=2)
    >>> sim.t.tolist(), float(sim.gen_error[0])    # w(0) = 0 at R = 0: a coin flip
    ([0.0, 0.2], 0.5)
    >>> bool(abs(sim.gen_error[1] - qd.bayes_optimal_error(2.0, 0.5)) < 0.05)   # eq. 6.3, O(1/sqrt(d))
    True
    """
    run = check_run(problem, schedule, eta, t_max, momentum)
    d, seeds, seed, test_points = _check_sizes(problem, d, seeds, seed, test_points)
    schedule, chain, eta, K = run.schedule, run.chain, run.eta, run.K
    check_simulate(n_samples(problem, d), d, K, seeds, test_points, not chain.deterministic,
                   max_memory, state_vectors=simulation_state_vectors(problem, run.momentum))
    started = time.perf_counter()
    paths, divergence, K = _run_seeds(problem, chain, eta, K, d, seed_sequences(seed, seeds),
                                      test_points, progress, run.momentum)
    params = {**run.params(), "d": d, "n": n_samples(problem, d), "seeds": seeds, "seed": seed,
              "test_points": test_points, "law_note": _law_note(schedule, chain)}
    status, message = Status.SUCCESS, f"{seeds} runs of K = {run.K} steps at d = {d}"
    if divergence is not None:
        status = Status.DIVERGED
        message = (f"diverged at step k = {divergence[0]} (t = {run.t[divergence[0]]:.6g}): "
                   f"{divergence[1]}; curves up to t = {run.t[K]:.6g}")
    return SimulationResult(
        t=run.t[: K + 1], params=params, status=status, message=message,
        wall_time=time.perf_counter() - started, **_seed_statistics(paths),
    )
