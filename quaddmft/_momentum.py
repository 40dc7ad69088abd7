r"""Momentum: heavy ball and Nesterov, as the coefficients of a two-step linear update.

Every update of ``quaddmft`` is (docs/theory.md eq. 8.6), with g(k) the (mini-batch) gradient of
the training loss (1.4) at the point u(k) where it is evaluated:

    u(k+1) = a1 u(k) + a2 u(k-1) - eta b0 g(k) - eta b1 g(k-1),   u(-1) = u(0),  g(-1) = 0,

* plain (S)GD (no momentum):  (a1, a2, b0, b1) = (1, 0, 1, 0),
* ``HeavyBall(beta)`` (Polyak):  w(k+1) = w(k) - eta g(w(k)) + beta (w(k) - w(k-1)):
  (1 + beta, -beta, 1, 0), u = w,
* ``Nesterov(beta)``:  w(k+1) = y(k) - eta g(y(k)), y(k) = w(k) + beta (w(k) - w(k-1)): in the
  look-ahead point u = y, (1 + beta, -beta, 1 + beta, -beta). quaddmft records the observables
  at u, the point where the gradient is evaluated (the parameters PyTorch's ``nesterov=True``
  stores); w and y coincide at convergence.

The velocity starts at zero (u(-1) = u(0)), so the first step is a plain gradient step (times
b0). The selection process (which samples enter g) is independent of the momentum: any
``SelectionProcess`` combines with either.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import check_real

__all__ = ["Momentum", "HeavyBall", "Nesterov", "MOMENTA"]


@dataclass(frozen=True)
class Momentum:
    """Base class: ``beta`` in [0, 1), ``coefficients`` (a1, a2, b0, b1) of docs/theory.md eq. 8.6.

    Examples
    --------
    >>> import quaddmft as qd
    >>> qd.HeavyBall(0.5).coefficients, qd.Nesterov(0.5).coefficients
    ((1.5, -0.5, 1.0, 0.0), (1.5, -0.5, 1.5, -0.5))
    >>> sorted(qd.MOMENTA), qd.Nesterov(0.9).params()
    (['heavy-ball', 'nesterov'], {'momentum': 'nesterov', 'beta': 0.9})
    """

    beta: float
    name = "abstract"

    def __post_init__(self):
        object.__setattr__(self, "beta", check_real("beta", self.beta, low=0.0, high=1.0,
                                                    low_open=False))

    @property
    def coefficients(self) -> tuple[float, float, float, float]:
        raise NotImplementedError

    def params(self) -> dict:
        return {"momentum": self.name, "beta": self.beta}


@dataclass(frozen=True)
class HeavyBall(Momentum):
    """Polyak's heavy ball, w(k+1) = w(k) - eta g(w(k)) + beta (w(k) - w(k-1)) (module docstring)."""

    name = "heavy-ball"

    @property
    def coefficients(self):
        return 1.0 + self.beta, -self.beta, 1.0, 0.0


@dataclass(frozen=True)
class Nesterov(Momentum):
    """Nesterov's accelerated gradient; the gradient at the look-ahead point, where quaddmft also
    records the observables (module docstring)."""

    name = "nesterov"

    @property
    def coefficients(self):
        return 1.0 + self.beta, -self.beta, 1.0 + self.beta, -self.beta


MOMENTA = {"heavy-ball": HeavyBall, "nesterov": Nesterov}
