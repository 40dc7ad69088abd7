"""``sweep``: every point of a grid solved (and simulated) on dask.distributed, resumably.

The client (this process) builds the points (``_sweep_grid``), skips the runs whose record in
the sweep's folder says "success" (``_sweep_store``), submits the others to the cluster, one
task per run, and stores each result as it arrives; then it assembles and writes the dataset.
Workers only compute and return: nothing is written by them, so a cluster whose machines do
not share a file system works the same.

A run that raises (ParameterError, DivergenceError, ConvergenceError, anything, or a worker
that dies) is recorded as "failed" with its message, and the sweep goes on; the next run of
the same sweep retries it. Interrupting the sweep (Ctrl-C, a killed job) loses only the runs
in flight.

Cluster: ``client`` (a ``distributed.Client`` or a scheduler address) is used as it is;
without one, a ``LocalCluster`` of one single-threaded worker process per core is started,
with OpenMP, OpenBLAS and MKL limited to one thread in the workers (``WORKER_ENV``) and numba
to one thread in each task, so that the workers do not oversubscribe the cores, and closed at
the end. dask, distributed and xarray are imported only here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import traceback
import uuid
from pathlib import Path

from ._errors import ParameterError, check_int

__all__ = ["sweep", "run_sweep", "local_cluster", "run_task", "WORKER_ENV"]

# Set in every worker process of the default LocalCluster before it starts (dask's
# "pre-spawn-environ", which also sets them in this process, as dask does by default).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# numba's threads are limited per task instead (``run_task(task, threads=1)``): a
# NUMBA_NUM_THREADS in the environment would leak into this process too, where numba refuses
# any change of it once its threads run (RuntimeError at the next compilation), and it would
# not reach a worker whose main module (a user's script, the ``quaddmft`` command) imports
# numba before the environment is applied.


# --------------------------------------------------------------------------------------------
# worker side


def _resident_bytes(field: str) -> int | None:
    """VmRSS / VmHWM of this process from /proc (Linux), in bytes; None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> int | None:
    """Reset the peak resident set size (Linux ``clear_refs`` 5) and return the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return None
    return _resident_bytes("VmRSS")


_WARM = []


def _warm_up(task) -> None:
    """Once per worker process, run tiny solves through every kernel path (per-node and blocked
    response, dense and low-rank blocks), so that the memory of a run does not include loading
    the numba kernels and modules (~50 MB for the first, a few MB at the first blocked step)."""
    if _WARM:
        return
    from . import QMC, FullBatch, PersistentSGD, solve
    from ._response import ResponseOptions

    _WARM.append(True)
    eta = task.kwargs["eta"]
    steps = ResponseOptions().blocked_from + 2
    for schedule in (FullBatch(), PersistentSGD(0.5, eta, law="exact")):
        try:
            solve(task.problem, schedule, eta=eta, t_max=steps * eta,
                  rule=QMC(n_points=2, n_h0=1, n_replicates=2))
        except Exception:  # the real run will report whatever is wrong
            pass


def run_task(task, threads: int | None = None) -> dict:
    """Run one ``Task`` (on a worker); return its record and result, never raise.

    ``threads``: numba's threads for this task (``numba.set_num_threads``, which holds for the
    calling thread only); None leaves the worker as it is.

    The record holds ``status``, ``message``, ``error`` (the exception's type), ``wall_time``,
    ``cpu_time`` (the worker process's CPU seconds: below ``wall_time`` when other programs
    hold the cores),
    ``memory_peak`` (growth of the process's peak resident memory during the run, Linux only;
    the first solve of a worker process is preceded by a warm-up, ``_warm_up``) and,
    for a solve, ``memory_estimate`` (``_solver.memory_estimate``).
    """
    from . import simulate, solve
    from ._solver import memory_estimate

    import numba

    if threads is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    record = {"kind": task.kind, "key": task.key, "host": socket.gethostname(), "pid": os.getpid(),
              "numba_threads": numba.get_num_threads()}
    started, cpu = time.perf_counter(), time.process_time()
    result = None
    try:
        if task.kind == "dmft":
            record["memory_estimate"] = memory_estimate(task.problem, task.schedule, **task.kwargs)
            _warm_up(task)
        started, cpu = time.perf_counter(), time.process_time()
        before = _reset_peak()
        if task.kind == "dmft":
            result = solve(task.problem, task.schedule, **task.kwargs)
        else:
            result = simulate(task.problem, task.schedule, **task.kwargs)
        peak = _resident_bytes("VmHWM")
        record["memory_peak"] = None if before is None or peak is None else peak - before
        record.update(status="success", message=result.message)
    except Exception as exc:  # every failure is recorded; the sweep goes on
        record.update(status="failed", message=f"{type(exc).__name__}: {exc}",
                      error=type(exc).__name__, traceback=traceback.format_exc(limit=8))
        result = None
    record["wall_time"] = time.perf_counter() - started
    record["cpu_time"] = time.process_time() - cpu
    return {"record": record, "result": result}


# --------------------------------------------------------------------------------------------
# client side


def local_cluster(n_workers: int | None = None):
    """A LocalCluster of ``n_workers`` (default: the cores) single-threaded worker processes,
    BLAS limited to one thread each (``WORKER_ENV``) and numba to one thread in each task of a
    sweep (the cluster's ``quaddmft_task_threads``), dashboard on a free port."""
    import dask
    from distributed import LocalCluster

    n_workers = (os.cpu_count() or 1) if n_workers is None else check_int("workers", n_workers, low=1)
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        try:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
        except RuntimeError as exc:
            raise RuntimeError(
                f"could not start the local dask cluster ({exc}). In a script, call qd.sweep "
                "under `if __name__ == \"__main__\":`: the workers are new processes that "
                "import the script") from exc
    cluster.quaddmft_task_threads = 1  # numba's threads in each task (run_task)
    return cluster


@contextlib.contextmanager
def _connected(client, workers):
    """The client to submit to: ``client`` itself, a new one to the cluster object or the
    address ``client``, or one to a new LocalCluster (closed on exit)."""
    from distributed import Client

    if client is None:
        cluster = local_cluster(workers)
        own = Client(cluster)
        try:
            yield own
        finally:
            own.close()
            cluster.close()
    elif not hasattr(client, "submit") and hasattr(client, "scheduler_address"):
        own = Client(client)  # a cluster object (LocalCluster, dask-jobqueue's, ...)
        try:
            yield own
        finally:
            own.close()
    elif isinstance(client, str):
        try:
            own = Client(client, timeout="30s")
        except OSError as exc:
            raise ConnectionError(f"cannot connect to the dask scheduler at {client!r}: {exc}") from None
        try:
            yield own
        finally:
            own.close()
    else:
        yield client


def _progress_bar(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="quaddmft sweep", unit="point",
                disable=not enabled, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def sweep(grid, path, *, client=None, workers: int | None = None, progress: bool | None = None):
    """Solve (and optionally simulate) every point of ``grid`` on dask.distributed; return the
    labelled results as an ``xarray.Dataset``, also written to ``path`` (netCDF).

    Parameters
    ----------
    grid : SweepGrid
        Fixed and swept settings (``qd.SweepGrid``, or ``qd.SweepGrid.from_objects``).
    path : str or Path, ending in ``.nc``
        The dataset; per-run results and records go to the folder ``NAME.points`` beside it.
        A rerun with the same grid computes only the runs not yet recorded as successful.
    client : distributed.Client, a cluster object or str, optional
        An existing cluster (a client, a cluster such as dask-jobqueue's, or a scheduler's
        address), used unchanged. Default: a LocalCluster of one single-threaded worker process
        per core, closed at the end.
    workers : int, optional
        Worker processes of the default LocalCluster (default: the number of cores).
    progress : bool, optional
        A progress bar on stderr: points done / total, failures, time remaining (default: when
        stderr is a terminal). The dask dashboard's address is printed when there is one.

    Returns
    -------
    xarray.Dataset
        Dimensions: the swept keys in the order given (or ``point`` for explicit points, the
        swept values then being coordinates along it) and ``t`` (or ``k``, the step, with a
        variable ``t``, when the points have different time grids). Variables: the curves
        ``m``, ``C``, ``gen_error``, ``train_loss``, ``train_accuracy`` and their ``*_err``;
        summaries ``gen_error_min`` (early-stopping error) with ``gen_error_min_err``,
        ``t_min`` (its time), ``<curve>_final``, ``status`` ("success"/"failed"), ``message``,
        ``wall_time``, ``cpu_time``, ``memory_peak``, ``memory_estimate``; with a simulation ``sim_<curve>``,
        ``sim_<curve>_err``, ``sim_gen_error_final``, ``sim_status``, ``sim_message``,
        ``sim_wall_time``. Failed points hold NaN curves. Attributes: the fixed parameters, the
        rule (``rule``, ``rule_params`` as JSON), ``quaddmft_version``, the grid as given.

    Raises
    ------
    ParameterError  for an invalid grid, path or worker count (named); never for a failing
    point. ConnectionError when the scheduler at ``client`` cannot be reached; RuntimeError
    when the local cluster cannot start.
    """
    return run_sweep(grid, path, client=client, workers=workers, progress=progress)[0]


def run_sweep(grid, path, *, client=None, workers=None, progress=None):
    """``sweep``, returning ``(dataset, counts)``: counts of points, runs reused from earlier
    sweeps, runs computed now, failed runs and points (the command line's summary)."""
    from ._sweep_grid import SweepGrid
    from ._sweep_store import PointStore, assemble, points_folder, write_dataset

    if not isinstance(grid, SweepGrid):
        raise ParameterError(f"grid must be a quaddmft.SweepGrid, got {grid!r}")
    path = Path(path)
    if path.suffix != ".nc":
        raise ParameterError(f"path must end in .nc (a netCDF file), got {str(path)!r}")
    if workers is not None:
        workers = check_int("workers", workers, low=1)
    progress = sys.stderr.isatty() if progress is None else bool(progress)

    points = grid.build_all()
    store = PointStore(points_folder(path))
    store.remove_temporaries()
    pending = {}  # point index -> (its swept values, its tasks still to run)
    for point in points:
        todo = [t for t in point.tasks if not store.complete(t.kind, t.key)]
        if todo:
            pending[point.index] = (point.values, todo)
    n_runs = sum(len(p.tasks) for p in points)
    n_todo = sum(len(todo) for _, todo in pending.values())
    failed = _run(pending, store, client, workers, progress, total=len(points)) if pending else 0
    ds = assemble(grid, points, store)
    write_dataset(ds, path)
    counts = {"points": len(points), "reused": n_runs - n_todo, "computed": n_todo,
              "failed_runs": failed, "invalid_points": sum(p.error is not None for p in points),
              "failed_points": int(_failed(ds).sum())}
    return ds, counts


def _failed(ds):
    """Points whose solve, or simulation, did not succeed."""
    failed = ds["status"] != "success"
    if "sim_status" in ds:
        failed = failed | (ds["sim_status"] != "success")
    return failed


def _run(pending: dict, store, client, workers, progress: bool, total: int) -> int:
    """Submit the pending tasks, store each result as it arrives, show progress; return the
    number of failed runs."""
    from distributed import as_completed

    tasks = [(index, task) for index, (_, todo) in pending.items() for task in todo]
    left = {index: len(todo) for index, (_, todo) in pending.items()}
    failed = 0
    with _connected(client, workers) as connection:
        # numba's threads per task on our LocalCluster; other clusters are used as they are
        threads = getattr(getattr(connection, "cluster", None), "quaddmft_task_threads", None)
        link = getattr(connection, "dashboard_link", "")
        if link:
            print(f"quaddmft sweep: dask dashboard at {link}", file=sys.stderr, flush=True)
        futures = {}
        run_id = uuid.uuid4().hex[:8]  # dask keys unique to this run (two points may share a key)
        for index, task in tasks:
            future = connection.submit(run_task, task, threads,
                                       key=f"quaddmft-{task.kind}-{task.key}-{run_id}-{len(futures)}")
            futures[future] = (index, task)
        bar = _progress_bar(progress, total, total - len(pending))
        try:
            for future in as_completed(futures):
                index, task = futures.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died, or the task could not run
                    outcome = {"record": {"kind": task.kind, "key": task.key, "status": "failed",
                                          "message": f"{type(exc).__name__}: {exc}",
                                          "error": type(exc).__name__}, "result": None}
                record = outcome["record"]
                record["point"] = pending[index][0]
                store.write(task.kind, task.key, record, outcome["result"])
                if record["status"] != "success":
                    failed += 1
                    bar.set_postfix(failed=failed)
                left[index] -= 1
                if left[index] == 0:
                    bar.update(1)
        finally:
            for future in futures:
                future.cancel()
            bar.close()
    return failed
