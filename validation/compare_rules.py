"""Old QMC curves against the new deterministic ones, and each capped ladder against the whole one.

    python validation/compare_rules.py            # after the figures; report.py includes it

1. Old vs new: for every DMFT curve of validation/out/figN.json that has a twin (same problem,
   schedule, eta and horizon) in the figures as committed at ``OLD_REV`` (the last outputs of the
   randomised QMC rule), sup_t |eps_new - eps_old|, where it is attained, the old curve's
   standard error there and z = max_t |eps_new - eps_old| / sqrt(err_new^2 + se_old^2).
2. Capped vs whole ladder: for every figure curve whose uncapped twin (the same rule without
   ``max_resolution``) is in validation/_cache, sup_t |eps_capped - eps_whole| next to the capped
   curve's refinement estimate there: whether the estimate bounds the error the cap makes.
Writes validation/out/rule_comparison.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import _common as c
import quaddmft as qd

HERE = Path(__file__).resolve().parent
# The last commit whose validation/out/fig*.json hold the QMC curves (before issue 11's rule).
OLD_REV = "d62374f"
FIGURES = ("fig1", "fig2", "fig3", "fig4")
MATCH = ("model", "alpha", "delta", "L", "loss", "lam", "R", "m0", "schedule", "b", "tau", "law",
         "eta", "t_max")


def match_key(params: dict) -> tuple:
    return tuple((k, round(params[k], 10) if isinstance(params.get(k), float) else params.get(k))
                 for k in MATCH)


def old_curves(rev: str, name: str) -> dict:
    text = subprocess.run(["git", "show", f"{rev}:validation/out/{name}.json"], cwd=HERE,
                          capture_output=True, text=True, check=True).stdout
    return {match_key(cv["dmft"]["params"]): cv["dmft"] for cv in json.loads(text)["curves"]}


def old_vs_new(rev: str) -> list[dict]:
    rows = []
    for name in FIGURES:
        path = c.OUT / f"{name}.json"
        if not path.exists():
            continue
        old = old_curves(rev, name)
        for cv in json.loads(path.read_text())["curves"]:
            new = cv["dmft"]
            twin = old.get(match_key(new["params"]))
            if twin is None:
                continue
            # A diverged solve stops early: compare the times both curves reach.
            n = min(len(new["t"]), len(twin["t"]))
            e_new, e_old = np.asarray(new["gen_error"])[:n], np.asarray(twin["gen_error"])[:n]
            s_new, s_old = np.asarray(new["gen_error_err"])[:n], np.asarray(twin["gen_error_err"])[:n]
            diff = np.abs(e_new - e_old)
            i = int(np.argmax(diff))
            z = diff / np.maximum(np.sqrt(s_new**2 + s_old**2), 1e-300)
            rows.append({"figure": name, "panel": cv["panel"], "label": cv["label"],
                         "sup": float(diff[i]), "t": float(new["t"][i]),
                         "old_se": float(s_old[i]), "new_err": float(s_new[i]),
                         "z_max": float(z.max()), "t_end": float(new["t"][n - 1]),
                         "status": new.get("status"), "old_wall": twin.get("wall_time"),
                         "new_wall": new.get("wall_time")})
    return rows


def capped_vs_whole() -> list[dict]:
    rows, cache = [], c.Cache()
    for name in FIGURES:
        module = importlib.import_module(name)
        parser = c.parser("", module.SEEDS, module.T_MAX)
        if hasattr(module, "add_args"):
            module.add_args(parser)
        for cv in module.curves(parser.parse_args([])):
            whole = dataclasses.replace(cv, rule=dataclasses.replace(cv.rule, max_resolution=None))
            capped_path, whole_path = cache.path(cv.dmft_key()), cache.path(whole.dmft_key())
            if not (capped_path.exists() and whole_path.exists()):
                continue
            a, b = qd.load(capped_path), qd.load(whole_path)
            n = min(a.t.size, b.t.size)
            diff = np.abs(a.gen_error[:n] - b.gen_error[:n])
            i = int(np.argmax(diff))
            rows.append({"figure": name, "panel": cv.panel, "label": cv.label,
                         "cap": cv.rule.max_resolution, "capped_message": a.message,
                         "whole_message": b.message, "sup": float(diff[i]), "t": float(a.t[i]),
                         "capped_err_there": float(a.gen_error_err[i]),
                         "capped_err_max": float(a.gen_error_err[:n].max()),
                         "covered": bool(np.all(diff <= np.maximum(a.gen_error_err[:n], 1e-15))),
                         "capped_wall": a.wall_time, "whole_wall": b.wall_time})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old-rev", default=OLD_REV, help=f"commit of the QMC outputs ({OLD_REV})")
    args = p.parse_args(argv)
    record = {"old_rev": args.old_rev, "old_vs_new": old_vs_new(args.old_rev),
              "capped_vs_whole": capped_vs_whole()}
    path = c.write_text(c.OUT / "rule_comparison.json", json.dumps(record, indent=1))
    for r in record["old_vs_new"]:
        print(f"{r['figure']} {r['panel']:5s} {r['label'][:40]:40s} old vs new: sup {r['sup']:.2e} "
              f"(t={r['t']:.1f}, old s.e. {r['old_se']:.1e}), z_max {r['z_max']:.1f}")
    for r in record["capped_vs_whole"]:
        print(f"{r['figure']} {r['panel']:5s} {r['label'][:40]:40s} cap {r['cap']} vs whole: sup "
              f"{r['sup']:.1e} (t={r['t']:.1f}; capped estimate there {r['capped_err_there']:.1e})")
    print(f"compare_rules: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
