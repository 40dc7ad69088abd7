"""The files of a sweep: one record per run, and the labelled dataset assembled from them.

``PointStore`` is the folder next to the dataset (``out/psgd.nc`` -> ``out/psgd.points/``)
holding, per run (``_sweep_grid.Task``) with key ``KEY``:

* ``KEY.dmft.npz`` / ``KEY.simulation.npz``: the result (``DMFTResult.save``; ``qd.load`` reads it);
* ``KEY.dmft.json`` / ``KEY.simulation.json``: its record: status ("success" or "failed"),
  message, error type, wall time, memory (peak growth and the solve's estimate), worker.

Every file is written atomically (``_io.atomic_write``: a temporary file in the same folder,
renamed over its name once complete), the result before its record: a run is complete exactly
when its record says "success", so a sweep killed at any moment leaves complete runs and
nothing that a rerun could mistake for one. A failed run leaves only its record (retried by a
rerun). A record's ``status`` is a ``Status`` value: "success", "diverged" (the solve stopped
early; its curves are stored, NaN beyond) or "failed" (an exception; no result).

``assemble`` turns the records into an ``xarray.Dataset`` (see ``qd.sweep`` for its layout);
``write_dataset`` writes it as netCDF (h5netcdf engine), atomically too.
"""

from __future__ import annotations

import json
import math
import sys
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._io import atomic_write
from ._observables import CURVES
from ._result import Status

__all__ = ["PointStore", "points_folder", "assemble", "write_dataset"]

# Summary variables: the curve values taken at the end of the run.
FINAL = ("gen_error", "train_loss", "train_accuracy", "m", "C")


def points_folder(path) -> Path:
    """The folder of a dataset's per-run files: ``NAME.points`` beside ``NAME.nc``."""
    path = Path(path)
    return path.with_name(path.stem + ".points")


class PointStore:
    """Records and results of runs in one folder, keyed by ``Task.key`` (module docstring)."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def _record_path(self, kind: str, key: str) -> Path:
        return self.folder / f"{key}.{kind}.json"

    def result_path(self, kind: str, key: str) -> Path:
        return self.folder / f"{key}.{kind}.npz"

    def record(self, kind: str, key: str) -> dict | None:
        """The record of a run, or None if it never finished (or its record is unreadable)."""
        try:
            return json.loads(self._record_path(kind, key).read_text())
        except (OSError, ValueError):
            return None

    def complete(self, kind: str, key: str) -> bool:
        """Whether a run is done: its result stored and its record "success" or "diverged" (a
        deterministic outcome of its parameters, not retried); "failed" runs are retried."""
        record = self.record(kind, key)
        return (record is not None
                and record.get("status") in (Status.SUCCESS.value, Status.DIVERGED.value)
                and self.result_path(kind, key).exists())

    def result(self, kind: str, key: str):
        from ._result import load

        return load(self.result_path(kind, key))

    def write(self, kind: str, key: str, record: dict, result=None) -> None:
        """Store a run: its result first (if any), then its record, each atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if result is not None:
            result.save(self.result_path(kind, key))  # atomic (``_io.atomic_write``)
        with atomic_write(self._record_path(kind, key), "w") as fh:
            fh.write(json.dumps(record, indent=1, default=_json_default) + "\n")

    def remove_temporaries(self) -> None:
        """Delete the temporary files a killed sweep left behind (never complete files):
        ``_io.atomic_write``'s ``.NAME.*.tmp``."""
        if self.folder.is_dir():
            for tmp in self.folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    return repr(obj)


def _attribute(value):
    """A value as a netCDF attribute: numbers and strings as they are, the rest as JSON."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return value


def _common(dicts: list) -> dict:
    """The items shared by every dict (same key, equal value)."""
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(k in d and d[k] == v for d in dicts[1:])}


def _time_axis(points):
    """("t", t values) when every run shares the grid t_k = k eta; else ("k", step indices)."""
    grids = {(task.kwargs["eta"], _steps(task)) for p in points for task in p.tasks}
    if len(grids) == 1:
        eta, K = grids.pop()
        return "t", eta * np.arange(K + 1)
    K = max(K for _, K in grids) if grids else 0
    return "k", np.arange(K + 1)


def _steps(task) -> int:
    from ._inputs import horizon

    return horizon(task.kwargs["eta"], task.kwargs["t_max"])


def assemble(grid, points, store: PointStore):
    """The ``xarray.Dataset`` of a sweep from the records in ``store`` (layout: ``qd.sweep``)."""
    import xarray as xr

    time_dim, time = _time_axis(points)
    solves = _Arrays(grid.shape, time.size, "")
    sims = _Arrays(grid.shape, time.size, "sim_") if grid.simulate else None
    params, rule_params, sim_params = [], [], []
    for point in points:
        idx = point.index
        if point.error is not None:
            for arrays in filter(None, (solves, sims)):
                arrays.status[idx], arrays.message[idx] = Status.FAILED.value, point.error
            continue
        for task in point.tasks:
            record = store.record(task.kind, task.key) or {"status": "missing", "message": ""}
            result = store.result(task.kind, task.key) if store.complete(task.kind, task.key) else None
            if task.kind == "dmft":
                solves.fill(idx, record, result)
                rule_params.append(task.kwargs["rule"].params())
                params.append({**task.problem.params(), **task.schedule.params(),
                               "eta": task.kwargs["eta"], "t_max": task.kwargs["t_max"]})
            else:
                sims.fill(idx, record, result)
                sim_params.append({k: v for k, v in task.kwargs.items() if k not in ("eta", "t_max")})
    tdims = grid.dims + (time_dim,)
    data = solves.variables(grid.dims, tdims)
    if time_dim == "k":
        data["t"] = (tdims, solves.t_grid)
    if sims is not None:
        data.update(sims.variables(grid.dims, tdims))
    ds = xr.Dataset(data, coords=_coords(grid, time_dim, time),
                    attrs=_attributes(grid, params, rule_params, sim_params))
    _describe(ds, time_dim)
    return ds


class _Arrays:
    """The variables of one kind of run (solves, or simulations with ``prefix`` "sim_") over the
    grid, filled point by point from the records and results."""

    SUMMARY = ("gen_error_min", "gen_error_min_err", "t_min", "wall_time", "cpu_time",
               "memory_peak", "memory_estimate", "gen_error_final_err")
    RECORDED = ("wall_time", "cpu_time", "memory_peak", "memory_estimate")

    def __init__(self, shape, n_time, prefix):
        self.prefix = prefix
        self.curves = {f"{name}{suffix}": np.full(shape + (n_time,), np.nan)
                       for name in CURVES for suffix in ("", "_err")}
        if prefix:
            self.curves.update(gen_error_empirical=np.full(shape + (n_time,), np.nan),
                               gen_error_empirical_err=np.full(shape + (n_time,), np.nan))
        self.t_grid = np.full(shape + (n_time,), np.nan)
        self.summary = {name: np.full(shape, np.nan)
                        for name in self.SUMMARY + tuple(f"{n}_final" for n in FINAL)}
        self.status = np.full(shape, "missing", dtype=object)
        self.message = np.full(shape, "", dtype=object)

    def fill(self, idx, record: dict, result) -> None:
        self.status[idx], self.message[idx] = record["status"], record.get("message", "")
        for name in self.RECORDED:
            self.summary[name][idx] = _number(record.get(name))
        if result is None:
            return
        k = result.t.size
        self.t_grid[idx][:k] = result.t
        for name in CURVES:
            self.curves[name][idx][:k] = getattr(result, name)
            self.curves[f"{name}_err"][idx][:k] = getattr(result, f"{name}_err")
        if self.prefix and result.gen_error_empirical.size:
            self.curves["gen_error_empirical"][idx][:k] = result.gen_error_empirical
            self.curves["gen_error_empirical_err"][idx][:k] = result.gen_error_empirical_err
        g = result.gen_error
        i_min = int(np.argmin(g))
        self.summary["gen_error_min"][idx] = g[i_min]
        self.summary["gen_error_min_err"][idx] = result.gen_error_err[i_min]
        self.summary["t_min"][idx] = result.t[i_min]
        if result.success:  # a diverged run has no value at the horizon
            for name in FINAL:
                self.summary[f"{name}_final"][idx] = getattr(result, name)[-1]
            self.summary["gen_error_final_err"][idx] = result.gen_error_err[-1]

    def variables(self, dims, tdims) -> dict:
        """{name: (dims, values)}: for simulations only the curves, the final error, the status
        and the wall time, named with the prefix."""
        curves = dict(self.curves)
        if self.prefix and not np.isfinite(curves["gen_error_empirical"]).any():
            del curves["gen_error_empirical"], curves["gen_error_empirical_err"]
        summary = self.summary
        if self.prefix:
            summary = {k: summary[k] for k in ("gen_error_final", "gen_error_final_err",
                                                "wall_time")}
        out = {f"{self.prefix}{name}": (tdims, values) for name, values in curves.items()}
        out.update({f"{self.prefix}{name}": (dims, values) for name, values in summary.items()})
        out[f"{self.prefix}status"] = (dims, self.status.astype(str))
        out[f"{self.prefix}message"] = (dims, self.message.astype(str))
        return out


def _coords(grid, time_dim, time) -> dict:
    coords = {time_dim: time}
    if grid.over is not None:
        coords.update({key: list(values) for key, values in grid.over.items()})
    else:
        coords["point"] = np.arange(len(grid))
        for key in grid.swept:
            coords[key] = ("point", [p[key] for p in grid.points])
    return coords


def _attributes(grid, params, rule_params, sim_params) -> dict:
    """The fixed parameters (those every point shares), the rule, the version, the grid."""
    version = sys.modules[__package__].__version__  # the package, loaded before its modules
    attrs = {"title": "quaddmft parameter sweep", "quaddmft_version": version,
             "swept": json.dumps(list(grid.swept)), "layout": "product" if grid.over else "points",
             "grid": grid.to_json()}
    attrs.update({k: _attribute(v) for k, v in _common(params).items() if k != "chain"})
    common_rule = _common(rule_params)
    if common_rule:
        attrs["rule"] = common_rule.get("rule", "mixed")
        attrs["rule_params"] = json.dumps(common_rule, sort_keys=True)
    if grid.simulate:
        attrs.update({f"sim_{k}": _attribute(v) for k, v in _common(sim_params).items()})
    return attrs


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


_LONG_NAMES = {
    "gen_error": "generalisation error", "train_loss": "training loss e = alpha <Lambda>",
    "train_accuracy": "training accuracy", "m": "magnetisation m = w.v/d", "C": "|w|^2/d",
    "gen_error_min": "minimum over t of the generalisation error (early stopping)",
    "gen_error_min_err": "error estimate of gen_error at its minimum",
    "t_min": "time of the minimum of the generalisation error (optimal stopping time)",
    "wall_time": "wall time of the solve (s)",
    "cpu_time": "CPU time of the worker process during the solve (s); below wall_time when "
                "other programs share the cores",
    "memory_peak": "peak resident-memory growth of the worker during the solve (bytes)",
    "memory_estimate": "the solve's own memory estimate (bytes, the one solve checks against "
                       "max_memory: quaddmft._resources.check_solve)",
    "status": "success, diverged (curves up to the divergence, final values NaN) or failed "
              "(curves NaN); message says why",
}


def _describe(ds, time_dim) -> None:
    for name, text in _LONG_NAMES.items():
        if name in ds:
            ds[name].attrs["long_name"] = text
    for name in FINAL:
        ds[f"{name}_final"].attrs["long_name"] = f"{name} at the last time"
    if time_dim == "t":
        ds["t"].attrs["long_name"] = "time t = k eta"


def write_dataset(ds, path) -> Path:
    """Write ``ds`` to ``path`` as netCDF (h5netcdf engine), atomically (``_io.atomic_write``),
    so that a reader never sees a partial file."""
    path = Path(path)
    if path.suffix not in (".nc", ".nc4", ".h5"):
        from ._errors import ParameterError

        raise ParameterError(f"output: {path} must end in .nc (netCDF); got {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built in a scratch file, then copied through atomic_write: xarray cannot write netCDF-4 to
    # an open file while a dask client exists in this process (its locks pickle the file).
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / path.name
        ds.to_netcdf(built, engine="h5netcdf")
        with atomic_write(path) as fh, open(built, "rb") as source:
            shutil.copyfileobj(source, fh)
    return path
