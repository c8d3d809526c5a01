"""Figures about what was selected: CREST's selections over training, and the proxy scores'
distributions and rank agreement. SVG text, like figures.py."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd

from .crest import DIFFICULTY_SCORES
from .figures import figure, to_svg

REASON_MARKERS = {"initial": "*", "check failed": "o", "epoch start": "^"}
SEED_LINES = ["-", "--", ":", "-."]
VARIANT_MARKERS = ["o", "s", "^", "D"]  # CREST and its named variants, in the curvature panel


def _fraction_colors(fractions) -> dict[float, str]:
    palette = matplotlib.colormaps["viridis"]
    values = sorted(set(fractions))
    return {f: matplotlib.colors.to_hex(palette(0.15 + 0.7 * i / max(len(values) - 1, 1)))
            for i, f in enumerate(values)}


def crest_selection(selections: pd.DataFrame, baseline: dict[str, float]) -> str:
    """Six panels against the optimizer step: steps since the previous selection (marker: why
    it was re-selected), pool size, the quadratic model's curvature norm and the check interval
    the adaptive rule set at each selection, and the mean EL2N and mean forgetting score of the
    examples picked (dashed: the whole training set's mean)."""
    colors = _fraction_colors(selections.fraction)
    if "method" not in selections:
        selections = selections.assign(method="crest")
    several = selections.method.nunique() > 1
    with figure(9, 9, nrows=3, ncols=2, sharex=True) as (fig, axes):
        gaps, pool = axes[0, 0], axes[0, 1]
        curvature, interval = axes[1, 0], axes[1, 1]
        for reason, marker in REASON_MARKERS.items():
            shown = selections[(selections.reason == reason)
                               & selections.steps_since_previous.notna()]
            if shown.empty:
                continue
            gaps.scatter(shown.step, shown.steps_since_previous, marker=marker, s=18,
                         c=[colors[f] for f in shown.fraction], label=reason)
        gaps.set_ylabel("steps since previous selection")
        if gaps.collections:
            gaps.legend(title="re-selected because", loc="upper left")
        else:
            gaps.text(0.5, 0.5, "one selection per run: nothing re-selected", ha="center",
                      va="center", transform=gaps.transAxes)
        methods = sorted(selections.method.unique())
        for (method, fraction, seed), run in selections.groupby(["method", "fraction", "seed"]):
            style = {"color": colors[fraction], "linestyle": SEED_LINES[int(seed) % 4]}
            marker = VARIANT_MARKERS[methods.index(method) % len(VARIANT_MARKERS)]
            label = f"{method} " * several + f"f={fraction:g} seed {seed}"
            pool.plot(run.step, run.pool_size, drawstyle="steps-post", label=label, **style)
            if run.curvature_norm.notna().any():
                curvature.plot(run.step, run.curvature_norm, marker=marker, markersize=3,
                               **style)
                interval.plot(run.step, run.check_interval, drawstyle="steps-post", **style)
            for ax, name in zip(axes[2], DIFFICULTY_SCORES, strict=True):
                if f"mean_{name}" in run:
                    ax.plot(run.step, run[f"mean_{name}"], marker=".", **style)
        pool.set_ylabel("pool size (examples)")
        pool.legend(loc="lower left", fontsize="small")
        curvature.set_ylabel("curvature norm at selection")
        interval.set_ylabel("check interval set (steps)")
        for ax in (curvature, interval):
            if not ax.lines:
                ax.text(0.5, 0.5, "not recorded (a log from before the adaptive rule)",
                        ha="center", va="center", transform=ax.transAxes)
        if curvature.lines and (selections.curvature_norm > 0).all():
            curvature.set_yscale("log")
        for ax, name in zip(axes[2], DIFFICULTY_SCORES, strict=True):
            ax.set_xlabel("optimizer step")
            label = "mean forgetting events (finite)" if name == "forgetting" else "mean EL2N"
            ax.set_ylabel(f"{label} of selected")
            if f"mean_{name}" in baseline:
                ax.axhline(baseline[f"mean_{name}"], color="black", linestyle="--", linewidth=1,
                           label="training set")
                ax.legend(loc="best")
            else:
                ax.text(0.5, 0.5, f"no {name} scores for this dataset", ha="center",
                        va="center", transform=ax.transAxes)
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
                ax.text(j, i, "–" if np.isnan(value) else f"{value:.2f}", ha="center",
                        va="center", fontsize=8)
        fig.colorbar(image, ax=ax, label="Spearman ρ")
    return to_svg(fig)
