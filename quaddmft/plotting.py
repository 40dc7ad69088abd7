"""Plots of results, shared by the command line (``--plot``) and the figure scripts of validation/.

* ``describe(problem, schedule)``: two title lines naming the problem and the selection process
  (with the Persistent-SGD law), and ``method(result)``: how a result's curves were obtained.
* ``plot_result(result, path, title, reference=None)``: the CLI's figure, gen_error(t) with its
  error band or bars and the training accuracy in an inset.
* ``new_figure``, ``draw_curves``, ``reference_line``: the panels of the paper's figures, DMFT
  lines (+-2 error band) against simulation symbols (+-1 standard error of the mean).

matplotlib is imported inside the functions (Agg canvas, no display), so that importing this
module, and the command line's ``--help``, stay fast.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["describe", "method", "plot_result", "new_figure", "draw_curves", "reference_line"]

_SCHEDULE_TITLES = {"gd": "full-batch GD", "sgd": "SGD", "persistent": "Persistent-SGD"}


def _fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def describe(problem, schedule) -> tuple[str, str]:
    """Two title lines: the problem, and the selection process (with the law for Persistent-SGD)."""
    p = problem.params()
    line1 = (f"{problem.mixture.title}, α={_fmt(p['alpha'])}"
             + (f", Δ={_fmt(p['delta'])}" if "delta" in p else "")
             + (f", L={_fmt(p['L'])}" if "L" in p else "")
             + (f", {p['teacher']} teacher, noise={_fmt(p['noise'])}, flip={_fmt(p['flip'])}"
                if "teacher" in p else "")
             + f", {p['loss']} loss, λ={_fmt(p['lam'])}, R={_fmt(p['R'])}"
             + (f", m0={_fmt(p['m0'])}" if p["m0"] else "")
             + (f", T={_fmt(p['temperature'])}" if "temperature" in p else "")
             + (f", {p['constraint']}" if "constraint" in p else ""))
    s = schedule.params()
    line2 = _SCHEDULE_TITLES.get(s["schedule"], s["schedule"])
    if "b" in s:
        line2 += f", b={_fmt(s['b'])}"
    if "tau" in s:
        line2 += f", 1/τ={_fmt(1.0 / s['tau'])}"
    if "law" in s:
        line2 += f", {s['law']} law"
    return line1, line2


def method(result) -> str:
    """How the curves were obtained, from the result's own parameters."""
    p = result.params
    if result.kind == "dmft":
        keys = ("n_points", "n_samples", "n_h0", "n_replicates", "level", "resolution")
        sizes = ", ".join(f"{k}={p[k]}" for k in keys if p.get(k) is not None)
        if p.get("rule") == "quadrature" and p.get("resolution") is None:
            sizes = f"tolerance={p.get('tolerance')}"  # the ladder stopped where it met it
        return f"DMFT, {p.get('rule', '?')} rule ({sizes})"
    return f"simulation, d={p.get('d', '?')}, {p.get('seeds', '?')} seeds"


def _canvas_figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def plot_result(result, path, title: str, reference=None) -> Path:
    """gen_error(t) with its error band (DMFT) or error bars (simulation); train accuracy inset.

    ``reference``: optional (value, label) of a reference error, drawn as a dashed grey line.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _canvas_figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    t = result.t
    if result.kind == "dmft":
        g, ge = result.gen_error, result.gen_error_err
        ax.plot(t, g, color="C0", label="DMFT")
        ax.fill_between(t, g - 2 * ge, g + 2 * ge, color="C0", alpha=0.3, lw=0,
                        label=f"± 2 × {result.error_kind.value} (averaging rule)")
    else:
        every = max(1, t.size // 50)
        ax.errorbar(t[::every], result.gen_error[::every], yerr=result.gen_error_err[::every],
                    fmt="o", ms=3, color="C1", capsize=2,
                    label=f"simulation, d={result.params.get('d', '?')} (± 1 s.e.m.)")
    acc, acc_e = result.train_accuracy, result.train_accuracy_err
    if reference is not None:
        value, label = reference
        ax.axhline(value, ls="--", color="grey", lw=1, label=f"{label} ({value:.4f})")
    ax.set_xlabel("t")
    ax.set_ylabel("generalisation error")
    ax.set_xlim(t[0], t[-1] if t[-1] > t[0] else t[0] + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(0.08, 1.0), fontsize=8)
    ax.set_title(title, fontsize=9)
    inset = ax.inset_axes([0.6, 0.5, 0.37, 0.4])
    inset.plot(t, acc, color="C2")
    inset.fill_between(t, acc - 2 * acc_e, acc + 2 * acc_e, color="C2", alpha=0.3, lw=0)
    inset.set_xlabel("t", fontsize=7)
    inset.set_ylabel("train accuracy", fontsize=7)
    inset.tick_params(labelsize=7)
    fig.savefig(path, dpi=120)
    return path


def new_figure(ncols=2, figsize=(13.0, 5.4), boxes=None, sharey=False):
    """A figure with ``ncols`` panels side by side, each with an inset at ``boxes[i]``."""
    fig = _canvas_figure(figsize=figsize)
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)[0]
    boxes = boxes or (None,) * ncols
    insets = [ax.inset_axes(box or [0.56, 0.47, 0.41, 0.4]) for ax, box in zip(axes, boxes)]
    return fig, axes, insets


_INSET_LABELS = {"train_accuracy": "train accuracy", "C": "C(t,t) = |w|²/d"}


def draw_curves(ax, inset, rows, *, inset_kind="train_accuracy", symbols=25, sim_bars=True):
    """DMFT lines (+-2 error band) and simulation symbols (+-1 s.e.m.) on ax and its inset.

    ``rows``: dicts with ``dmft`` (a DMFTResult), optionally ``simulation`` (a
    SimulationResult), and the style ``label``, ``colour``, ``style`` (line), ``marker``.
    ``inset_kind``: the curve drawn in the inset (``train_accuracy`` or ``C``).
    """
    for row in rows:
        colour, style = row.get("colour", "C0"), row.get("style", "-")
        res = row["dmft"]
        ax.plot(res.t, res.gen_error, color=colour, ls=style, lw=1.4, label=row["label"])
        ax.fill_between(res.t, res.gen_error - 2 * res.gen_error_err,
                        res.gen_error + 2 * res.gen_error_err, color=colour, alpha=0.25, lw=0)
        y, yerr = getattr(res, inset_kind), getattr(res, f"{inset_kind}_err")
        inset.plot(res.t, y, color=colour, ls=style, lw=1.1)
        inset.fill_between(res.t, y - 2 * yerr, y + 2 * yerr, color=colour, alpha=0.25, lw=0)
        sim = row.get("simulation")
        if sim is not None:
            every = max(1, round(sim.t.size / symbols))
            sl = slice(0, None, every)
            marker = row.get("marker", "o")
            ax.errorbar(sim.t[sl], sim.gen_error[sl],
                        yerr=sim.gen_error_err[sl] if sim_bars else None, fmt=marker, ms=3.5,
                        mfc="none", color=colour, capsize=2, lw=0.7)
            ys, ysem = getattr(sim, inset_kind), getattr(sim, f"{inset_kind}_err")
            inset.errorbar(sim.t[sl], ys[sl], yerr=ysem[sl] if sim_bars else None,
                           fmt=marker, ms=2.2, mfc="none", color=colour, lw=0.5)
    inset.set_xlabel("t", fontsize=7)
    inset.set_ylabel(_INSET_LABELS[inset_kind], fontsize=7)
    inset.tick_params(labelsize=6)


def reference_line(ax, value: float, label: str, colour="grey"):
    """A dashed horizontal reference line labelled with its value."""
    ax.axhline(value, ls="--", color=colour, lw=1.0, label=f"{label} ({value:.4f})")
