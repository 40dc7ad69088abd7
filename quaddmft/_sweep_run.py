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
from ._result import Status

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
    response, dense and low-rank blocks; the task's own rule over two steps, for its modules),
    so that the memory of a run does not include loading the numba kernels and modules
    (~50 MB for the first, a few MB at the first blocked step). ~0.2 s."""
    if _WARM:
        return
    from ._response import ResponseOptions
    from ._selection import FullBatch, PersistentSGD
    from ._solver import solve
    from .rules import QMC

    _WARM.append(True)
    eta = task.kwargs["eta"]
    steps = ResponseOptions().blocked_from + 2
    runs = [(QMC(n_points=2, n_h0=1, n_replicates=2), steps), (task.kwargs.get("rule"), 2)]
    for schedule in (FullBatch(), PersistentSGD(0.5, eta, law="exact")):
        for rule, K in runs:
            try:
                solve(task.problem, schedule, eta=eta, t_max=K * eta, rule=rule)
            except Exception:  # the real run will report whatever is wrong
                pass


def run_task(task, threads: int | None = None) -> dict:
    """Run one ``Task`` (on a worker); return its record and result, never raise.

    ``threads``: numba's threads for this task (``numba.set_num_threads``, which holds for the
    calling thread only); None leaves the worker as it is.

    The record holds ``status`` (a ``Status`` value: "success", "diverged" with the curves up
    to the divergence, or "failed" when the run raised), ``message``, ``error`` (the
    exception's type), ``wall_time``, ``cpu_time`` (the worker process's CPU seconds: below
    ``wall_time`` when other programs hold the cores) and ``memory_peak`` (growth of the
    process's peak resident memory during the run, Linux only; the first solve of a worker
    process is preceded by a warm-up, ``_warm_up``).
    """
    import warnings

    from ._simulator import simulate
    from ._solver import solve

    import numba

    if threads is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    record = {"kind": task.kind, "key": task.key, "host": socket.gethostname(), "pid": os.getpid(),
              "numba_threads": numba.get_num_threads()}
    started, cpu = time.perf_counter(), time.process_time()
    result = None
    try:
        if task.kind == "dmft":
            _warm_up(task)
        started, cpu = time.perf_counter(), time.process_time()
        before = _reset_peak()
        with warnings.catch_warnings():  # a divergence is recorded as the run's status
            warnings.simplefilter("ignore", RuntimeWarning)
            run = solve if task.kind == "dmft" else simulate
            result = run(task.problem, task.schedule, **task.kwargs)
        peak = _resident_bytes("VmHWM")
        record["memory_peak"] = None if before is None or peak is None else peak - before
        record.update(status=result.status.value, message=result.message)
    except Exception as exc:  # every failure is recorded; the sweep goes on
        record.update(status=Status.FAILED.value, message=f"{type(exc).__name__}: {exc}",
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
        ``t_min`` (its time), ``<curve>_final``, ``status`` (a ``qd.Status`` value: "success",
        "diverged" -- curves up to the divergence, NaN after, final values NaN -- or
        "failed"), ``message``,
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
    sweeps, runs computed now, failed runs, failed and diverged points (the command line's
    summary)."""
    from ._io import check_output_path
    from ._sweep_grid import SweepGrid
    from ._sweep_store import PointStore, assemble, points_folder, write_dataset

    if not isinstance(grid, SweepGrid):
        raise ParameterError(f"grid must be a quaddmft.SweepGrid, got {grid!r}")
    path = check_output_path(path, what="sweep: path", suffixes=(".nc",))
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
              "failed_points": int(_with_status(ds, Status.FAILED).sum()),
              "diverged_points": int(_with_status(ds, Status.DIVERGED).sum())}
    return ds, counts


def _with_status(ds, status: Status):
    """Points whose solve, or simulation, has ``status``."""
    found = ds["status"] == status.value
    if "sim_status" in ds:
        found = found | (ds["sim_status"] == status.value)
    return found


def _estimates(tasks) -> dict:
    """{task key: the solve's ``Estimate``} of the solves (``_solver.estimate``)."""
    from ._solver import estimate

    out = {}
    for _, task in tasks:
        if task.kind == "dmft":
            try:
                out[task.key] = estimate(task.problem, task.schedule, **task.kwargs)
            except ParameterError:  # the run itself will record why
                pass
    return out


def _run(pending: dict, store, client, workers, progress: bool, total: int) -> int:
    """Submit the pending tasks, the longest first, store each result as it arrives, show
    progress; return the number of failed runs.

    The longest first (by the solve's own time estimate, ``_resources.check_solve``; a
    simulation after the solves): the workers then end together instead of one finishing the
    costliest points alone (measured: the time of a point grows ~2x from b = 0.25 to b = 1)."""
    from distributed import as_completed

    from ._progress import Progress

    tasks = [(index, task) for index, (_, todo) in pending.items() for task in todo]
    estimates = _estimates(tasks)
    cost = {task.key: (estimates[task.key].seconds if task.key in estimates else 0.0)
            for _, task in tasks}
    tasks.sort(key=lambda item: -cost[item[1].key])
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
        for rank, (index, task) in enumerate(tasks):
            future = connection.submit(run_task, task, threads, priority=len(tasks) - rank,
                                       key=f"quaddmft-{task.kind}-{task.key}-{run_id}-{rank}")
            futures[future] = (index, task)
        import xarray  # noqa: F401  (loaded for the dataset while the workers compute)

        bar = Progress(progress, total, "quaddmft sweep", unit=" points",
                       initial=total - len(pending))
        try:
            for future in as_completed(futures):
                index, task = futures.pop(future)
                record, result = _outcome(future, task)
                record["point"] = pending[index][0]
                if task.key in estimates:
                    record["memory_estimate"] = estimates[task.key].bytes
                store.write(task.kind, task.key, record, result)
                failed += record["status"] == Status.FAILED.value
                left[index] -= 1
                if left[index] == 0:
                    done = total - sum(n > 0 for n in left.values())
                    bar.step(f"{done}/{total} points, {failed} failed", 1)
        finally:
            for future in futures:
                future.cancel()
            bar.close()
    return failed


def _outcome(future, task) -> tuple:
    """(record, result) of a finished future; a task that could not run (its worker died) is
    a failed run."""
    try:
        outcome = future.result()
    except Exception as exc:
        return {"kind": task.kind, "key": task.key, "status": Status.FAILED.value,
                "message": f"{type(exc).__name__}: {exc}", "error": type(exc).__name__}, None
    return outcome["record"], outcome["result"]
