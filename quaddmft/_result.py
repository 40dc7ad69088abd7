"""Result objects of ``solve`` and ``simulate``, with exact save/load round trips.

Both carry the curves of ``_observables.CURVES`` on the grid ``t``, one error array ``<curve>_err``
per curve whose meaning ``error_kind`` states ("standard error": of the mean over independent
replicates or seeds; "refinement": |fine - coarser| of a deterministic rule), a ``status``
(``Status``) with a human ``message``, and every parameter of the run in ``params``.

Storage format (``FORMAT_VERSION`` 2): one ``.npz`` file holding every array field under its own
name plus a ``__metadata__`` entry, a JSON string with the other fields, ``__kind__`` and
``__format__``. ``load`` rebuilds the very same object (arrays bit for bit); files of format 1
(no ``__format__``: the weight response stored as ``R``, simulation errors as ``*_sem``) are
read and converted.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from ._errors import ErrorKind, FileFormatError
from ._io import atomic_write
from ._observables import CURVES, KERNELS

__all__ = ["DMFTResult", "SimulationResult", "Status", "ErrorKind", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 2


class Status(str, Enum):
    """Outcome of a run: ``SUCCESS``, or why its curves stop early or are missing."""

    SUCCESS = "success"
    DIVERGED = "diverged"
    FAILED = "failed"


class _Result:
    """Shared behaviour: ``success``, JSON export, save; dataclass fields that are ndarrays go to
    npz arrays, the rest to JSON metadata."""

    kind = "abstract"

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "error_kind", ErrorKind(self.error_kind))

    @property
    def success(self) -> bool:
        return self.status is Status.SUCCESS

    def to_json_dict(self) -> dict:
        """The CLI's JSON: ``t``, the curves, their ``*_err``, params, status, message, ..."""
        keys = ("t",) + CURVES
        out = {k: getattr(self, k).tolist() for k in keys}
        out.update({f"{k}_err": getattr(self, f"{k}_err").tolist() for k in CURVES})
        out.update(self._extra_json())
        out.update(params=self.params, status=self.status.value, message=self.message,
                   error_kind=self.error_kind.value, wall_time=self.wall_time)
        return out

    def _extra_json(self) -> dict:
        return {}

    def save(self, path) -> Path:
        """Write the result to ``path`` (``.npz`` appended if missing); return the path written.

        The file is written atomically (``_io.atomic_write``): a failed write leaves any
        previous file at ``path`` untouched. Missing parent folders are created.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays, meta = {}, {"__kind__": self.kind, "__format__": FORMAT_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                meta[f.name] = value.value if isinstance(value, Enum) else value
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = np.array(json.dumps(meta, default=_json_default))
        with atomic_write(path) as fh:
            np.savez(fh, __metadata__=metadata, **arrays)
        return path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in result metadata")


@dataclass(frozen=True, eq=False)
class DMFTResult(_Result):
    """Solution of the discrete-time DMFT (THEORY section 3) on the grid t_k = k eta, k = 0..K.

    Curves (shape (K+1,)): ``t``, ``m`` (magnetisation), ``C`` = m^2 + C_perp(k,k) (weight norm
    |w|^2/d), ``gen_error``, ``train_loss`` e = alpha <Lambda>, ``train_accuracy``.
    Kernels: ``Gamma`` (K+1, K+1) lower triangular (Gamma(k,k) is the paper's lambda-hat),
    ``M_C`` (K+1, K+1) symmetric, ``mu`` (K+1,). Weight side: ``response`` (K+1, K+1) the
    response R(k, j) (strictly lower), ``P`` (K+1,), ``C_perp`` (K+1, K+1).
    Error estimates ``*_err`` of each curve, of the kind ``error_kind`` ("standard error" for
    the sampling rules, zero where the rule is exact; "refinement" for ``Quadrature``).
    ``params``: every parameter of the solve (the rule's in full: ``rules.rule_from_params``
    rebuilds it); ``status``/``message``: outcome; ``history``: per-iteration record of
    iterative rules (empty for a causal sweep).
    Equations: docs/theory.md eqs. 3.5-3.11 (kernels and weight side), 4.1-4.4 (curves).

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> res = qd.solve(problem, eta=0.2, t_max=1.0,
    ...                rule=qd.QMC(n_points=32, n_h0=4, n_replicates=4))
    >>> res.success, res.error_kind.value, res.t.shape, res.Gamma.shape
    (True, 'standard error', (6,), (6, 6))
    >>> sorted(res.to_json_dict())[:4]
    ['C', 'C_err', 'error_kind', 'gen_error']
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
    response: np.ndarray
    P: np.ndarray
    C_perp: np.ndarray
    m_err: np.ndarray
    C_err: np.ndarray
    gen_error_err: np.ndarray
    train_loss_err: np.ndarray
    train_accuracy_err: np.ndarray
    params: dict
    error_kind: ErrorKind = ErrorKind.STANDARD_ERROR
    status: Status = Status.SUCCESS
    message: str = ""
    history: list = field(default_factory=list)
    wall_time: float = 0.0

    kind = "dmft"

    @property
    def R(self) -> np.ndarray:
        """Deprecated name of ``response`` (``R`` is the initial variance in ``params``)."""
        warnings.warn("DMFTResult.R is deprecated; use DMFTResult.response", DeprecationWarning,
                      stacklevel=2)
        return self.response


@dataclass(frozen=True, eq=False)
class SimulationResult(_Result):
    """Finite-d simulation of the real algorithm (paper eqs. 7-9), mean and standard error over seeds.

    Curves (shape (K+1,)): ``t``, ``m`` = w.v/d, ``C`` = |w|^2/d, ``gen_error`` (closed form
    given w, paper eqs. 24/25), ``train_loss`` e = (1/d) sum_mu Lambda, ``train_accuracy``;
    each with ``*_err``, one standard error of the mean over seeds (``error_kind`` "standard
    error"; the older names ``*_sem`` still work and warn). ``gen_error_empirical`` is the error
    on fresh test points when requested (else empty arrays).

    Examples
    --------
    >>> import quaddmft as qd
    >>> problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", R=0.01)
    >>> sim = qd.simulate(problem, eta=0.2, t_max=1.0, d=100, seeds=2)
    >>> sim.t.shape, sim.gen_error_err.shape, sim.gen_error_empirical.shape, sim.params["n"]
    ((6,), (6,), (0,), 200)
    """

    t: np.ndarray
    m: np.ndarray
    C: np.ndarray
    gen_error: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    m_err: np.ndarray
    C_err: np.ndarray
    gen_error_err: np.ndarray
    train_loss_err: np.ndarray
    train_accuracy_err: np.ndarray
    gen_error_empirical: np.ndarray
    gen_error_empirical_err: np.ndarray
    params: dict
    error_kind: ErrorKind = ErrorKind.STANDARD_ERROR
    status: Status = Status.SUCCESS
    message: str = ""
    wall_time: float = 0.0

    kind = "simulation"

    def _extra_json(self) -> dict:
        if not self.gen_error_empirical.size:
            return {}
        return {"gen_error_empirical": self.gen_error_empirical.tolist(),
                "gen_error_empirical_err": self.gen_error_empirical_err.tolist()}

    def __getattr__(self, name):
        # Deprecated *_sem names of the *_err arrays (format 1 and the API before it).
        if name.endswith("_sem") and not name.startswith("_"):
            warnings.warn(f"SimulationResult.{name} is deprecated; use {name[:-4]}_err",
                          DeprecationWarning, stacklevel=2)
            return object.__getattribute__(self, name[:-4] + "_err")
        raise AttributeError(name)


_KINDS = {"dmft": DMFTResult, "simulation": SimulationResult}
# The shape of every array field, in terms of the number of grid points n = K + 1.
_SHAPES = {
    "dmft": {**{name: "n" for name in ("t",) + CURVES}, **{f"{c}_err": "n" for c in CURVES},
             **{name: "nn" for name in KERNELS if name not in ("mu", "P")}, "mu": "n", "P": "n"},
    "simulation": {**{name: "n" for name in ("t",) + CURVES}, **{f"{c}_err": "n" for c in CURVES},
                   "gen_error_empirical": "n0", "gen_error_empirical_err": "n0"},
}
_META = {  # metadata key: accepted types
    "params": dict, "error_kind": str, "status": str, "message": str, "wall_time": (int, float),
}


def _from_format_1(kind: str, arrays: dict, meta: dict) -> None:
    """Rename the fields of a format-1 file in place (``R`` -> ``response``, ``*_sem`` -> ``*_err``)."""
    if kind == "dmft" and "R" in arrays:
        arrays["response"] = arrays.pop("R")
    for name in [n for n in arrays if n.endswith("_sem")]:
        arrays[name[:-4] + "_err"] = arrays.pop(name)
    meta.setdefault("error_kind", "standard error")


def _read(path):
    """(arrays, metadata) of an npz result file; FileFormatError for anything else."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            if "__metadata__" not in files:
                raise FileFormatError(f"not a quaddmft result: {path} has no __metadata__ entry")
            meta_text = data["__metadata__"]
            arrays = {k: data[k] for k in files if k != "__metadata__"}
    except FileFormatError:
        raise
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise FileFormatError(f"not a quaddmft result (not an npz archive): {path}: {exc}") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise FileFormatError(f"not a quaddmft result (not an npz archive): {path}: {exc}") from None
    if meta_text.dtype.kind != "U" or meta_text.shape != ():
        raise FileFormatError(f"{path}: __metadata__ is not a JSON string")
    try:
        meta = json.loads(str(meta_text))
    except ValueError as exc:
        raise FileFormatError(f"{path}: __metadata__ is not valid JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise FileFormatError(f"{path}: __metadata__ is not a JSON object")
    return arrays, meta


def _check(path, kind: str, arrays: dict, meta: dict) -> None:
    """Keys, dtypes and shapes of a result; FileFormatError naming what is wrong."""
    expected = _SHAPES[kind]
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise FileFormatError(f"{path}: array fields missing {missing} / unexpected {extra} for a "
                              f"{kind} result")
    if "t" not in arrays or arrays["t"].ndim != 1 or arrays["t"].size < 1:
        raise FileFormatError(f"{path}: t must be a non-empty 1-D array")
    n = arrays["t"].size
    for name, code in expected.items():
        value = arrays[name]
        if value.dtype != np.float64:
            raise FileFormatError(f"{path}: {name} has dtype {value.dtype}, expected float64")
        shapes = {"n": [(n,)], "nn": [(n, n)], "n0": [(n,), (0,)]}[code]
        if value.shape not in shapes:
            raise FileFormatError(f"{path}: {name} has shape {value.shape}, expected "
                                  f"{' or '.join(map(str, shapes))} for {n} time points")
    known = set(_META) | ({"history"} if kind == "dmft" else set())
    unknown = sorted(set(meta) - known)
    if unknown:
        raise FileFormatError(f"{path}: unknown metadata {unknown}")
    for key, types in _META.items():
        if key in meta and not isinstance(meta[key], types):
            raise FileFormatError(f"{path}: metadata {key} has the wrong type")
    if "params" not in meta:
        raise FileFormatError(f"{path}: metadata params missing")
    if kind == "dmft" and not isinstance(meta.get("history", []), list):
        raise FileFormatError(f"{path}: metadata history is not a list")
    try:
        Status(meta.get("status", Status.SUCCESS.value))
        ErrorKind(meta.get("error_kind", ErrorKind.STANDARD_ERROR.value))
    except ValueError as exc:
        raise FileFormatError(f"{path}: {exc}") from None


def load(path):
    """Load a result written by ``save``; returns a DMFTResult or SimulationResult.

    The arrays come back bit for bit and the metadata (params, status, ...) equal. The file is
    checked before anything is built: an npz archive (never unpickled) with the format version,
    the fields, dtypes and shapes of its kind; anything else raises FileFormatError saying what
    is wrong. Files of format 1 are converted.

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
    arrays, meta = _read(path)
    kind = meta.pop("__kind__", None)
    if kind not in _KINDS:
        raise FileFormatError(f"{path}: unknown result kind {kind!r}; expected one of {sorted(_KINDS)}")
    version = meta.pop("__format__", 1)
    if version not in (1, FORMAT_VERSION):
        raise FileFormatError(f"{path}: file format {version!r}; this quaddmft reads formats 1 and "
                              f"{FORMAT_VERSION}")
    if version == 1:
        _from_format_1(kind, arrays, meta)
    _check(path, kind, arrays, meta)
    return _KINDS[kind](**arrays, **meta)
