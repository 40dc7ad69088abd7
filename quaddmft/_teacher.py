r"""Teacher-student data: Gaussian inputs labelled by a teacher acting on w*.x (docs/theory.md 8.1).

Normalisation (chosen to map onto the mixtures' effective process with c = 0, Delta = 1):

    x_mu ~ N(0, I_d),   h0_mu = w*.x_mu / sqrt(d) ~ N(0, 1),   w* = v = (1, ..., 1) (|w*|^2 = d),
    y_mu = +-f(h0_mu + sqrt(noise) xi_mu),   xi_mu ~ N(0, 1),  the sign flipped with probability flip.

The student's pre-activation is r = w.x/sqrt(d) = h + m h0 with m = w.w*/d and h the field of the
part of w orthogonal to w*: eq. 3.3 with c = 0 and Delta = 1, so the whole DMFT of section 3
applies unchanged; only the labels, now a function of h0, differ. They enter the averaging
rules through one hook, ``TeacherStudent.label_factor`` (label groups, each with its own rule
for h0), and the Monte Carlo rule and the simulator through ``sample_effective`` and ``sample``.

Teachers (``TEACHERS``): ``LinearTeacher`` f(u) = u (regression, label-noise variance ``noise``),
``SignTeacher`` f(u) = sign(u) (classification; Gaussian noise before the sign and/or label
flips), and ``Teacher(f, name, classification)`` for a user-supplied vectorised function.

Generalisation error, exact at any d given m and C (fresh x independent of w; r = m h0 +
sqrt(C - m^2) g):

    regression:      eps = E[(y - r)^2] = E[y^2] - 2 m E[y h0] + C     (linear: 1 + noise - 2m + C)
    classification:  eps = P(sign(r) != y);  sign teacher: flip + (1 - 2 flip) arccos(rho)/pi,
                     rho = m / sqrt(C (1 + noise))                                 (eqs. 8.3-8.4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from ._errors import ParameterError, check_real, choose
from ._problem import LabelFactor, Mixture
from ._quadrature import gauss_hermite, half_gauss_hermite
from .references import ridge_regression

__all__ = ["TeacherStudent", "Teacher", "LinearTeacher", "SignTeacher", "TEACHERS"]

# Quadrature of the generic closed forms (moments of a user teacher, its classification error).
_MOMENT_NODES = 96
_FINE = ndtri((np.arange(1024) + 0.5) / 1024)
# Fine grids of the training accuracy's integral over h0 (``LabelFactor.fine``): midpoints in
# Phi(h0) of the whole line and of the half-line h0 > 0, equal weights.
_FINE_POINTS = 512
_FINE_LINE = ndtri((np.arange(_FINE_POINTS) + 0.5) / _FINE_POINTS)
_FINE_HALF = ndtri(0.5 + (np.arange(_FINE_POINTS) + 0.5) / (2 * _FINE_POINTS))


class Teacher:
    """A teacher y = f(u), u = h0 + sqrt(noise) xi: ``f`` vectorised, ``classification`` True when
    f takes the values +-1 (the test error is then a classification error, and the rules split
    the h0 integral at u = 0, where such an f typically jumps).

    Examples
    --------
    >>> import numpy as np
    >>> import quaddmft as qd
    >>> cubic = qd.Teacher(lambda u: u**3, name="cubic")
    >>> cubic(np.array([2.0])), cubic.classification
    (array([8.]), False)
    """

    def __init__(self, f, name: str = "custom", classification: bool = False):
        if not callable(f):
            raise ParameterError(f"teacher must be callable (a vectorised f(u)), got {f!r}")
        self.f, self.name, self.classification = f, str(name), bool(classification)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.f(np.asarray(u, dtype=float)), dtype=float)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self), self.name))

    def label_groups(self, n: int, noise: float) -> LabelFactor:
        """Label groups before flips (docs/theory.md section 8.1). The label is a function of the
        teacher's field u = h0 + sqrt(noise) xi ~ N(0, 1 + noise), and given u,
        h0 = u / (1 + noise) + b g with b^2 = noise / (1 + noise), g ~ N(0, 1). So: u on an
        n-point rule (Gauss-Hermite; for a classification teacher the two half-normal rules
        u > 0 and u < 0, each side with its constant label), g on n Gauss-Hermite nodes (one
        node, g = 0, without noise); one group per (side of u, node of g), its h0 nodes the
        images of the u nodes. Every integrand is then smooth on each group's nodes."""
        scale = math.sqrt(1.0 + noise)
        g, p = gauss_hermite(n) if noise > 0.0 else (np.zeros(1), np.ones(1))
        offset = (math.sqrt(noise) / scale) * g[:, None]  # b g_j
        if self.classification:
            x, w = half_gauss_hermite(n)
            sides = [(-x[::-1], w[::-1], -_FINE_HALF[::-1]), (x, w, _FINE_HALF)]
            side_prob = np.array([0.5, 0.5])
        else:
            x, w = gauss_hermite(n)
            sides, side_prob = [(x, w, _FINE_LINE)], np.ones(1)
        parts = []
        for (u_nodes, u_weights, u_fine), q in zip(sides, side_prob):
            u, fine_u = scale * u_nodes, scale * u_fine
            parts.append((q * p, u[None, :] / scale**2 + offset, np.tile(u_weights, (g.size, 1)),
                          np.tile(self(u), (g.size, 1)), fine_u[None, :] / scale**2 + offset,
                          np.tile(self(fine_u), (g.size, 1))))
        prob, h0, h0_weight, y, fine_h0, fine_y = (np.concatenate(a) for a in zip(*parts))
        return LabelFactor(prob=prob, c=np.zeros(prob.size), h0=h0, h0_weight=h0_weight, y=y,
                           fine=(fine_h0, np.full(fine_h0.shape, 1.0 / fine_h0.shape[1]), fine_y))

    def moments(self, noise: float) -> tuple[float, float]:
        """(E[f(u)^2], E[f(u) h0]), u = h0 + sqrt(noise) xi (Gauss-Hermite, 96 x 96 nodes)."""
        x, w = gauss_hermite(_MOMENT_NODES)
        y = self(x[:, None] + math.sqrt(noise) * x[None, :])
        ww = np.outer(w, w)
        return float(np.sum(ww * y * y)), float(np.sum(ww * y * x[:, None]))

    def classification_error(self, m, C, noise: float):
        """P(sign(r) != f(u)), r = m h0 + sqrt(C - m^2) g: midpoint rule in Phi(h0) x
        Gauss-Hermite in xi (generic; ``SignTeacher`` has the closed form)."""
        xi, p = gauss_hermite(32)
        y = self(_FINE[:, None] + math.sqrt(noise) * xi[None, :])  # (fine, xi)
        spread = np.sqrt(np.maximum(C - m * m, 1e-300))
        arg = -(m[..., None, None] * _FINE[:, None] * y) / spread[..., None, None]
        return np.mean(ndtr(arg) @ p, axis=-1)


class LinearTeacher(Teacher):
    """f(u) = u: linear regression with Gaussian label noise of variance ``noise``."""

    def __init__(self):
        super().__init__(lambda u: u, "linear", False)

    def moments(self, noise):
        return 1.0 + noise, 1.0


class SignTeacher(Teacher):
    """f(u) = sign(u): the perceptron teacher (classification), Gaussian noise before the sign."""

    def __init__(self):
        super().__init__(lambda u: np.where(u > 0.0, 1.0, -1.0), "sign", True)

    def moments(self, noise):
        return 1.0, math.sqrt(2.0 / (math.pi * (1.0 + noise)))

    def classification_error(self, m, C, noise):
        rho = m / np.sqrt(np.maximum(C, 1e-300) * (1.0 + noise))
        return np.arccos(np.clip(rho, -1.0, 1.0)) / math.pi


TEACHERS = {"linear": LinearTeacher(), "sign": SignTeacher()}


@dataclass(frozen=True)
class TeacherStudent(Mixture):
    """Teacher-student data (module docstring): x ~ N(0, I_d), y = +-f(w*.x/sqrt(d) + sqrt(noise) xi).

    ``alpha`` > 0 samples per dimension; ``teacher``: a name in ``TEACHERS`` (``"linear"``,
    ``"sign"``) or a ``Teacher``; ``noise`` >= 0: variance of the Gaussian noise added to the
    teacher's field (for the linear teacher: the label-noise variance Delta); ``flip`` in
    [0, 1/2]: probability of flipping the sign of a label. The data variance is 1 (``delta``);
    m = w.w*/d. docs/theory.md eqs. 8.1-8.4.

    Examples
    --------
    >>> import quaddmft as qd
    >>> ts = qd.TeacherStudent(alpha=2.0, teacher="linear", noise=0.1)
    >>> ts.delta, round(float(ts.gen_error(0.0, 0.0)), 12)     # w = 0 predicts 0: E[y^2]
    (1.0, 1.1)
    >>> ts.params()
    {'model': 'teacher-student', 'alpha': 2.0, 'teacher': 'linear', 'noise': 0.1, 'flip': 0.0}
    >>> round(float(qd.TeacherStudent(2.0, "sign").gen_error(1.0, 1.0)), 12)   # w = w*
    0.0
    """

    teacher_: Teacher = field(default=None)
    noise: float = 0.0
    flip: float = 0.0
    name = "teacher-student"
    title = "teacher-student"

    def __init__(self, alpha: float, teacher="linear", noise: float = 0.0, flip: float = 0.0):
        if isinstance(teacher, str):
            teacher = choose("teacher", teacher, TEACHERS)
        if not isinstance(teacher, Teacher):
            raise ParameterError(f"teacher must be a Teacher or one of {sorted(TEACHERS)}, "
                                 f"got {teacher!r}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "delta", 1.0)
        object.__setattr__(self, "teacher_", teacher)
        object.__setattr__(self, "noise", check_real("noise", noise, low=0.0, low_open=False))
        object.__setattr__(self, "flip", check_real("flip", flip, low=0.0, high=0.5,
                                                    low_open=False, high_open=False))
        self.__post_init__()

    @property
    def teacher(self) -> Teacher:
        return self.teacher_

    def __repr__(self):
        return (f"TeacherStudent(alpha={self.alpha!r}, teacher={self.teacher.name!r}, "
                f"noise={self.noise!r}, flip={self.flip!r})")

    def clusters(self):
        raise ParameterError("teacher-student data has no clusters: its labels depend on h0 "
                             "(TeacherStudent.label_factor is the averaging rules' hook)")

    @property
    def centre_bound(self) -> float:
        return 0.0

    def h0_enters(self, m0: float) -> bool:
        """Always: the labels depend on h0."""
        return True

    def label_factor(self, n_h0: int) -> LabelFactor:
        """The teacher's label groups (``Teacher.label_groups``), each doubled by the flips:
        (y, prob (1 - flip)) and (-y, prob flip). No symmetry reduction (docs/theory.md 8.2)."""
        base = self.teacher.label_groups(n_h0, self.noise)
        if self.flip == 0.0:
            return base
        keep, flip = 1.0 - self.flip, self.flip
        fine_h0, fine_weight, fine_y = base.fine
        return LabelFactor(prob=np.concatenate([keep * base.prob, flip * base.prob]),
                           c=np.concatenate([base.c, base.c]), h0=np.concatenate([base.h0, base.h0]),
                           h0_weight=np.concatenate([base.h0_weight, base.h0_weight]),
                           y=np.concatenate([base.y, -base.y]),
                           fine=(np.concatenate([fine_h0, fine_h0]),
                                 np.concatenate([fine_weight, fine_weight]),
                                 np.concatenate([fine_y, -fine_y])))

    def _labels(self, h0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = h0 + math.sqrt(self.noise) * rng.standard_normal(h0.size)
        flips = rng.random(h0.size) < self.flip
        return np.where(flips, -1.0, 1.0) * self.teacher(u)

    def sample_effective(self, n, rng):
        h0 = rng.standard_normal(n)
        return np.zeros(n), self._labels(h0, rng), h0

    def sample(self, d, n, rng):
        X = rng.standard_normal((n, d))
        h0 = X.sum(axis=1) / math.sqrt(d)  # w* = (1, ..., 1)
        return X, self._labels(h0, rng), np.zeros(n)

    def empirical_error(self, y, r):
        if self.teacher.classification:
            return float(np.mean(np.where(r > 0.0, 1.0, -1.0) != y))
        return float(np.mean((y - r) ** 2))

    def gen_error(self, m, C):
        """Eqs. 8.3-8.4 (module docstring); broadcasts over arrays."""
        m, C = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(C, dtype=float))
        if self.teacher.classification:
            out = np.full(m.shape, 0.5)  # C = 0: w = 0, a coin flip
            norm = C > 0.0
            base = self.teacher.classification_error(m[norm], C[norm], self.noise)
            out[norm] = self.flip + (1.0 - 2.0 * self.flip) * base
        else:
            y2, yh0 = self.teacher.moments(self.noise)
            out = y2 - 2.0 * (1.0 - 2.0 * self.flip) * yh0 * m + C
        return out[()] if out.ndim == 0 else out

    def bayes_optimal_error(self) -> float | None:
        """Linear teacher without flips: the Bayes-optimal test error of a Gaussian prior on w*,
        that of ridge regression at lam = noise (``references.ridge_regression``); else None."""
        if self.teacher.name != "linear" or self.flip:
            return None
        return ridge_regression(self.alpha, self.noise, self.noise)[2]

    def params(self) -> dict:
        return {"model": self.name, "alpha": self.alpha, "teacher": self.teacher.name,
                "noise": self.noise, "flip": self.flip}
