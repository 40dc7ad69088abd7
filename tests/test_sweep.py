"""Parameter sweeps (``qd.sweep``): on a 2-worker LocalCluster the dataset equals the same solves
run serially, bit for bit (the default, deterministic Quadrature rule and a sampled rule); a
killed sweep resumes without recomputing finished runs; a failing point is recorded and the
others complete, a diverging one keeps its curves up to the divergence; each worker's peak
memory stays within the solve's own estimate; files are written atomically; the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
distributed = pytest.importorskip("distributed")

import quaddmft as qd  # noqa: E402
from quaddmft._observables import CURVES  # noqa: E402
from quaddmft._solver import default_rule  # noqa: E402
from quaddmft._sweep_run import WORKER_ENV, local_cluster, run_sweep  # noqa: E402
from quaddmft._sweep_store import PointStore, points_folder, write_dataset  # noqa: E402
from quaddmft.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NUMBA_THREADS_ENV = os.environ.get("NUMBA_NUM_THREADS")
RULE = qd.QMC(n_points=16, n_h0=4, n_replicates=2)
B_VALUES = [0.5, 1.0]
INV_TAU = [0.2, 0.6, 1.0]


def psgd_grid(rule=RULE, **fixed) -> qd.SweepGrid:
    """Six points: Persistent-SGD (exact law) over b x 1/tau, t <= 1 (rule None: the default)."""
    settings = {"schedule": "persistent", "law": "exact", "eta": 0.2, "t_max": 1.0, **fixed}
    return qd.SweepGrid(fixed=settings, over={"b": B_VALUES, "inv_tau": INV_TAU}, rule=rule)


@pytest.fixture(scope="module")
def client():
    """The package's own LocalCluster (2 single-threaded worker processes) and its client."""
    with local_cluster(2) as cluster, distributed.Client(cluster) as connection:
        yield connection


def count_runs(folder: Path) -> dict:
    """{file name: (inode, mtime_ns)} of the complete runs' files in a sweep's folder."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.*")}


@pytest.mark.parametrize("rule", [None, RULE], ids=["default-quadrature", "qmc"])
def test_dataset_equals_serial_solves(client, tmp_path, rule):
    ds = qd.sweep(psgd_grid(rule), tmp_path / "psgd.nc", client=client, progress=True)
    problem = qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01)
    assert (ds["status"] == "success").all()
    expected = default_rule() if rule is None else rule
    assert ds.attrs["rule"] == expected.name
    for b in B_VALUES:
        for inv_tau in INV_TAU:
            schedule = qd.PersistentSGD(b=b, tau=1.0 / inv_tau, law="exact")
            res = qd.solve(problem, schedule, eta=0.2, t_max=1.0, rule=rule)
            point = ds.sel(b=b, inv_tau=inv_tau)
            np.testing.assert_array_equal(ds["t"].values, res.t)
            for name in CURVES:
                np.testing.assert_array_equal(point[name].values, getattr(res, name))
                np.testing.assert_array_equal(point[f"{name}_err"].values,
                                              getattr(res, f"{name}_err"))
            k = int(np.argmin(res.gen_error))
            assert point["gen_error_min"].item() == res.gen_error[k]
            assert point["gen_error_min_err"].item() == res.gen_error_err[k]
            assert point["t_min"].item() == res.t[k]
            assert point["gen_error_final"].item() == res.gen_error[-1]
            assert point["train_accuracy_final"].item() == res.train_accuracy[-1]


def test_dataset_layout_attributes_and_file(client, tmp_path):
    path = tmp_path / "psgd.nc"
    ds = qd.sweep(psgd_grid(), path, client=client, progress=False)
    assert dict(ds.sizes) == {"b": 2, "inv_tau": 3, "t": 6}
    assert ds["b"].values.tolist() == B_VALUES and ds["inv_tau"].values.tolist() == INV_TAU
    assert ds["gen_error"].dims == ("b", "inv_tau", "t")
    for name in ("gen_error_min", "gen_error_min_err", "t_min", "gen_error_final", "status",
                 "message", "wall_time", "cpu_time", "memory_peak", "memory_estimate"):
        assert ds[name].dims == ("b", "inv_tau"), name
    assert (ds["wall_time"] > 0).all() and (ds["memory_estimate"] > 0).all()
    attrs = ds.attrs
    assert attrs["quaddmft_version"] == qd.__version__
    assert json.loads(attrs["rule_params"]) == json.loads(json.dumps(RULE.params()))
    assert attrs["rule"] == "qmc" and attrs["schedule"] == "persistent" and attrs["law"] == "exact"
    assert (attrs["model"], attrs["alpha"], attrs["delta"], attrs["eta"], attrs["t_max"]) == (
        "two", 2.0, 0.5, 0.2, 1.0)
    assert "b" not in attrs and "tau" not in attrs  # swept, not fixed
    assert json.loads(attrs["swept"]) == ["b", "inv_tau"]
    with xr.open_dataset(path, engine="h5netcdf") as on_disk:
        xr.testing.assert_identical(on_disk.load(), ds)
    folder = points_folder(path)
    assert folder == tmp_path / "psgd.points"
    npz = sorted(folder.glob("*.dmft.npz"))
    assert len(npz) == 6 and len(list(folder.glob("*.dmft.json"))) == 6
    res = qd.load(npz[0])
    assert isinstance(res, qd.DMFTResult) and res.params["rule"] == "qmc"
    assert not list(folder.glob(".*"))  # no temporary file left


def test_a_cluster_object_is_accepted(client, tmp_path):
    grid = qd.SweepGrid(fixed={"schedule": "gd", "t_max": 0.4}, over={"lam": [0.0]}, rule=RULE)
    ds = qd.sweep(grid, tmp_path / "c.nc", client=client.cluster)
    assert ds["status"].values.tolist() == ["success"]


@pytest.mark.parametrize("rule", [qd.QMC(n_points=16, n_h0=4, n_replicates=4), None],
                         ids=["qmc", "default-quadrature"])
def test_memory_within_the_solves_estimate(client, tmp_path, rule):
    # K = 300 steps, kernels of 0.7 MB each: the estimate is well above the fixed overhead of a
    # run. The peak is the growth of the worker's resident memory during the solve (Linux),
    # the estimate the one ``solve`` checks against max_memory (``_resources.check_solve``).
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("peak memory is measured on Linux only")
    grid = qd.SweepGrid(fixed={"schedule": "persistent", "law": "exact", "tau": 1.0,
                               "t_max": 60.0},
                        over={"b": [0.3, 1.0]}, rule=rule)
    ds = qd.sweep(grid, tmp_path / "memory.nc", client=client)
    peak, estimate = ds["memory_peak"].values, ds["memory_estimate"].values
    print("peak MiB", peak / 2**20, "estimate MiB", estimate / 2**20)
    assert (estimate > 6 * 2**20).all()
    assert (peak <= estimate).all(), (peak / 2**20, estimate / 2**20)
    assert (peak > 0.2 * estimate).all(), "the measurement sees the solve"


def test_default_rule_is_solves_and_explicit_points(client, tmp_path):
    grid = qd.SweepGrid(fixed={"schedule": "gd", "t_max": 0.4},
                        points=[{"alpha": 1.0, "lam": 0.0}, {"alpha": 2.0, "lam": 0.1}])
    ds = qd.sweep(grid, tmp_path / "gd.nc", client=client)
    assert json.loads(ds.attrs["rule_params"]) == json.loads(json.dumps(default_rule().params()))
    assert ds["gen_error"].dims == ("point", "t")
    assert ds["alpha"].dims == ("point",) and ds["lam"].values.tolist() == [0.0, 0.1]
    res = qd.solve(qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", lam=0.1, R=0.01),
                   qd.FullBatch(), eta=0.2, t_max=0.4)
    np.testing.assert_array_equal(ds["gen_error"].values[1], res.gen_error)


def test_failing_points_are_recorded_and_the_rest_complete(client, tmp_path):
    # Point 1 diverges in its worker at k = 3 (eta = 5 beyond the stability limit): status
    # "diverged", curves up to t = 10. Point 2 raises ParameterError in its worker: K = 11000
    # needs more Sobol' dimensions than scipy has, or, on a machine with less than ~33 GiB,
    # more memory than max_memory allows (checked first). Point 3 is invalid before it runs (the
    # linear law needs tau >= eta (1 - b)/b = 1.8 at b = 0.1). Point 0 is fine.
    grid = qd.SweepGrid(
        fixed={"loss": "square", "b": 0.1, "tau": 1.0, "d": 40, "seeds": 2},
        points=[{"schedule": "gd", "eta": 0.2, "t_max": 1.0},
                {"schedule": "gd", "eta": 5.0, "t_max": 250.0},
                {"schedule": "sgd", "eta": 0.2, "t_max": 2200.0},
                {"schedule": "persistent", "eta": 0.2, "t_max": 1.0}],
        rule=RULE)
    path = tmp_path / "fail.nc"
    with pytest.warns(UserWarning, match="1 of 4 points have invalid parameters"):
        ds, counts = run_sweep(grid, path, client=client)
    status, message = ds["status"].values.tolist(), ds["message"].values.tolist()
    assert status == [qd.Status.SUCCESS, qd.Status.DIVERGED, qd.Status.FAILED, qd.Status.FAILED]
    assert message[1].startswith("diverged at step k = 3 (t = 15)")
    assert message[2].startswith("ParameterError: ") and "K = 11000" in message[2]
    assert message[3].startswith("ParameterError: tau = 1.0 is too small for the linear")
    # different time grids: the steps k are the dimension, t a variable, short runs NaN-padded
    assert ds["gen_error"].dims == ("point", "k") and ds.sizes["k"] == 11001
    np.testing.assert_allclose(ds["t"].values[0, :6], 0.2 * np.arange(6), rtol=0, atol=1e-15)
    assert np.isfinite(ds["gen_error"].values[0, :6]).all()
    assert np.isnan(ds["gen_error"].values[0, 6:]).all()
    # the diverged point: its curves up to t = 10 (k = 0..2), its minimum, no final value
    assert np.isfinite(ds["gen_error"].values[1, :3]).all()
    assert np.isnan(ds["gen_error"].values[1, 3:]).all()
    assert np.isfinite(ds["gen_error_min"].values[1]) and np.isnan(ds["gen_error_final"].values[1])
    assert np.isnan(ds["gen_error"].values[2:]).all()
    assert np.isnan(ds["gen_error_min"].values[2:]).all()
    assert counts["failed_points"] == 2 and counts["invalid_points"] == 1
    assert counts["diverged_points"] == 1
    assert counts["computed"] == 3 and counts["failed_runs"] == 1
    # A rerun retries the failed run only; the complete and diverged ones are neither rerun
    # nor rewritten.
    before = count_runs(points_folder(path))
    with pytest.warns(UserWarning):
        _, again = run_sweep(grid, path, client=client)
    assert again["computed"] == 1 and again["reused"] == 2
    after = count_runs(points_folder(path))
    assert all(after[name] == before[name] for name in before if name.endswith(".npz"))


def test_simulations_are_recorded_beside_the_solves(client, tmp_path):
    grid = qd.SweepGrid(fixed={"loss": "square", "schedule": "gd", "t_max": 0.6, "d": 40,
                               "seeds": 2}, over={"lam": [0.0, 0.1]}, rule=RULE, simulate=True)
    ds, counts = run_sweep(grid, tmp_path / "sim.nc", client=client)
    assert counts["computed"] == 4 and counts["failed_points"] == 0
    assert ds["sim_status"].values.tolist() == ["success", "success"]
    res = qd.simulate(qd.Problem(qd.TwoCluster(2.0, 0.5), "square", lam=0.1, R=0.01),
                      qd.FullBatch(), eta=0.2, t_max=0.6, d=40, seeds=2)
    np.testing.assert_array_equal(ds["sim_gen_error"].sel(lam=0.1).values, res.gen_error)


KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    import quaddmft as qd
    if __name__ == "__main__":
        grid = qd.SweepGrid(fixed={{"schedule": "persistent", "law": "exact", "t_max": 40.0}},
                            over={{"b": [0.3, 0.6, 1.0], "inv_tau": [0.2, 0.6]}},
                            rule=qd.QMC(n_points=64, n_h0=4, n_replicates=2))
        qd.sweep(grid, {path!r}, workers=2, progress=False)
""")


def test_killed_sweep_resumes_without_recomputing(client, tmp_path):
    path = tmp_path / "killed.nc"
    folder = points_folder(path)
    script = tmp_path / "run.py"
    script.write_text(KILLED.format(repo=str(REPO), path=str(path)))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while len(list(folder.glob("*.dmft.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no run finished within 180 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the worker processes it started
        proc.wait()
    assert not path.exists()
    finished = count_runs(folder)
    done = len([n for n in finished if n.endswith(".dmft.json")])
    assert 2 <= done < 6
    grid = qd.SweepGrid(fixed={"schedule": "persistent", "law": "exact", "t_max": 40.0},
                        over={"b": [0.3, 0.6, 1.0], "inv_tau": [0.2, 0.6]},
                        rule=qd.QMC(n_points=64, n_h0=4, n_replicates=2))
    ds, counts = run_sweep(grid, path, client=client)
    assert counts == {"points": 6, "reused": done, "computed": 6 - done, "failed_runs": 0,
                      "invalid_points": 0, "failed_points": 0, "diverged_points": 0}
    after = count_runs(folder)
    assert all(after[name] == stamp for name, stamp in finished.items())  # not rewritten
    assert (ds["status"] == "success").all()
    _, rerun = run_sweep(grid, path, client=client)
    assert rerun["computed"] == 0 and rerun["reused"] == 6


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.nc"
    old = xr.Dataset({"x": ("i", np.arange(3.0))})
    write_dataset(old, path)

    def broken(source, target, *args, **kwargs):  # the copy into place dies half-way
        target.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("shutil.copyfileobj", broken)
    with pytest.raises(OSError, match="disk full"):
        write_dataset(xr.Dataset({"x": ("i", np.zeros(5))}), path)
    monkeypatch.undo()
    with xr.open_dataset(path, engine="h5netcdf") as kept:
        xr.testing.assert_identical(kept.load(), old)  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nc"]

    store = PointStore(tmp_path / "a.points")
    res = qd.solve(qd.Problem(qd.TwoCluster(2.0, 0.5)), qd.FullBatch(), eta=0.2, t_max=0.4,
                   rule=RULE)

    def failing_savez(fh, **arrays):  # killed half-way through writing the result
        fh.write(b"partial")
        raise OSError("killed")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError):
        store.write("dmft", "k1", {"status": "success"}, res)
    monkeypatch.undo()
    assert list(store.folder.iterdir()) == [] and store.record("dmft", "k1") is None
    assert not store.complete("dmft", "k1")
    store.write("dmft", "k1", {"status": "success"}, res)
    assert store.complete("dmft", "k1")
    np.testing.assert_array_equal(store.result("dmft", "k1").gen_error, res.gen_error)


def test_workers_are_single_threaded(client, tmp_path):
    def probe():
        from threadpoolctl import threadpool_info

        return ({k: os.environ.get(k) for k in WORKER_ENV},
                {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

    for env, blas in client.run(probe).values():
        assert env == WORKER_ENV and blas <= {1}
    path = tmp_path / "threads.nc"
    qd.sweep(qd.SweepGrid(fixed={"schedule": "gd", "t_max": 0.4}, over={"lam": [0.0, 0.1]},
                          rule=RULE), path, client=client)
    records = [json.loads(p.read_text()) for p in points_folder(path).glob("*.json")]
    assert len(records) == 2 and all(r["numba_threads"] == 1 for r in records)
    # ... and nothing leaks into this process: numba refuses a new NUMBA_NUM_THREADS once its
    # threads run (a first version set it for the workers, and a later compilation here raised
    # RuntimeError).
    import numba

    assert os.environ.get("NUMBA_NUM_THREADS") == NUMBA_THREADS_ENV

    @numba.njit(parallel=True)
    def total(x):
        acc = 0.0
        for i in numba.prange(x.size):
            acc += x[i]
        return acc

    assert total(np.ones(10)) == 10.0


SWEEP_TOML = """
model = "two"
schedule = "gd"
t_max = 0.6
rule = "qmc"
points = 16
h0_nodes = 4
replicates = 2
[sweep]
alpha = [1.0, 2.0, 4.0]
lam = {start = 0.0, stop = 0.2, step = 0.1}
"""


def test_command_line_sweep_and_plot(client, tmp_path, capsys):
    config = tmp_path / "gd.toml"
    config.write_text(SWEEP_TOML)
    address = client.scheduler.address
    code = main(["sweep", "--config", str(config), "--scheduler", address, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("sweep: 9 points, 9 runs computed, 0 reused, 0 points failed")
    ds = xr.open_dataset(tmp_path / "gd.nc", engine="h5netcdf").load()
    assert ds["lam"].values.tolist() == [0.0, 0.1, 0.2] and ds.attrs["schedule"] == "gd"
    res = qd.solve(qd.Problem(qd.TwoCluster(4.0, 0.5), "logistic", lam=0.1, R=0.01),
                   qd.FullBatch(), eta=0.2, t_max=0.6, rule=RULE)
    np.testing.assert_array_equal(ds["gen_error"].sel(alpha=4.0, lam=0.1).values, res.gen_error)
    # the rerun reuses everything; an option overrides a fixed setting (new runs)
    code = main(["sweep", "--config", str(config), "--scheduler", address, "--no-progress"])
    assert code == 0 and "0 runs computed, 9 reused" in capsys.readouterr().out
    short = tmp_path / "short.nc"
    code = main(["sweep", "--config", str(config), "--scheduler", address, "--t-max", "0.4",
                 "--output", str(short), "--no-progress"])
    assert code == 0 and "9 runs computed, 0 reused" in capsys.readouterr().out
    with xr.open_dataset(short, engine="h5netcdf") as ds_short:
        assert ds_short.sizes["t"] == 3 and ds_short.attrs["t_max"] == 0.4
    for kind in ("heatmap", "lines"):
        png = tmp_path / f"{kind}.png"
        assert main(["plot-sweep", str(tmp_path / "gd.nc"), "--variable", "gen_error_min",
                     "--kind", kind, "--out", str(png)]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert main(["plot-sweep", str(tmp_path / "gd.nc"), "--variable", "t_min"]) == 0
    assert (tmp_path / "gd.t_min.png").exists()
    capsys.readouterr()
    assert main(["plot-sweep", str(tmp_path / "gd.nc"), "--variable", "gen_error"]) == 2
    assert "depends on time" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ("[sweep]\nbatch = [0.1]\n", "unknown key 'batch'"),
    ("[sweep]\nb = []\n", "b has no values"),
    ("[sweep]\nb = {start = 0.1, stop = 1}\n", "a range is {start, stop, step}"),
    ("b = 0.3\n[sweep]\nb = [0.1, 0.2]\n", "b both fixed and swept"),
    ("[sweep]\nb = [0.1, 0.1]\n", "repeated values"),
    ("alpha = 2\n", "give either swept values"),
    ("[sweep]\nalpha = [-1.0, -2.0]\n", "no valid point"),
    ("[sweep]\nloss = [\"logistic\", \"hinge\"]\n", "unknown loss 'hinge'; valid names are"),
    ("[sweep]\nalpha = [\"two\"]\n", "alpha must be a number"),
    ("nope = 1\n[sweep]\nb = [0.5]\n", "valid keys are"),
    ("[[point]]\nb = 0.5\n[[point]]\nalpha = 1.0\n", "every point must give the same keys"),
    # The models of issue 14 are refused by name, not run with a key that ignores them.
    ('momentum = "nesterov"\n[sweep]\nbeta = [0.1, 0.5]\n', "'momentum' is not supported by sweeps"),
    ("[sweep]\ntemperature = [0.0, 0.1]\n", "'temperature' is not supported by sweeps"),
    ('[sweep]\nmodel = ["two", "teacher-student"]\n', "model = 'teacher-student' is not supported"),
])
def test_bad_sweep_config_exits_2(tmp_path, capsys, text, expected):
    config = tmp_path / "bad.toml"
    config.write_text('schedule = "sgd"\nt_max = 0.4\n' + text)
    code = main(["sweep", "--config", str(config), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("quaddmft: error:") and expected in err, err


def test_ranges():
    from quaddmft._sweep_grid import expand_values

    assert expand_values("b", {"start": 0.1, "stop": 1.0, "step": 0.1}) == (
        0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert expand_values("lam", {"start": 0.0, "stop": 1.0, "num": 5}) == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert expand_values("lam", {"start": 0.01, "stop": 1.0, "num": 3, "scale": "log"}) == (
        0.01, 0.1, 1.0)


def test_inv_tau_is_one_over_tau():
    from quaddmft._config import build

    _, schedule, _, unused = build("solve", {"schedule": "persistent", "inv_tau": 0.5})
    assert schedule.tau == 2.0 and unused == []
    with pytest.raises(qd.ParameterError, match="give tau or inv_tau"):
        build("solve", {"schedule": "persistent", "inv_tau": 0.5, "tau": 2.0})
    with pytest.raises(qd.ParameterError, match="inv_tau"):
        build("solve", {"schedule": "persistent", "inv_tau": 0.0})
    assert build("solve", {"schedule": "gd", "inv_tau": 0.5})[3] == ["inv_tau"]  # unused by GD


def test_plot_sweep_selects_and_names_bad_input(tmp_path):
    values = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    values[1, 2, 3] = np.nan  # a failed point: a blank cell
    ds = xr.Dataset({"gen_error_min": (("alpha", "lam", "b"), values),
                     "gen_error_min_err": (("alpha", "lam", "b"), 0.01 * np.ones_like(values))},
                    coords={"alpha": [1.0, 2.0], "lam": [0.0, 0.1, 1.0], "b": [0.1, 0.2, 0.5, 1.0]},
                    attrs={"model": "two", "t_max": 2.0})
    with pytest.raises(qd.ParameterError, match="also varies with alpha"):
        qd.plot_sweep(ds, "gen_error_min", tmp_path / "a.png", x="b", y="lam")
    png = qd.plot_sweep(ds, "gen_error_min", tmp_path / "a.png", x="b", y="lam",
                        select={"alpha": 2.0})
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = qd.plot_sweep(ds, "gen_error_min", tmp_path / "b.png", x="b", y="alpha", kind="lines",
                        select={"lam": 0.1})
    assert png.stat().st_size > 5000
    with pytest.raises(qd.ParameterError, match="unknown variable 'nope'"):
        qd.plot_sweep(ds, "nope", tmp_path / "c.png")
    with pytest.raises(qd.ParameterError, match="'tau' is not a swept dimension"):
        qd.plot_sweep(ds, "gen_error_min", tmp_path / "c.png", x="tau", select={"alpha": 1.0})
    with pytest.raises(qd.ParameterError, match="kind"):
        qd.plot_sweep(ds, "gen_error_min", tmp_path / "c.png", kind="surface")


def test_models_of_issue_14_are_refused_by_from_objects():
    """A problem with Langevin noise, a constraint or teacher-student data is not silently
    reduced to the settings a sweep knows."""
    for problem, name in ((qd.Problem(qd.TwoCluster(2.0, 0.5), temperature=0.1), "temperature"),
                          (qd.Problem(qd.TeacherStudent(2.0, teacher="sign")), "teacher-student")):
        with pytest.raises(qd.ParameterError, match=f"{name}.*not supported by sweeps"):
            qd.SweepGrid.from_objects(problem, qd.FullBatch(), eta=0.2, t_max=1.0,
                                      over={"lam": [0.0, 0.1]})


def test_continuous_time_points_are_refused_before_any_work():
    """A sweep runs discrete time (its dataset has one eta grid per point): time = continuous is
    refused by name when the grid is built, before a cluster starts."""
    grid = qd.SweepGrid(fixed={"schedule": "gd", "t_max": 0.4, "time": "continuous"},
                        over={"lam": [0.0, 0.1]})
    with pytest.raises(qd.ParameterError, match="a sweep runs discrete time"):
        grid.build_all()
