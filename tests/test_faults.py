"""Fault injection: every failure class of the command line ends in one line and the documented
exit code, and leaves a previous output file byte for byte as it was; ``qd.load`` refuses what is
not a result with FileFormatError and never anything else.

Failure classes: a bad value, a bad output path, a full disk (the writer fails midway), Ctrl-C
(SIGINT to a real process), a run refused for its memory, a diverging run, a TOML file that is
not UTF-8, corrupted and random files given to ``load``.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quaddmft as qd
import quaddmft._io as qio
from quaddmft.cli import main

TINY = ["solve", "--schedule", "gd", "--t-max", "0.6", "--resolution", "1", "--no-progress"]
PREVIOUS = b'{"previous": "a good file"}\n'


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, code: int, expected: int) -> str:
    lines = [line for line in err.splitlines() if line.startswith("quaddmft: error:")]
    assert code == expected, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def previous(tmp_path):
    """A previous output file that every failure must leave untouched."""
    path = tmp_path / "run.json"
    path.write_bytes(PREVIOUS)
    return path


@pytest.mark.parametrize("extra, expected", [
    (["--eta", "-1"], "eta"),
    (["--rule", "simpson"], "rule"),
    (["--tolerance", "0"], "tolerance"),
    (["--max-memory", "-2"], "max_memory"),
])
def test_a_bad_value_exits_2_and_writes_nothing(extra, expected, previous, capsys):
    code, out, err = run([*TINY, *extra, "--json", previous], capsys)
    assert expected in one_error_line(err, code, 2)
    assert previous.read_bytes() == PREVIOUS


def test_bad_output_paths_are_refused_before_the_run(tmp_path, previous, capsys, monkeypatch):
    started = []
    monkeypatch.setattr(qd, "solve", lambda *a, **k: started.append(1))
    cases = [
        (["--json", tmp_path], "is a folder"),
        (["--plot", tmp_path / "a.txt"], "must end with one of"),
        (["--json", tmp_path / "no" / "such" / "x.json"], "does not exist"),
        (["--json", previous, "--plot", tmp_path], "is a folder"),
    ]
    for extra, message in cases:
        code, out, err = run([*TINY, *extra], capsys)
        assert message in one_error_line(err, code, 2)
    assert not started  # refused before any computation
    assert previous.read_bytes() == PREVIOUS


def test_a_full_disk_leaves_the_previous_file(previous, capsys, monkeypatch):
    """The writer fails midway (ENOSPC from the flush to disk): exit 1, one line, the previous
    JSON and NPZ byte for byte, no temporary file left behind."""
    npz = previous.with_suffix(".npz")
    qd.solve(qd.Problem(qd.TwoCluster(2.0, 0.5)), eta=0.2, t_max=0.4,
             rule=qd.Quadrature(resolution=1)).save(npz)
    before = npz.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(qio.os, "fsync", full)
    for option, path in (("--json", previous), ("--save", npz)):
        code, out, err = run([*TINY, option, path], capsys)
        assert "No space left on device" in one_error_line(err, code, 1)
    assert previous.read_bytes() == PREVIOUS and npz.read_bytes() == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["run.json", "run.npz"]


def test_a_failed_plot_leaves_the_previous_image(tmp_path, capsys, monkeypatch):
    png = tmp_path / "a.png"
    png.write_bytes(b"previous image")
    monkeypatch.setattr(qio.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    code, out, err = run([*TINY, "--plot", png], capsys)
    assert "I/O error" in one_error_line(err, code, 1)
    assert png.read_bytes() == b"previous image"


def test_ctrl_c_exits_130_with_one_line_and_writes_nothing(previous):
    """SIGINT to a real process in the middle of a solve (a long horizon, so that it is still
    running when the signal comes)."""
    argv = [sys.executable, "-m", "quaddmft", "solve", "--schedule", "gd", "--t-max", "100",
            "--rule", "qmc", "--json", str(previous), "--no-progress"]
    # SIGINT back to its default in the child: a test process that ignores SIGINT (inherited
    # from the shell that started it, or left so by an earlier test or library) passes SIG_IGN
    # on, and Python then installs no KeyboardInterrupt handler. Seen once in a full run on a
    # clean clone: the signal was lost, the solve ran to its end and exited 0.
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[1],
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(6.0)  # past the imports and the compilation, into the sweeps
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("quaddmft: interrupted") and lines[-1].endswith("nothing written")
    assert "Traceback" not in err
    assert previous.read_bytes() == PREVIOUS


def test_a_run_beyond_the_memory_limit_is_refused_at_once(previous, capsys):
    started = time.perf_counter()
    code, out, err = run(["solve", "--schedule", "gd", "--t-max", "20000", "--rule", "montecarlo",
                          "--json", previous, "--no-progress"], capsys)
    line = one_error_line(err, code, 2)
    assert "max_memory" in line and "GiB" in line
    assert time.perf_counter() - started < 10.0  # refused before any sweep
    code, out, err = run(["simulate", "--d", "100000", "--t-max", "1", "--seeds", "2",
                          "--max-memory", "1", "--json", previous, "--no-progress"], capsys)
    assert "max_memory" in one_error_line(err, code, 2)
    assert previous.read_bytes() == PREVIOUS


@pytest.mark.parametrize("command", ["solve", "simulate"])
def test_a_diverging_run_exits_1_with_the_step_and_writes_nothing(command, previous, capsys):
    """Square loss with eta = 2 is far beyond stability: stopped within a few steps of the
    relative criterion (|w|^2/d past 1e6 times its start, growing 100x in 10 steps), not at 1e48."""
    extra = ["--d", "200", "--seeds", "2"] if command == "simulate" else ["--resolution", "1"]
    code, out, err = run([command, "--loss", "square", "--schedule", "gd", "--eta", "2.0",
                          "--t-max", "60", *extra, "--json", previous, "--no-progress"], capsys)
    line = one_error_line(err, code, 1)
    assert "diverged at step k = " in line and "nothing written" in line
    assert previous.read_bytes() == PREVIOUS


def test_the_python_api_returns_a_diverged_result():
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "square", R=0.01)
    with pytest.warns(RuntimeWarning, match="diverged"):
        res = qd.solve(problem, eta=2.0, t_max=60.0, rule=qd.Quadrature(resolution=1))
    assert res.status is qd.Status.DIVERGED and not res.success
    k = int(res.message.split("step k = ")[1].split()[0])
    assert res.t.size == k and np.all(np.isfinite(res.train_loss))
    assert res.C[-1] < 1e7 * res.C[0]  # stopped early, not at 1e48
    with pytest.warns(RuntimeWarning, match="diverged"):
        sim = qd.simulate(problem, eta=2.0, t_max=60.0, d=200, seeds=2)
    assert sim.status is qd.Status.DIVERGED and sim.t.size <= k + 1


def test_a_toml_file_that_is_not_utf8_is_refused(tmp_path, previous, capsys):
    config = tmp_path / "bad.toml"
    config.write_bytes(b'model = "two"\nalpha = 2.0 # \xff\xfe\n')
    code, out, err = run([*TINY, "--config", config, "--json", previous], capsys)
    assert "not UTF-8" in one_error_line(err, code, 2)
    assert previous.read_bytes() == PREVIOUS


def test_json_to_stdout(capsys):
    code, out, err = run([*TINY, "--json", "-"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "success" and len(data["t"]) == 4
    assert "json -> stdout" in err  # the summary moved to stderr


def test_help_does_not_load_the_numerics():
    """``quaddmft --help`` answers without importing numba, scipy or matplotlib (lazy package)."""
    code = ("import sys, quaddmft.cli; "
            "print(sorted(m for m in ('numba', 'scipy', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------- qd.load
def _valid_npz_bytes() -> bytes:
    res = qd.solve(qd.Problem(qd.TwoCluster(2.0, 0.5)), eta=0.2, t_max=0.4,
                   rule=qd.Quadrature(resolution=1))
    buffer = io.BytesIO()
    metadata = {"__kind__": "dmft", "__format__": 2, "params": res.params, "error_kind":
                res.error_kind.value, "status": "success", "message": "", "history": [],
                "wall_time": 0.0}
    arrays = {k: v for k, v in vars(res).items() if isinstance(v, np.ndarray)}
    np.savez(buffer, __metadata__=np.array(json.dumps(metadata, default=float)), **arrays)
    return buffer.getvalue()


VALID = _valid_npz_bytes()


def _mutations():
    """Valid archives with one thing wrong: a field dropped, added, reshaped or retyped; broken
    metadata; an unknown kind or format."""
    with np.load(io.BytesIO(VALID)) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("__metadata__")))

    def pack(arrs, md):
        buffer = io.BytesIO()
        np.savez(buffer, __metadata__=np.array(json.dumps(md) if isinstance(md, dict) else md), **arrs)
        return buffer.getvalue()

    out = {"missing field": pack({k: v for k, v in arrays.items() if k != "C"}, meta),
           "extra field": pack({**arrays, "X": np.zeros(3)}, meta),
           "short curve": pack({**arrays, "C": arrays["C"][:-1]}, meta),
           "int dtype": pack({**arrays, "m": arrays["m"].astype(np.int64)}, meta),
           "kernel shape": pack({**arrays, "M_C": arrays["M_C"][:-1]}, meta),
           "metadata not json": pack(arrays, "{not json"),
           "unknown kind": pack(arrays, {**meta, "__kind__": "other"}),
           "future format": pack(arrays, {**meta, "__format__": 99}),
           "bad status": pack(arrays, {**meta, "status": "great"}),
           "object array": None}
    buffer = io.BytesIO()
    np.savez(buffer, __metadata__=np.array(json.dumps(meta)), **{**arrays, "C": np.array([{}], dtype=object)})
    out["object array"] = buffer.getvalue()
    return out


@pytest.mark.parametrize("name, data", sorted(_mutations().items()))
def test_load_refuses_a_mutated_result(name, data):
    with pytest.raises(qd.FileFormatError):
        qd.load(io.BytesIO(data))


def test_load_refuses_a_truncated_archive(tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(VALID[: len(VALID) // 2])
    with pytest.raises(qd.FileFormatError, match="npz"):
        qd.load(path)


@settings(max_examples=60)
@given(data=st.binary(max_size=4096), cut=st.integers(0, len(VALID)), flip=st.integers(0, 255))
def test_load_never_fails_otherwise(data, cut, flip):
    """Random bytes, and a valid file with a byte changed: FileFormatError, or a consistent
    result (curves of one length, kernels square of that size)."""
    mutated = bytearray(VALID)
    mutated[cut % len(VALID)] ^= flip
    for blob in (data, bytes(mutated)):
        try:
            res = qd.load(io.BytesIO(blob))
        except qd.FileFormatError:
            continue
        n = res.t.size
        assert all(getattr(res, c).shape == (n,) for c in ("m", "C", "gen_error"))
        assert res.M_C.shape == (n, n)


def test_a_zip_that_is_not_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(qd.FileFormatError, match="__metadata__"):
        qd.load(path)


def test_written_files_get_the_usual_mode(tmp_path):
    """mkstemp's 0600 is not what a plain open() gives: a new file gets 0666 & ~umask, a replaced
    file keeps its mode."""
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        with qio.atomic_write(fresh, "w") as fh:
            fh.write("{}")
        assert fresh.stat().st_mode & 0o777 == 0o644
        fresh.chmod(0o600)
        with qio.atomic_write(fresh, "w") as fh:
            fh.write("[]")
        assert fresh.stat().st_mode & 0o777 == 0o600 and fresh.read_text() == "[]"
    finally:
        os.umask(umask)
