"""Write validation/REPORT.md from validation/out/fig*.json: every panel and one table row per curve.

Per curve: its parameters, sup over the plotted times of |eps_DMFT - eps_sim| (the DMFT and the
simulation share the grid t_k = k eta), the time t* where it is attained, the simulation's
standard error and the DMFT's (replicate) standard error at t*, the largest
|eps_DMFT - eps_sim| / sqrt(sem^2 + se^2) over t (z_max: > 3 means a disagreement beyond the error
bars) and the wall time of the solve and of the simulation (as recorded when they were run;
a cached result keeps its original wall time). Hand-written discussion is appended from
validation/report_notes.md.

    python validation/report.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FIGURES = ("fig1", "fig2", "fig3", "fig4")
LATE = 1.0  # second sup: over t >= 1, past the random initial overlap of the simulation at t = 0


def describe(p: dict, sim: dict | None) -> str:
    parts = [f"{p['model']}-cluster", f"α={p['alpha']:g}", f"Δ={p['delta']:g}"]
    if "L" in p:
        parts.append(f"L={p['L']:g}")
    parts += [f"λ={p['lam']:g}", f"R={p['R']:g}", f"η={p['eta']:g}"]
    sched = p["schedule"]
    if sched == "persistent":
        parts.append(f"P-SGD b={p['b']:g} 1/τ={1 / p['tau']:.3g} ({p['law']})")
    elif sched == "sgd":
        parts.append(f"SGD b={p['b']:g}")
    else:
        parts.append("GD")
    if p.get("m0"):
        parts.append(f"m0={p['m0']:.4f}" + (f" (d={p['m0_d']})" if "m0_d" in p else ""))
    rule = f"{p.get('rule', '?')} {p.get('n_points', '')}×{p.get('n_h0', '')}×{p.get('n_replicates', '')}"
    parts.append(rule)
    if sim is not None:
        parts.append(f"sim d={sim['params']['d']}, {sim['params']['seeds']} seeds")
    return ", ".join(parts)


def row_numbers(curve: dict) -> dict:
    dm = curve["dmft"]
    out = {"dmft_wall": dm.get("wall_time", float("nan"))}
    sim = curve.get("simulation")
    if sim is None:
        return out
    t = np.asarray(dm["t"])
    n = min(t.size, len(sim["t"]))
    if not np.allclose(t[:n], np.asarray(sim["t"])[:n]):
        raise ValueError(f"DMFT and simulation grids differ for {curve['label']}")
    e_d = np.asarray(dm["gen_error"])[:n]
    s_d = np.asarray(dm["gen_error_err"])[:n]
    e_s = np.asarray(sim["gen_error"])[:n]
    s_s = np.asarray(sim.get("gen_error_err", sim.get("gen_error_sem")))[:n]  # *_sem: older JSON
    diff = np.abs(e_d - e_s)
    i = int(np.argmax(diff))
    sigma = np.sqrt(s_s**2 + s_d**2)
    z = np.where(sigma > 0, diff / np.where(sigma > 0, sigma, 1.0), np.where(diff > 1e-12, np.inf, 0.0))
    j = int(np.argmax(z))
    late = np.nonzero(t[:n] >= LATE)[0]
    k = int(late[np.argmax(diff[late])]) if late.size else i
    out.update(sup_late=diff[k], t_late=t[k], sem_late=s_s[k])
    out.update(sup=diff[i], t_star=t[i], sem=s_s[i], se=s_d[i], z_max=z[j], t_z=t[j],
               sim_wall=sim.get("wall_time", float("nan")),
               final=(e_d[-1], e_s[-1], s_s[-1]))
    return out


def long_time_section(out: Path) -> list[str]:
    """The long-horizon figure (validation/long_time.py) and one row of checks per curve."""
    path = out / "long_time.json"
    if not path.exists():
        return []
    record = json.loads(path.read_text())
    refs, settings = record["references"], record["settings"]
    lines = [f"## long_time: GD to t = {settings['t_max']:g} and ridge to its fixed point "
             "(continuous time)", "",
             "![long_time](out/long_time.png)", "",
             f"Reference lines: max-margin error {refs['max_margin_error']:.4f}, Bayes-optimal "
             f"{refs['bayes_optimal_error']:.5f}, ridge statics (λ = 0.1) "
             f"{refs['statics_gen_error']:.9f}. Lines: `qd.solve(..., time=qd.ContinuousTime(...))`"
             " (settings in out/long_time.json); symbols: `qd.simulate` with the steps of the "
             f"finest level (the same discrete dynamics), d = {settings['ds']}, "
             f"{settings['seeds']} seeds each (z_max divides by the s.e.m. over those seeds, which "
             "with few seeds can be small by chance at single times: read it with the sup "
             "difference).", "",
             "| curve | t_max | K per level | orders (ε) | sup est. error | final ε (est.) | "
             "late trend | vs statics / max-margin | sims: sup_{t≥1} \\|finest level − sim\\| "
             "(sem there; z_max) | wall DMFT |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in record["checks"]:
        name = f"{'ridge λ=0.1' if c['ridge'] else 'GD λ=0'}, R = {c['R']:g}"
        orders = ", ".join("–" if o is None else f"{o:.2f}" for o in c["observed_orders_gen_error"])
        if c["ridge"]:
            trend = f"gap decreasing: {c['gap_monotone_where_resolved']}"
            target = f"gap {c['gap_at_horizon']:.1e} (≤ 1e-6: {c['agrees_with_statics_1e-6']})"
        else:
            trend = f"ε increasing (t ≥ 10): {c['monotone_increasing_after_t10']}"
            target = f"max-margin − ε = {c['distance_to_max_margin_at_horizon']:.4f}"
        sims = "; ".join(f"d={k[5:]}: {v['sup_diff_t_ge_1']:.4f} ({v['sem_there']:.4f}; "
                         f"{v['z_max_t_ge_1']:.1f})" for k, v in c.items() if k.startswith("sim_d"))
        lines.append(f"| {name} | {c['t_max']:g} | {c['level_K']} | {orders} | "
                     f"{c['sup_error_estimate']:.1e} | {c['final_gen_error']:.6f} "
                     f"({c['final_error_estimate']:.0e}) | {trend} | {target} | {sims or '–'} | "
                     f"{c['wall_time_s']:.0f} s |")
    return lines + [""]


def main(argv=None) -> int:
    out = HERE / "out"
    lines = ["# Validation report: the paper's Figs. 1-4 reproduced", "",
             "Generated by `python validation/report.py` (run by `python -m validation`) from "
             "`validation/out/fig*.json`. Lines: DMFT (`qd.solve`); symbols: finite-d simulations "
             "(`qd.simulate`), ± 1 s.e.m. The DMFT band is ± 2 s.e. of its QMC replicates.", ""]
    table = ["| fig | panel | curve | parameters | sup_t \\|DMFT−sim\\| | at t | sim s.e.m. there "
             "| DMFT s.e. there | sup_{t≥1} (at t; sim s.e.m.) | z_max (at t) "
             "| final DMFT / sim ± sem | wall DMFT | wall sim |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    missing = []
    for name in FIGURES:
        path = out / f"{name}.json"
        if not path.exists():
            missing.append(name)
            continue
        record = json.loads(path.read_text())
        lines += [f"## {name}", "", f"![{name}](out/{name}.png)", ""]
        refs = record.get("references") or {}
        if "bayes_optimal" in record:
            refs = {"bayes_optimal_error": record["bayes_optimal"]}
        if refs:
            lines += ["Reference lines: " + ", ".join(
                f"{k} = {v:.5f}" if isinstance(v, float) else f"{k} = {v}"
                for k, v in refs.items()), ""]
        seen = set()
        for curve in record["curves"]:
            p = {**curve["dmft"]["params"]}
            sim = curve.get("simulation")
            ident = (curve["panel"], curve["label"])
            if ident in seen:
                continue
            seen.add(ident)
            nums = row_numbers(curve)
            if "sup" in nums:
                f_d, f_s, f_sem = nums["final"]
                cells = [f"{nums['sup']:.4f}", f"{nums['t_star']:.1f}", f"{nums['sem']:.4f}",
                         f"{nums['se']:.4f}",
                         f"{nums['sup_late']:.4f} ({nums['t_late']:.1f}; {nums['sem_late']:.4f})",
                         f"{nums['z_max']:.1f} ({nums['t_z']:.1f})",
                         f"{f_d:.4f} / {f_s:.4f} ± {f_sem:.4f}",
                         f"{nums['dmft_wall']:.0f} s", f"{nums['sim_wall']:.0f} s"]
            else:
                cells = ["–"] * 7 + [f"{nums['dmft_wall']:.0f} s", "–"]
            table.append(f"| {name} | {curve['panel']} | {curve['label']} | "
                         f"{describe(p, sim)} | " + " | ".join(cells) + " |")
    lines += long_time_section(out)
    lines += ["## Table: one row per curve", "",
              "sup over the plotted times (t = 0 included: there the simulation's random "
              "initial overlap shows), then over t ≥ 1; z_max = max_t |DMFT − sim| / sqrt(sem² + se²). "
              "Wall times as recorded at the run (shared 2-core machine, other jobs running).",
              "", *table, ""]
    if missing:
        lines += [f"Not yet computed: {', '.join(missing)}.", ""]
    notes = HERE / "report_notes.md"
    if notes.exists():
        lines += [notes.read_text()]
    (HERE / "REPORT.md").write_text("\n".join(lines))
    print(f"report: wrote {HERE / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
