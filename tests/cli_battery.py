"""A battery of bad and extreme command lines, classified: clean error, traceback, hang, silent.

Not collected by pytest (a script): ``python tests/cli_battery.py [--timeout 60]`` runs every case
through ``quaddmft.cli.main`` in this process and prints one line per case and the table

    tried | clean | traceback | hang | silent | ran

*clean*: exit 1 or 2 with exactly one ``quaddmft: error:`` line (130 for an interrupt); *ran*: exit 0
with finite outputs; *silent*: exit 0 with a non-finite number in the JSON, or a run the case
expects to be refused; *traceback*: an exception escaped; *hang*: over the timeout. Each case
writes into a scratch folder; the fault-injection tests (tests/test_faults.py) check the
failure classes one by one, with byte-identical previous files.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

TINY = ["--t-max", "0.6", "--no-progress"]


def cases(tmp: Path):
    """(name, argv, expect) with expect "error" (must be refused) or "any"."""
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("model = 'two'\nalpha = [\n")
    latin = tmp / "latin.toml"
    latin.write_bytes(b"alpha = 2.0 # \xe9\n")
    unknown = tmp / "unknown.toml"
    unknown.write_text("colour = 'red'\n")
    wrong = tmp / "wrong.toml"
    wrong.write_text("alpha = 'two'\n")
    out = []
    for option, values in {
        "--alpha": ["0", "-1", "nan", "inf", "1e400", "two"], "--delta": ["0", "-0.5", "nan"],
        "--L": ["0", "-1"], "--lam": ["-0.1", "inf"], "--eta": ["0", "-0.2", "nan", "1e9"],
        "--t-max": ["0", "-1", "0.1", "nan", "inf"], "--R": ["-1", "nan"], "--m0": ["nan", "inf"],
        "--b": ["0", "1.5", "-0.3", "nan"], "--tau": ["0", "-1", "0.01"],
        "--model": ["four", ""], "--loss": ["hinge", ""], "--schedule": ["adam"],
        "--law": ["quadratic"], "--rule": ["simpson"], "--tolerance": ["0", "-1", "nan"],
        "--resolution": ["0", "-1", "99"], "--max-resolution": ["0"],
        "--max-memory": ["0", "-1", "nan"],
    }.items():
        for value in values:
            model = ["--model", "three"] if option == "--L" else []
            out.append((f"solve {option} {value}", ["solve", *TINY, *model, option, value], "error"))
    for option, values in {"--points": ["3", "0", "-8"], "--h0-nodes": ["0"], "--replicates": ["1"],
                           "--seed": ["-1"]}.items():
        for value in values:
            out.append((f"qmc {option} {value}", ["solve", *TINY, "--rule", "qmc", option, value],
                        "error"))
    for option, values in {"--d": ["0", "-5", "1e3", "x"], "--seeds": ["1", "0"], "--seed": ["-2"],
                           "--test-points": ["-1"]}.items():
        for value in values:
            out.append((f"simulate {option} {value}", ["simulate", *TINY, option, value], "error"))
    paths = {"folder": tmp, "deep": tmp / "a" / "b" / "c.json", "dash-save": "-",
             "txt plot": tmp / "p.txt", "no name": tmp / "."}
    out += [(f"--json {name}", ["solve", *TINY, "--resolution", "1", "--json", str(p)], "error")
            for name, p in paths.items() if name != "dash-save" and name != "txt plot"]
    out += [("--plot txt", ["solve", *TINY, "--resolution", "1", "--plot", str(paths["txt plot"])], "error"),
            ("--plot folder", ["solve", *TINY, "--resolution", "1", "--plot", str(tmp)], "error"),
            ("--save folder", ["solve", *TINY, "--resolution", "1", "--save", str(tmp)], "error")]
    out += [(f"config {name}", ["solve", *TINY, "--config", str(p)], "error") for name, p in {
        "missing": tmp / "none.toml", "folder": tmp, "invalid": bad_toml, "latin-1": latin,
        "unknown key": unknown, "wrong type": wrong}.items()]
    out += [
        ("huge simulation", ["simulate", "--d", "100000", "--t-max", "1", "--seeds", "2", "--no-progress"], "error"),
        ("montecarlo t=20000", ["solve", "--t-max", "20000", "--rule", "montecarlo", "--no-progress"], "error"),
        ("gd t=20000", ["solve", "--schedule", "gd", "--t-max", "20000", "--no-progress"], "error"),
        ("qmc K too large", ["solve", "--t-max", "3000", "--rule", "qmc", "--no-progress"], "error"),
        ("diverging solve", ["solve", "--loss", "square", "--schedule", "gd", "--eta", "2.0", "--t-max", "60", "--resolution", "1", "--no-progress"], "error"),
        ("diverging simulate", ["simulate", "--loss", "square", "--schedule", "gd", "--eta", "2.0", "--t-max", "60", "--d", "200", "--seeds", "2", "--no-progress"], "error"),
        ("linear law invalid", ["solve", *TINY, "--b", "0.1", "--tau", "1.6667"], "error"),
        ("no command", [], "error"),
        ("unknown command", ["fly"], "error"),
        ("unknown option", ["solve", "--colour", "red"], "error"),
    ]
    out += [
        ("three clusters m0=0", ["solve", *TINY, "--model", "three", "--resolution", "1"], "any"),
        ("pure noise square", ["solve", *TINY, "--model", "noise", "--loss", "square", "--schedule", "gd"], "any"),
        ("b = 1", ["solve", *TINY, "--b", "1", "--resolution", "1"], "any"),
        ("exact law tau tiny", ["solve", *TINY, "--law", "exact", "--tau", "0.001", "--resolution", "1"], "any"),
        ("squared hinge sgd", ["solve", *TINY, "--loss", "squared-hinge", "--schedule", "sgd", "--resolution", "1"], "any"),
        ("json stdout", ["solve", *TINY, "--resolution", "1", "--json", "-"], "any"),
        ("simulate small", ["simulate", *TINY, "--d", "50", "--seeds", "2"], "any"),
    ]
    return out


class _Timeout(Exception):
    pass


def classify(argv, expect, timeout, tmp):
    def alarm(signum, frame):
        raise _Timeout

    from quaddmft.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    except _Timeout:
        return "hang", ""
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - anything escaping main is a traceback
        return "traceback", traceback.format_exc(limit=2).splitlines()[-1]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = stderr.getvalue()
    errors = [line for line in err.splitlines() if line.startswith("quaddmft: error:")]
    if code in (1, 2) and (len(errors) == 1 or argv[:1] in ([], ["fly"]) or "usage:" in err):
        return "clean", (errors or err.strip().splitlines()[-1:] or [""])[0]
    if code == 0:
        text = stdout.getvalue()
        finite = "NaN" not in text and "Infinity" not in text
        if expect == "error" or not finite:
            return "silent", text[:80]
        return "ran", text.strip()[:80]
    return "silent", f"exit {code}: {err.strip()[-120:]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case (default 60)")
    args = parser.parse_args(argv)
    counts = {"clean": 0, "traceback": 0, "hang": 0, "silent": 0, "ran": 0}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        os.chdir(tmp)
        for name, case_argv, expect in cases(tmp):
            kind, detail = classify(case_argv, expect, args.timeout, tmp)
            counts[kind] += 1
            print(f"{kind:9s} {name:28s} {detail}", flush=True)
    tried = sum(counts.values())
    print(f"\ntried {tried} | clean {counts['clean']} | traceback {counts['traceback']} | "
          f"hang {counts['hang']} | silent {counts['silent']} | ran {counts['ran']}")
    return 0 if counts["traceback"] == counts["hang"] == counts["silent"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
