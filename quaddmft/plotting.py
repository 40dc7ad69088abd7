"""Plots of results, shared by the command line (``--plot``) and the figure scripts of validation/.

* ``describe(problem, schedule)``: two title lines naming the problem and the selection process
  (with the Persistent-SGD law), and ``method(result)``: how a result's curves were obtained.
* ``plot_result(result, path, title, reference=None)``: the CLI's figure, gen_error(t) with its
  error band or bars, the early-stopping minimum and the training accuracy in an inset.
* ``save_figure(fig, path)``: every figure is written through it, atomically, at 200 dpi.
* ``new_figure``, ``draw_curves``, ``reference_line``: the panels of the paper's figures, DMFT
  lines (+-2 error band) against simulation symbols (+-1 standard error of the mean).
* ``plot_sweep(dataset, variable, path)``: a summary variable of a parameter sweep (``qd.sweep``)
  as a heat map or a family of lines over two swept parameters (``qd.plot_sweep``).

matplotlib is imported inside the functions (Agg canvas, no display), so that importing this
module, and the command line's ``--help``, stay fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["describe", "method", "plot_result", "save_figure", "new_figure", "draw_curves",
           "reference_line", "plot_sweep"]

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
        sizes = ", ".join(f"{k}={p[k]}" for k in ("n_points", "n_samples", "n_h0", "n_replicates",
                                                   "resolution", "tolerance")
                          if p.get(k) is not None and not (k == "tolerance" and p.get("resolution")))
        ladder = (f", Richardson over {p['levels']} grids"
                  + (", adaptive mesh" if p.get("growth") == "adaptive" else "")
                  if p.get("time") == "continuous" else "")
        return f"DMFT, {p.get('rule', '?')} rule ({sizes}){ladder}"
    return f"simulation, d={p.get('d', '?')}, {p.get('seeds', '?')} seeds"


def _canvas_figure(**kwargs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _interesting_range(curves, reference=None, headroom=0.15):
    """y-limits showing where the curves differ: from below the lowest value (or the reference)
    to above the values reached after the first drop from the start (the early transient from
    0.5 down would squeeze everything else into a few pixels); ``headroom``, a fraction of that
    span, is left free above (for a legend and an inset that then hide no curve)."""
    values = np.concatenate([np.asarray(c, dtype=float) for c in curves])
    low = float(values.min()) if reference is None else min(float(values.min()), reference)
    settled = np.concatenate([np.asarray(c, dtype=float)[max(1, len(c) // 10):] for c in curves])
    high = float(settled.max()) if settled.size else float(values.max())
    span = max(high - low, 1e-3 * max(abs(high), 1e-12))
    return low - 0.08 * span, high + headroom * span


def save_figure(fig, path) -> Path:
    """``fig.savefig`` to ``path`` atomically (``_io.atomic_write``), 200 dpi."""
    from ._io import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".").lower() or "png", dpi=200)
    return path


def plot_result(result, path, title: str, reference=None) -> Path:
    """gen_error(t) with its error band (DMFT) or error bars (simulation); train accuracy inset.

    The y-axis is cut to the interesting range (the early drop from 0.5 is cut off, the lowest
    value and ``reference`` kept), the early-stopping minimum of gen_error is marked, the error
    band is drawn and labelled when it is wider than the line (else the legend says it is
    narrower), and markers at the edges of the axes are not clipped. Written atomically at
    200 dpi; ``reference``: optional (value, label) of a reference error, a dashed grey line.
    """
    path = Path(path)
    fig = _canvas_figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    t, g, ge = result.t, result.gen_error, result.gen_error_err
    # The upper half is left to the legend and the inset, so that they hide no curve.
    low, high = _interesting_range([g], None if reference is None else reference[0], headroom=1.1)
    visible = float(np.max(2 * ge)) > 2e-3 * (high - low)
    if result.kind == "dmft":
        ax.plot(t, g, color="C0", label="DMFT")
        band = f"± 2 × {result.error_kind.value} ({_rule_text(result)})"
        if visible:
            ax.fill_between(t, g - 2 * ge, g + 2 * ge, color="C0", alpha=0.3, lw=0, label=band)
        else:
            ax.plot([], [], " ", label=f"{band}: narrower than the line")
    else:
        every = max(1, t.size // 50)
        ax.errorbar(t[::every], g[::every], yerr=ge[::every], fmt="o", ms=3, color="C1",
                    capsize=2, clip_on=False, zorder=3,
                    label=f"simulation, d={result.params.get('d', '?')}, "
                          f"{result.params.get('seeds', '?')} seeds (bars ± 1 s.e.m.)")
    k_min = int(np.argmin(g))
    ax.plot([t[k_min]], [g[k_min]], marker="v", color="C3", ms=7, ls="none", clip_on=False,
            zorder=4, label=f"minimum {g[k_min]:.4f} at t = {t[k_min]:.3g} (early stopping)")
    if reference is not None:
        value, label = reference
        ax.axhline(value, ls="--", color="grey", lw=1, label=f"{label} ({value:.4f})")
    ax.set_xlabel("t")
    ax.set_ylabel("generalisation error")
    ax.set_xlim(t[0], t[-1] if t[-1] > t[0] else t[0] + 1)
    ax.set_ylim(low, high)
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(title, fontsize=9)
    inset = ax.inset_axes([0.62, 0.56, 0.35, 0.38])
    acc, acc_e = result.train_accuracy, result.train_accuracy_err
    inset.plot(t, acc, color="C2")
    inset.fill_between(t, acc - 2 * acc_e, acc + 2 * acc_e, color="C2", alpha=0.3, lw=0)
    inset.set_ylim(*_interesting_range([acc]))
    inset.set_xlabel("t", fontsize=7)
    inset.set_ylabel("train accuracy", fontsize=7)
    inset.tick_params(labelsize=7)
    return save_figure(fig, path)


def _rule_text(result) -> str:
    p = result.params
    return p.get("rule", "?")


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


# --------------------------------------------------------------------------------------------
# sweeps

_SWEEP_LABELS = {"inv_tau": "1/τ", "tau": "τ", "lam": "λ", "alpha": "α", "delta": "Δ",
                 "eta": "η", "b": "b", "R": "R", "t_max": "t_max"}


def _sweep_axes(ds, variable, x, y, select):
    """The 2-D (or 1-D) slice of ``ds[variable]`` over the swept keys x, y; checks the names."""
    from ._errors import ParameterError

    if variable not in ds.data_vars:
        raise ParameterError(f"plot-sweep: unknown variable {variable!r}; valid: "
                             f"{', '.join(n for n in ds.data_vars if ds[n].dtype.kind == 'f')}")
    data = ds[variable]
    time_dims = {"t", "k"} & set(data.dims)
    if time_dims:
        raise ParameterError(f"plot-sweep: {variable} depends on time; choose a summary "
                             "variable such as gen_error_min, t_min or gen_error_final")
    if data.dtype.kind != "f":
        raise ParameterError(f"plot-sweep: {variable} is not numeric")
    swept = [d for d in data.dims]
    if swept == ["point"]:
        names = [c for c in ds.coords if ds[c].dims == ("point",) and c != "point"]
        x = x or names[0]
        y = y if y is not None else (names[1] if len(names) > 1 else None)
        for name in filter(None, (x, y)):
            if name not in names:
                raise ParameterError(f"plot-sweep: {name!r} is not swept; swept: {', '.join(names)}")
        return data, x, y, True
    for key, value in (select or {}).items():
        if key not in swept:
            raise ParameterError(f"plot-sweep: cannot select {key!r}; swept: {', '.join(swept)}")
        data = data.sel({key: value}, method="nearest")
    rest = list(data.dims)
    x = x or rest[0]
    if y is None and len(rest) > 1:
        y = [d for d in rest if d != x][0]
    for name in filter(None, (x, y)):
        if name not in rest:
            raise ParameterError(f"plot-sweep: {name!r} is not a swept dimension; left: "
                                 f"{', '.join(rest)}")
    extra = [d for d in rest if d not in (x, y)]
    if extra:
        raise ParameterError(f"plot-sweep: {variable} also varies with {', '.join(extra)}; "
                             f"select one value of it (select={{{extra[0]!r}: value}})")
    return data, x, y, False


def _label(name: str) -> str:
    return _SWEEP_LABELS.get(name, name)


def plot_sweep(dataset, variable: str = "gen_error_min", path=None, *, x: str | None = None,
               y: str | None = None, kind: str = "heatmap", select: dict | None = None,
               title: str | None = None) -> Path:
    """A heat map, or a family of lines, of one summary variable of a sweep over two swept keys.

    ``dataset``: an ``xarray.Dataset`` of ``qd.sweep`` or the path of its netCDF file.
    ``variable``: a summary variable (``gen_error_min``, ``t_min``, ``gen_error_final``, ...).
    ``x``, ``y``: swept keys (default: the first two dimensions); further swept dimensions must
    be fixed by ``select`` ({key: value}, nearest value). ``kind``: "heatmap" (cells in grid
    order, each labelled with its value; failed points blank) or "lines" (``variable`` against
    ``x``, one line per value of ``y``, with +-2 ``<variable>_err`` bands when the dataset has
    them). Explicit-point sweeps are drawn as coloured points. Writes the figure atomically to
    ``path`` (.png, .pdf or .svg; default: beside the dataset file, ``NAME.<variable>.png``)
    and returns its path. Raises ParameterError naming a bad variable, key or path, and
    FileFormatError for a file that is not a netCDF dataset.
    """
    from ._errors import ParameterError
    from ._io import IMAGE_SUFFIXES, check_output_path

    if kind not in ("heatmap", "lines"):
        raise ParameterError(f"plot-sweep: kind = {kind!r}; allowed: 'heatmap', 'lines'")
    source = None
    if not hasattr(dataset, "data_vars"):
        source = Path(dataset)
        dataset = _open_sweep(source)
    if path is None:
        if source is None:
            raise ParameterError("plot-sweep: give path (the PNG to write)")
        path = source.with_name(f"{source.stem}.{variable}.png")
    path = check_output_path(path, what="plot-sweep: path", suffixes=IMAGE_SUFFIXES)
    data, x, y, scattered = _sweep_axes(dataset, variable, x, y, select)
    fig = _canvas_figure(figsize=(7.2, 5.2))
    ax = fig.add_subplot()
    if scattered:
        _draw_points(fig, ax, dataset, data, variable, x, y)
    elif y is None or kind == "lines":
        error = dataset.get(f"{variable}_err")
        if error is not None and select:
            error = error.sel(select, method="nearest")
        _draw_lines(ax, dataset, data, error, variable, x, y)
    else:
        _draw_heatmap(fig, ax, dataset, data, variable, x, y)
    if title is None:
        title = f"{data.attrs.get('long_name', variable)}\n{_fixed_text(dataset, (x, y))}"
    ax.set_title(title, fontsize=8.5)
    path.parent.mkdir(exist_ok=True)
    return save_figure(fig, path)


def _open_sweep(source: Path):
    """The dataset of a sweep's netCDF file, loaded into memory."""
    import xarray as xr

    from ._errors import FileFormatError, ParameterError

    if not source.is_file():
        raise ParameterError(f"plot-sweep: {source} does not exist (a dataset of quaddmft sweep)")
    try:
        with xr.open_dataset(source, engine="h5netcdf") as opened:
            return opened.load()
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"plot-sweep: {source} is not a netCDF dataset: {exc}") from None


def _draw_points(fig, ax, dataset, data, variable, x, y) -> None:
    """Explicit-point sweeps: the variable against x, or coloured points in the (x, y) plane."""
    xs = dataset[x].values
    if y is None:
        ax.plot(xs, data.values, "o")
        ax.set_ylabel(variable)
    else:
        points = ax.scatter(xs, dataset[y].values, c=data.values, s=80, cmap="viridis")
        fig.colorbar(points, ax=ax, label=variable)
        ax.set_ylabel(_label(y))
    ax.set_xlabel(_label(x))


def _draw_lines(ax, dataset, data, error, variable, x, y) -> None:
    """The variable against x, one line per value of y, with +-2 error bands when known."""
    order = tuple(d for d in (y, x) if d)
    values = data.transpose(*order).values
    rows = values[None, :] if y is None else values
    errs = None
    if error is not None:
        errs = error.transpose(*order).values
        errs = errs[None, :] if y is None else errs
    xs = dataset[x].values
    for i, row in enumerate(rows):
        label = None if y is None else f"{_label(y)} = {dataset[y].values[i]:.4g}"
        colour = f"C{i % 10}"
        ax.plot(xs, row, "o-", color=colour, ms=3.5, lw=1.2, label=label)
        if errs is not None:
            ax.fill_between(xs, row - 2 * errs[i], row + 2 * errs[i], color=colour, alpha=0.2,
                            lw=0)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(variable)
    if y is not None:
        ax.legend(fontsize=7, ncol=2)


def _draw_heatmap(fig, ax, dataset, data, variable, x, y) -> None:
    """Cells in grid order, each labelled with its value (failed points blank, "failed")."""
    values = data.transpose(y, x).values
    mesh = ax.pcolormesh(np.arange(values.shape[1] + 1) - 0.5, np.arange(values.shape[0] + 1) - 0.5,
                         np.ma.masked_invalid(values), cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label=variable)
    xs, ys = dataset[x].values, dataset[y].values
    ax.set_xticks(np.arange(xs.size), [f"{v:.3g}" for v in xs])
    ax.set_yticks(np.arange(ys.size), [f"{v:.3g}" for v in ys])
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    if values.size <= 160:
        finite = values[np.isfinite(values)]
        middle = 0.5 * (finite.min() + finite.max()) if finite.size else 0.0
        for (i, j), v in np.ndenumerate(values):
            text = "failed" if not np.isfinite(v) else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                    color="white" if np.isfinite(v) and v < middle else "black")


def _fixed_text(dataset, drawn) -> str:
    """The fixed parameters of a sweep (its attributes) not drawn on an axis, for the title."""
    keys = ("model", "alpha", "delta", "lam", "schedule", "b", "tau", "law", "eta", "t_max", "rule")
    return ", ".join(f"{_label(k)}={dataset.attrs[k]:.4g}" if isinstance(dataset.attrs[k], float)
                     else f"{k}={dataset.attrs[k]}"
                     for k in keys if k in dataset.attrs and k not in drawn)
