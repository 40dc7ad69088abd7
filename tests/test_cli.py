"""The command line: outputs, TOML configs, error reporting (runs main() in-process, tiny horizons)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import quaddmft as qd
from quaddmft.cli import main

REPO = Path(__file__).resolve().parents[1]
CURVES = ["t", "gen_error", "train_loss", "train_accuracy", "m", "C"]
TINY_SOLVE = ["--t-max", "0.6", "--resolution", "1"]
TINY_SIMULATE = ["--t-max", "0.6", "--d", "50", "--seeds", "2"]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def check_json(path: Path, suffix: str) -> dict:
    data = json.loads(path.read_text())
    lengths = set()
    for key in CURVES + [f"{k}{suffix}" for k in CURVES[1:]]:
        values = data[key]
        assert isinstance(values, list) and values, key
        assert all(isinstance(v, float) for v in values), key
        lengths.add(len(values))
    assert len(lengths) == 1
    assert isinstance(data["params"], dict)
    return data


def check_png(path: Path):
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_solve_writes_json_plot_and_npz(tmp_path, capsys):
    js, png, npz = tmp_path / "out" / "r.json", tmp_path / "r.png", tmp_path / "r.npz"
    code, out, err = run(["solve", *TINY_SOLVE, "--json", js, "--plot", png, "--save", npz,
                          "--no-progress"], capsys)
    assert code == 0, err
    data = check_json(js, "_err")
    assert len(data["t"]) == 4  # K = floor(0.6 / 0.2) = 3 steps
    # the defaults are the paper's Fig. 1 left setting
    p = data["params"]
    assert (p["model"], p["alpha"], p["delta"], p["loss"], p["lam"], p["eta"], p["R"]) == (
        "two", 2.0, 0.5, "logistic", 0.0, 0.2, 0.01)
    assert (p["schedule"], p["b"], p["law"]) == ("persistent", 0.3, "linear")
    assert p["tau"] == pytest.approx(1 / 0.6)
    assert (p["rule"], p["resolution"]) == ("quadrature", 1)  # the default rule
    check_png(png)
    loaded = qd.load(npz)
    np.testing.assert_array_equal(loaded.gen_error, data["gen_error"])
    assert out.count("\n") == 1 and "gen_error" in out and str(js) in out and str(png) in out
    # no progress output when switched off; the one note says the missing folder was created
    assert err == f"quaddmft: creating the folder {js.parent}\n"


def test_simulate_writes_json_and_plot(tmp_path, capsys):
    js, png = tmp_path / "s.json", tmp_path / "s.png"
    code, out, err = run(["simulate", *TINY_SIMULATE, "--schedule", "sgd", "--json", js,
                          "--plot", png], capsys)
    assert code == 0, err
    data = check_json(js, "_err")
    assert data["params"]["schedule"] == "sgd"
    check_png(png)
    assert "gen_error" in out


def test_config_is_read_and_overridden(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(
        'alpha = 3.0\nlam = 0.1\n"t-max" = 0.6\nschedule = "gd"\nrule = "montecarlo"\n'
        "points = 32\nreplicates = 2\nseed = 5\n"
        "d = 50\nseeds = 2\n"  # simulate keys: accepted, unused by solve
    )
    js = tmp_path / "c.json"
    code, _, err = run(["solve", "--config", config, "--alpha", "2.5", "--json", js], capsys)
    assert code == 0, err
    p = json.loads(js.read_text())["params"]
    assert p["alpha"] == 2.5  # command line wins
    assert (p["lam"], p["t_max"], p["schedule"]) == (0.1, 0.6, "gd")  # from the file
    assert (p["rule"], p["n_samples"], p["seed"]) == ("montecarlo", 32, 5)
    assert "warning" not in err


def test_example_config_is_the_default_setting():
    from quaddmft._config import DEFAULTS, read_config

    config = read_config(REPO / "examples" / "fig1_left.toml")
    for key, value in DEFAULTS.items():
        if key in config:
            assert config[key] == pytest.approx(value), key
    assert config["b"] == 0.3 and config["t_max"] == 20


@pytest.mark.parametrize("argv, name", [
    (["--alpha", "-1"], "alpha"),
    (["--b", "1.5"], "b"),
    (["--loss", "nope"], "loss"),
    (["--schedule", "foo"], "schedule"),
    (["--law", "quadratic"], "law"),
    (["--model", "four"], "model"),
    (["--rule", "simpson"], "rule"),
    (["--rule", "qmc", "--points", "3"], "--points"),
    (["--tolerance", "-1"], "tolerance"),
    (["--resolution", "0"], "resolution"),
    (["--b", "0.1"], "tau"),  # linear Persistent-SGD law invalid at b = 0.1, 1/tau = 0.6
    (["--eta", "nan"], "eta"),
    (["--alpha", "two"], "--alpha"),  # not a number: argparse's own error
])
def test_bad_value_exits_2_naming_the_parameter(argv, name, capsys):
    code, out, err = run(["solve", *TINY_SOLVE, *argv], capsys)
    assert code == 2
    assert "error" in err and name in err and "Traceback" not in err
    assert out == ""


def test_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("alpha = 2\nbatch = 0.3\n")
    code, _, err = run(["solve", "--config", config], capsys)
    assert code == 2 and "'batch'" in err and "valid keys are" in err and "t_max" in err
    config.write_text('alpha = "2"\n')
    code, _, err = run(["solve", "--config", config], capsys)
    assert code == 2 and "alpha" in err
    code, _, err = run(["solve", "--config", tmp_path / "missing.toml"], capsys)
    assert code == 2 and "missing.toml" in err


def test_unused_option_warns(capsys):
    code, _, err = run(["solve", *TINY_SOLVE, "--schedule", "gd", "--tau", "2"], capsys)
    assert code == 0 and "warning" in err and "tau" in err


def test_help_and_missing_command(capsys):
    assert main(["--help"]) == 0
    assert "solve" in capsys.readouterr().out
    assert main([]) == 2


def test_python_dash_m():
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "quaddmft", "--help"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0 and "simulate" in done.stdout
    done = subprocess.run([sys.executable, "-m", "quaddmft", "solve", "--alpha", "-1"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "quaddmft: error: alpha = -1.0 is outside the allowed range (0.0, inf)"


def test_quadrature_rule_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "q.json"
    code, _, _ = run(["solve", "--schedule", "gd", "--R", "0", "--t-max", "0.2",
                      "--tolerance", "1e-8", "--max-resolution", "2", "--json", str(out),
                      "--no-progress"], capsys)
    assert code == 0
    data = check_json(out, "_err")
    assert data["params"]["rule"] == "quadrature"  # the default rule
    assert data["params"]["tolerance"] == 1e-8 and data["params"]["max_resolution"] == 2
    assert data["error_kind"] == "refinement"
    # First GD step from w = 0 is the Bayes-optimal error, exactly.
    assert abs(data["gen_error"][1] - qd.bayes_optimal_error(2.0, 0.5)) < 1e-9


def test_every_law_from_the_command_line(tmp_path, capsys):
    """--law accepts every name of qd.LAWS and gives the library's solve with that law (b = 0.1,
    where the linear law is invalid: linear exits 2, exact and linear-clipped run and differ)."""
    finals = {}
    for name, law in qd.LAWS.items():
        js = tmp_path / f"{name}.json"
        code, out, err = run(["solve", *TINY_SOLVE, "--b", "0.1", "--law", name, "--json", js,
                              "--no-progress"], capsys)
        if name == "linear":
            assert code == 2 and "tau" in err and not js.exists()
            continue
        assert code == 0, err
        data = json.loads(js.read_text())
        assert data["params"]["law"] == name
        direct = qd.solve(qd.Problem(qd.TwoCluster(alpha=2.0, delta=0.5), "logistic", lam=0.0, R=0.01),
                          qd.PersistentSGD(b=0.1, tau=1 / 0.6, law=law), eta=0.2, t_max=0.6,
                          rule=qd.Quadrature(resolution=1))
        np.testing.assert_array_equal(direct.gen_error, data["gen_error"])
        finals[name] = data["gen_error"][-1]
    assert finals["exact"] != finals["linear-clipped"]


# --------------------------------------------------- issue 14: teacher-student, momentum, Langevin


def test_models_options_reach_the_objects(tmp_path, capsys):
    """--model teacher-student --teacher --noise --flip --momentum --beta --temperature
    --constraint become the objects of docs/theory.md section 8, in solve and simulate alike."""
    js = tmp_path / "ts.json"
    options = ["--model", "teacher-student", "--teacher", "sign", "--noise", "0.1", "--flip",
               "0.05", "--schedule", "sgd", "--b", "0.5", "--momentum", "nesterov", "--beta",
               "0.4", "--temperature", "0.01", "--R", "0.25"]
    code, out, err = run(["solve", *TINY_SOLVE, *options, "--json", js, "--no-progress"], capsys)
    assert code == 0, err
    p = check_json(js, "_err")["params"]
    assert (p["model"], p["teacher"], p["noise"], p["flip"]) == ("teacher-student", "sign", 0.1, 0.05)
    assert (p["momentum"], p["beta"], p["temperature"]) == ("nesterov", 0.4, 0.01)
    code, out, err = run(["simulate", *TINY_SIMULATE, *options, "--json", js, "--no-progress"],
                         capsys)
    assert code == 0, err
    assert check_json(js, "_err")["params"]["momentum"] == "nesterov"


def test_models_options_in_toml_and_their_errors(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('constraint = "spherical"\nR = 1.0\nmomentum = "none"\nschedule = "gd"\n'
                      'beta = 0.3\nteacher = "sign"\n')
    js = tmp_path / "s.json"
    code, out, err = run(["solve", "--config", config, *TINY_SOLVE, "--json", js,
                          "--no-progress"], capsys)
    assert code == 0, err
    assert "ignored" in err and "beta" in err and "teacher" in err  # not used by this run
    data = json.loads(js.read_text())
    assert data["params"]["constraint"] == "spherical"
    np.testing.assert_allclose(data["C"], 1.0, rtol=0, atol=1e-13)
    code, out, err = run(["solve", "--config", config, *TINY_SOLVE, "--momentum", "heavy-ball",
                          "--beta", "0.3", "--no-progress"], capsys)
    assert code == 2 and "momentum" in err and "spherical" in err and _one_line_error(err)
    code, out, err = run(["solve", *TINY_SOLVE, "--constraint", "cube", "--no-progress"], capsys)
    assert code == 2 and "constraint" in err and "spherical" in err and _one_line_error(err)
    code, out, err = run(["solve", *TINY_SOLVE, "--model", "teacher-student", "--teacher", "cubic",
                          "--no-progress"], capsys)
    assert code == 2 and "teacher" in err and "linear" in err and _one_line_error(err)
    for option, value, name in (("--beta", "1.5", "beta"), ("--temperature", "-1", "temperature"),
                                ("--flip", "0.7", "flip")):
        extra = (["--momentum", "nesterov"] if name == "beta" else
                 ["--model", "teacher-student", "--teacher", "sign"] if name == "flip" else [])
        for command, tiny in (("solve", TINY_SOLVE), ("simulate", TINY_SIMULATE)):
            code, out, err = run([command, *tiny, *extra, option, value, "--no-progress"], capsys)
            assert code == 2 and name in err and _one_line_error(err), (command, option, err)


def _one_line_error(err: str) -> bool:
    """main's CLI error format: one line ``quaddmft: error: ...`` after any warnings, no traceback."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("quaddmft: warning: ")]
    return len(lines) == 1 and lines[0].startswith("quaddmft: error: ")


def test_continuous_time_from_the_command_line(tmp_path, capsys):
    """--time continuous (adaptive mesh) reaches qd.solve: the same curves as the library call,
    its parameters in the JSON, the plot titled for eta -> 0; a TOML config says the same."""
    js, png = tmp_path / "c.json", tmp_path / "c.png"
    argv = ["solve", "--schedule", "gd", "--t-max", "6", "--time", "continuous", "--growth",
            "adaptive", "--step", "0.4", "--levels", "2", "--resolution", "1"]
    code, out, err = run([*argv, "--json", js, "--plot", png, "--no-progress"], capsys)
    assert code == 0, err
    data = check_json(js, "_err")
    p = data["params"]
    assert (p["time"], p["growth"], p["levels"], p["step"]) == ("continuous", "adaptive", 2, 0.4)
    assert p["adapted_mesh"]["steps"] == len(data["t"]) - 1
    check_png(png)
    problem = qd.Problem(qd.TwoCluster(2.0, 0.5), "logistic", R=0.01)
    direct = qd.solve(problem, t_max=6.0, rule=qd.Quadrature(resolution=1),
                      time=qd.ContinuousTime(step=0.4, levels=2, growth="adaptive"))
    np.testing.assert_array_equal(data["gen_error"], direct.gen_error)
    config = tmp_path / "c.toml"
    config.write_text('schedule = "gd"\nt-max = 6.0\ntime = "continuous"\ngrowth = "adaptive"\n'
                      'step = 0.4\nlevels = 2\nresolution = 1\n')
    code, _, err = run(["solve", "--config", config, "--json", tmp_path / "t.json"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "t.json").read_text())["gen_error"] == data["gen_error"]


@pytest.mark.parametrize("argv, message", [
    (["--time", "continuous", "--eta", "0.1"], "eta is the learning rate of discrete time"),
    (["--time", "continuous", "--growth", "fast"], "growth must be .* 'adaptive'"),
    (["--time", "continuous", "--stability", "2"], "stability"),
    (["--time", "continuous", "--growth", "adaptive", "--schedule", "persistent"],
     "graded mesh .* deterministic selection"),
    (["--time", "sideways"], "unknown time 'sideways'"),
])
def test_continuous_time_bad_options_exit_2(argv, message, capsys):
    code, _, err = run(["solve", "--t-max", "1", *argv], capsys)
    assert code == 2
    assert re.search(message, err), err


def test_time_options_in_discrete_time_are_reported_unused(capsys):
    code, _, err = run(["solve", "--schedule", "gd", *TINY_SOLVE, "--step", "0.3", "--levels",
                        "4", "--no-progress"], capsys)
    assert code == 0 and "ignored (not used by this model/schedule/rule): levels, step" in err
