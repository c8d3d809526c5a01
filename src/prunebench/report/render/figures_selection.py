"""Figures about what was selected: every dynamic method's selections over training, CREST's
own panels, and the proxy scores' distributions and rank agreement. SVG text, like
figures.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.crest import DIFFICULTY_SCORES
from ..analysis.formatting import number
from .figures import figure, log_axis, to_svg
from .palette import LINESTYLES, Look, tag

REASON_MARKERS = {"initial": "*", "check failed": "o", "epoch start": "^"}
FRACTION_MARKERS = ["o", "s", "^", "D", "v", "P"]


def _fraction_markers(fractions) -> dict[float, str]:
    return {f: FRACTION_MARKERS[i % len(FRACTION_MARKERS)]
            for i, f in enumerate(sorted(set(fractions)))}


def _runs(selections: pd.DataFrame, looks: dict[str, Look]):
    """(method, fraction, seed, rows, line style dict, legend label or None) per run; a
    label only on a (method, fraction)'s first seed, so the legend lists each once."""
    markers = _fraction_markers(selections.fraction)
    labelled = set()
    for (method, fraction, seed), run in selections.groupby(["method", "fraction", "seed"],
                                                            sort=False):
        look = looks.get(method) or Look("gray")
        style = {"color": look.color, "linestyle": look.linestyle,
                 "marker": markers[fraction], "markersize": 3, "linewidth": 1}
        label = None if (method, fraction) in labelled else f"{method} f={fraction:g}"
        labelled.add((method, fraction))
        yield method, fraction, seed, run, style, label


def _legend_below(fig, axes) -> None:
    handles, names = [], []
    for ax in axes.flat:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in names:
                handles.append(h)
                names.append(n)
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 4))


def dynamic_selection(selections: pd.DataFrame, looks: dict[str, Look]) -> str:
    """Every dynamic method's selections against the optimizer step, one line per run (colour:
    the method; line style: its variant; marker: the fraction): the size of each selection,
    the seconds it took (log scale) and, when the labels were found, how far its class
    balance is from the training set's; the legend below the panels."""
    balance = "class_distance" in selections
    with figure(11 if balance else 8, 3.6, ncols=3 if balance else 2) as (fig, axes):
        size, seconds = axes[0, 0], axes[0, 1]
        for method, _, _, run, style, label in _runs(selections, looks):
            tag(size.plot(run.step, run.n_selected, label=label, **style), method,
                style["color"])
            tag(seconds.plot(run.step, run.selection_s.clip(lower=1e-6), **style), method,
                style["color"])
            if balance:
                tag(axes[0, 2].plot(run.step, run.class_distance, **style), method,
                    style["color"])
        size.set_ylabel("examples selected")
        seconds.set_ylabel("seconds per selection (log scale)")
        log_axis(seconds.yaxis)
        if balance:
            axes[0, 2].set_ylabel("class-balance distance to training set")
            axes[0, 2].set_ylim(bottom=0)
        for ax in axes.flat:
            ax.set_xlabel("optimizer step")
        _legend_below(fig, axes)
    return to_svg(fig)


def crest_selection(selections: pd.DataFrame, baseline: dict[str, float],
                    looks: dict[str, Look] | None = None) -> str:
    """Six panels against the optimizer step: steps since the previous selection (marker: why
    it was re-selected), pool size, the quadratic model's curvature norm and the check interval
    the adaptive rule set at each selection, and the mean EL2N and mean forgetting score of the
    examples picked (dashed: the whole training set's mean). Colour: the method; line style:
    the variant (crest_fixed dashed beside crest's solid line); marker: the fraction."""
    if "method" not in selections:
        selections = selections.assign(method="crest")
    looks = looks or {m: Look("#d62728", LINESTYLES[i % len(LINESTYLES)])
                      for i, m in enumerate(sorted(selections.method.unique()))}
    with figure(9, 9.4, nrows=3, ncols=2, sharex=True) as (fig, axes):
        gaps, pool = axes[0, 0], axes[0, 1]
        curvature, interval = axes[1, 0], axes[1, 1]
        for (method, reason), shown in selections[selections.steps_since_previous.notna()
                                                  ].groupby(["method", "reason"], sort=False):
            look = looks.get(method) or Look("gray")
            base = look.linestyle == LINESTYLES[0]  # a variant's markers are hollow
            tag(gaps.scatter(shown.step, shown.steps_since_previous,
                             marker=REASON_MARKERS.get(reason, "o"), s=20,
                             facecolors=look.color if base else "none",
                             edgecolors=look.color, label=f"{method}: re-selected, {reason}"),
                method, look.color)
        gaps.set_ylabel("steps since previous selection")
        if not gaps.collections:
            gaps.text(0.5, 0.5, "one selection per run: nothing re-selected", ha="center",
                      va="center", transform=gaps.transAxes)
        for method, _, _, run, style, label in _runs(selections, looks):
            tag(pool.plot(run.step, run.pool_size, drawstyle="steps-post", label=label,
                          **{**style, "marker": None}), method, style["color"])
            if run.curvature_norm.notna().any():
                tag(curvature.plot(run.step, run.curvature_norm, **style), method,
                    style["color"])
                tag(interval.plot(run.step, run.check_interval, drawstyle="steps-post",
                                  **{**style, "marker": None}), method, style["color"])
            for ax, name in zip(axes[2], DIFFICULTY_SCORES, strict=True):
                if f"mean_{name}" in run:
                    tag(ax.plot(run.step, run[f"mean_{name}"], **style), method,
                        style["color"])
        pool.set_ylabel("pool size (examples)")
        curvature.set_ylabel("curvature norm at selection")
        interval.set_ylabel("check interval set (steps)")
        for ax in (curvature, interval):
            if not ax.lines:
                ax.text(0.5, 0.5, "not recorded (a log from before the adaptive rule)",
                        ha="center", va="center", transform=ax.transAxes)
        if curvature.lines and (selections.curvature_norm > 0).all():
            log_axis(curvature.yaxis)
        for ax, name in zip(axes[2], DIFFICULTY_SCORES, strict=True):
            ax.set_xlabel("optimizer step")
            label = "mean forgetting events (finite)" if name == "forgetting" else "mean EL2N"
            ax.set_ylabel(f"{label} of selected")
            if f"mean_{name}" in baseline:
                ax.axhline(baseline[f"mean_{name}"], color="black", linestyle="--", linewidth=1,
                           label="training set mean")
            else:
                ax.text(0.5, 0.5, f"no {name} scores for this dataset", ha="center",
                        va="center", transform=ax.transAxes)
        _legend_below(fig, axes)
    return to_svg(fig)


def score_distributions(scores: dict[str, np.ndarray]) -> str:
    """One histogram per score file; forgetting's +inf (never learned) counted in the title."""
    names = list(scores)
    ncols = min(len(names), 3)
    nrows = -(-len(names) // ncols)
    with figure(3.0 * ncols, 2.4 * nrows, nrows=nrows, ncols=ncols) as (fig, axes):
        for ax, name in zip(axes.flat, names, strict=False):
            values = scores[name]
            finite = values[np.isfinite(values)]
            n_inf = int(np.isposinf(values).sum())
            if name == "forgetting" and len(finite):
                bins = np.arange(finite.max() + 2) - 0.5
            else:
                bins = 40
            ax.hist(finite, bins=bins, color="#4c72b0")
            title = name + (f" (+inf: {n_inf} never learned)" if n_inf else "")
            ax.set_title(title)
            ax.set_ylabel("examples")
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
    return to_svg(fig)


def score_correlation(matrix: pd.DataFrame) -> str:
    """Spearman rank correlation between scores, as a heat map with the values written in."""
    size = 1.2 + 0.9 * len(matrix)
    with figure(size + 1.0, size) as (fig, axes):
        ax = axes[0, 0]
        image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_xticks(range(len(matrix)), matrix.columns, rotation=30, ha="right")
        ax.set_yticks(range(len(matrix)), matrix.index)
        ax.grid(False)
        for i in range(len(matrix)):
            for j in range(len(matrix)):
                value = matrix.iat[i, j]
                ax.text(j, i, number(value, ".2f"), ha="center",
                        va="center", fontsize=8)
        fig.colorbar(image, ax=ax, label="Spearman ρ")
    return to_svg(fig)
