"""The report's result figures as SVG text: accuracy against fraction and against whole cost,
time per phase, learning curves. Matplotlib's object API (no pyplot, no global backend), so
rendering is headless and never touches a display.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ...phases import PHASES
from .palette import Look, tag, tag_svg

STYLE = {
    "svg.fonttype": "none",  # text stays text: smaller files, the browser's own fonts
    "svg.hashsalt": "prunebench",  # stable element ids: the same data gives the same file
    "font.size": 9, "axes.titlesize": 10, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "legend.fontsize": 8,
    "legend.frameon": False,
}
PHASE_COLORS = {"scoring": "#c44e52", "selection": "#dd8452", "training": "#4c72b0",
                "evaluation": "#8c8c8c"}
FULL_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1}


@contextmanager
def figure(width: float, height: float, **subplots):
    """A figure with subplots under the report style; yields (fig, axes)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        yield fig, fig.subplots(**subplots, squeeze=False)


def to_svg(fig: Figure) -> str:
    """The figure as SVG text, its series' methods and its x scales written as data-*
    attributes (palette.tag_svg)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return tag_svg(buffer.getvalue(), [ax.get_xscale() for ax in fig.axes if ax.axison])


def log_axis(axis) -> None:
    """A log scale on `axis` (ax.xaxis or ax.yaxis) labelled in plain numbers at 1, 2 and 5
    times each power of ten (readable when the data span less than a decade)."""
    if axis is axis.axes.xaxis:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _look(looks: dict[str, Look], method: str) -> Look:
    return looks.get(method) or Look("gray")


def message_figure(text: str) -> str:
    """A small figure that says why a plot is empty (the declared file always exists)."""
    with figure(6, 1.2) as (fig, axes):
        ax = axes[0, 0]
        ax.axis("off")
        ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return to_svg(fig)


def _single_point(rows: pd.DataFrame) -> bool:
    return len(rows) == 1 and rows.fraction.iloc[0] == 1.0


def accuracy_vs_fraction(table: pd.DataFrame, colors: dict[str, Look]) -> str:
    """Mean last-epoch accuracy (%) per fraction, one line per method, ±1 std bars; `full` as a
    dashed line with its ±1 std band; a method that runs once at fraction 1 and sets its own
    savings (InfoBatch) sits at the share of full's steps it used."""
    methods = list(dict.fromkeys(table.method))
    with figure(6.5, 3.6) as (fig, axes):
        ax = axes[0, 0]
        for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
            acc, std = 100 * rows.acc_mean, 100 * rows.acc_std.fillna(0)
            # methods share fractions: a small sideways offset keeps their error bars apart
            dodge = 0.006 * (i - len(methods) / 2)
            if method == "full":
                tag(ax.axhline(acc.iloc[0], label="full", **FULL_STYLE), "full", "black")
                ax.axhspan(acc.iloc[0] - std.iloc[0], acc.iloc[0] + std.iloc[0],
                           color="black", alpha=0.08)
                continue
            x, label = rows.fraction + dodge, method
            if _single_point(rows):
                x, label = rows.step_share + dodge, f"{method} (at its step share)"
            look = _look(colors, method)
            tag(ax.errorbar(x, acc, yerr=std, marker=look.marker, linestyle=look.linestyle,
                            capsize=3, label=label, color=look.color), method, look.color)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("fraction of the training data (budget)")
        ax.set_ylabel("last-epoch test accuracy (%)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_svg(fig)


def accuracy_vs_time(table: pd.DataFrame, colors: dict[str, Look],
                     frontier: pd.DataFrame | None = None, width: float = 6.5,
                     height: float = 3.6) -> str:
    """Mean accuracy against mean whole cost per run on a log time axis, ±1 std both ways,
    labelled by fraction; the Pareto-optimal points (`frontier`, cheapest first) ringed and
    joined by a step line; the legend outside the axes."""
    with figure(width, height) as (fig, axes):
        ax = axes[0, 0]
        if frontier is not None and len(frontier):
            x, y = frontier.time_total, 100 * frontier.acc_mean
            ax.step(x, y, where="post", color="#2a9d8f", linewidth=1.2, alpha=0.8, zorder=1)
            ax.scatter(x, y, s=140, facecolors="none", edgecolors="#2a9d8f", linewidths=1.5,
                       label="Pareto frontier", zorder=3)
        for method, rows in table.groupby("method", sort=False):
            rows = rows.sort_values("fraction")
            look = _look(colors, method)
            tag(ax.errorbar(rows.time_total, 100 * rows.acc_mean,
                            xerr=rows.time_total_std.fillna(0), yerr=100 * rows.acc_std.fillna(0),
                            marker="*" if method == "full" else look.marker,
                            linestyle=look.linestyle, linewidth=0.8, capsize=2, label=method,
                            color=look.color), method, look.color)
            for x, y, f in zip(rows.time_total, 100 * rows.acc_mean, rows.fraction, strict=True):
                ax.annotate(f"{f:g}", (x, y), textcoords="offset points", xytext=(4, 3),
                            fontsize=7, color=look.color)
        log_axis(ax.xaxis)
        ax.set_xlabel("wall time per run (s, log scale): scoring + selection + training + "
                      "evaluation")
        ax.set_ylabel("last-epoch test accuracy (%)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_svg(fig)


def phase_time(table: pd.DataFrame) -> str:
    """Stacked horizontal bars: mean seconds per phase for each method and fraction."""
    labels = [f"{m}  f={f:g}" for m, f in zip(table.method, table.fraction, strict=True)]
    with figure(6.5, 1.0 + 0.28 * len(table)) as (fig, axes):
        ax = axes[0, 0]
        y = np.arange(len(table))[::-1]
        left = np.zeros(len(table))
        for phase in PHASES:
            seconds = table[f"time_{phase}"].fillna(0).to_numpy()
            ax.barh(y, seconds, left=left, color=PHASE_COLORS[phase], label=phase, height=0.7)
            left += seconds
        for yi, total in zip(y, left, strict=True):
            ax.text(total, yi, f" {total:.1f}s", va="center", fontsize=7)
        ax.set_yticks(y, labels)
        ax.set_xlabel("mean wall time per run (s)")
        ax.set_xlim(0, max(left.max(), 1e-9) * 1.15)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4)
    return to_svg(fig)


def learning_curves(curves: pd.DataFrame, colors: dict[str, Look]) -> str:
    """Test accuracy against optimizer step (top) and wall time (bottom), one column per
    fraction; methods that run only at fraction 1 (full, InfoBatch) appear in every column.
    Methods are drawn in the order of `colors`."""
    rank = {m: i for i, m in enumerate(colors)}
    curves = curves.assign(_rank=curves.method.map(rank).fillna(len(rank))).sort_values(
        ["_rank", "fraction", "epoch"])
    at_one = {m for m, rows in curves.groupby("method") if set(rows.fraction) == {1.0}}
    fractions = sorted(set(curves[~curves.method.isin(at_one)].fraction)) or [1.0]
    with figure(3.0 * len(fractions) + 1.6, 5.2, nrows=2, ncols=len(fractions),
                sharey=True) as (fig, axes):
        for col, fraction in enumerate(fractions):
            shown = curves[(curves.fraction == fraction) | curves.method.isin(at_one)]
            for row, x in enumerate(("step", "wall")):
                ax = axes[row, col]
                for method, rows in shown.groupby("method", sort=False):
                    look = _look(colors, method)
                    style = FULL_STYLE if method == "full" else {
                        "color": look.color, "linestyle": look.linestyle}
                    acc = 100 * rows.acc_mean
                    tag(ax.plot(rows[x], acc, marker=".", label=method, **style), method,
                        style["color"])
                    if rows.n.max() > 1:
                        spread = 100 * rows.acc_std.fillna(0)
                        ax.fill_between(rows[x], acc - spread, acc + spread, alpha=0.12,
                                        color=style["color"])
                if x == "wall":
                    log_axis(ax.xaxis)
                ax.set_xlabel("optimizer step" if x == "step" else
                              "wall time (s, log scale, costs charged)")
                if col == 0:
                    ax.set_ylabel("test accuracy (%)")
            axes[0, col].set_title(f"fraction {fraction:g}")
        handles, names = axes[0, -1].get_legend_handles_labels()
        for ax in axes.flat:
            for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
                if n not in names:
                    handles.append(h)
                    names.append(n)
        fig.legend(handles, names, loc="outside right center")
    return to_svg(fig)
