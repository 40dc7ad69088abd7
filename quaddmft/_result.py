"""Result objects of solve() and simulate(), with exact save/load round trips.

Storage format: one ``.npz`` file holding every array field under its own name plus a
``__metadata__`` entry, a JSON string with the scalar and dict fields (params, status, message,
history, ...). ``load`` rebuilds the very same object (arrays bit for bit).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DMFTResult", "SimulationResult", "load"]


class _Savable:
    """Mixin: dataclass fields that are ndarrays go to npz arrays, the rest to JSON metadata."""

    kind = "abstract"

    def save(self, path) -> Path:
        """Write the result to ``path`` (``.npz`` appended if missing); return the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays, meta = {}, {"__kind__": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                meta[f.name] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, __metadata__=np.array(json.dumps(meta, default=_json_default)), **arrays)
        return path

    def to_dict(self) -> dict:
        """JSON-ready dict: arrays become lists of floats (NaN never occurs in a valid result)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in result metadata")


@dataclass(frozen=True, eq=False)
class DMFTResult(_Savable):
    """Solution of the discrete-time DMFT (THEORY section 3) on the grid t_k = k eta, k = 0..K.

    Curves (shape (K+1,)): ``t``, ``m`` (magnetisation), ``C`` = m^2 + C_perp(k,k) (weight norm
    |w|^2/d), ``gen_error``, ``train_loss`` e = alpha <Lambda>, ``train_accuracy``.
    Kernels: ``Gamma`` (K+1, K+1) lower triangular (Gamma(k,k) is the paper's lambda-hat),
    ``M_C`` (K+1, K+1) symmetric, ``mu`` (K+1,). Weight side: ``R`` (K+1, K+1) response
    R(k, j) (strictly lower), ``P`` (K+1,), ``C_perp`` (K+1, K+1).
    Error estimates ``*_err``: one standard error of the averaging rule for each curve (zero where
    the rule is exact). ``params``: every parameter of the solve; ``status``/``message``: outcome;
    ``history``: per-iteration record of iterative rules (empty for a causal sweep).
    Equations: docs/theory.md eqs. 3.5-3.11 (kernels and weight side), 4.1-4.4 (curves).

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> res = qd.solve(problem, eta=0.2, t_max=1.0,
    ...                rule=qd.QMC(n_points=32, n_h0=4, n_replicates=4))
    >>> res.status, res.t.shape, res.Gamma.shape
    ('success', (6,), (6, 6))
    >>> sorted(res.to_json_dict())[:4]
    ['C', 'C_err', 'gen_error', 'gen_error_err']
    """

    t: np.ndarray
    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    Gamma: np.ndarray
    M_C: np.ndarray
    mu: np.ndarray
    R: np.ndarray
    P: np.ndarray
    C_perp: np.ndarray
    m_err: np.ndarray
    C_err: np.ndarray
    gen_error_err: np.ndarray
    train_loss_err: np.ndarray
    train_accuracy_err: np.ndarray
    params: dict
    status: str = "success"
    message: str = ""
    history: list = field(default_factory=list)
    wall_time: float = 0.0

    kind = "dmft"

    def to_json_dict(self) -> dict:
        """The CLI's JSON: curves, their error estimates, params, status."""
        keys = ["t", "gen_error", "train_loss", "train_accuracy", "m", "C"]
        out = {k: getattr(self, k).tolist() for k in keys}
        out.update({f"{k}_err": getattr(self, f"{k}_err").tolist() for k in keys[1:]})
        out.update(params=self.params, status=self.status, message=self.message,
                   wall_time=self.wall_time)
        return out


@dataclass(frozen=True, eq=False)
class SimulationResult(_Savable):
    """Finite-d simulation of the real algorithm (paper eqs. 7-9), mean and s.e.m. over seeds.

    Curves (shape (K+1,)): ``t``, ``m`` = w.v/d, ``C`` = |w|^2/d, ``gen_error`` (closed form
    given w, paper eqs. 24/25), ``train_loss`` e = (1/d) sum_mu Lambda, ``train_accuracy``;
    each with ``*_sem`` (standard error of the mean over seeds). ``gen_error_empirical`` is the
    error on fresh test points when requested (else empty arrays).

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> sim = qd.simulate(problem, eta=0.2, t_max=1.0, d=100, seeds=2)
    >>> sim.t.shape, sim.gen_error_sem.shape, sim.gen_error_empirical.shape, sim.params["n"]
    ((6,), (6,), (0,), 200)
    """

    t: np.ndarray
    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    m_sem: np.ndarray
    C_sem: np.ndarray
    gen_error_sem: np.ndarray
    train_loss_sem: np.ndarray
    train_accuracy_sem: np.ndarray
    gen_error_empirical: np.ndarray
    gen_error_empirical_sem: np.ndarray
    params: dict
    status: str = "success"
    message: str = ""
    wall_time: float = 0.0

    kind = "simulation"

    def to_json_dict(self) -> dict:
        keys = ["t", "gen_error", "train_loss", "train_accuracy", "m", "C"]
        out = {k: getattr(self, k).tolist() for k in keys}
        out.update({f"{k}_sem": getattr(self, f"{k}_sem").tolist() for k in keys[1:]})
        if self.gen_error_empirical.size:
            out["gen_error_empirical"] = self.gen_error_empirical.tolist()
            out["gen_error_empirical_sem"] = self.gen_error_empirical_sem.tolist()
        out.update(params=self.params, status=self.status, message=self.message,
                   wall_time=self.wall_time)
        return out


_KINDS = {"dmft": DMFTResult, "simulation": SimulationResult}


def load(path):
    """Load a result written by ``save``; returns a DMFTResult or SimulationResult.

    The arrays come back bit for bit and the metadata (params, status, ...) equal.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> sim = qd.simulate(problem, eta=0.2, t_max=0.4, d=50, seeds=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     again = qd.load(sim.save(pathlib.Path(tmp) / "sim"))   # ".npz" is appended
    >>> type(again).__name__, np.array_equal(again.C, sim.C), again.params == sim.params
    ('SimulationResult', True, True)
    """
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["__metadata__"]))
        arrays = {k: data[k] for k in data.files if k != "__metadata__"}
    cls = _KINDS[meta.pop("__kind__")]
    return cls(**arrays, **meta)
