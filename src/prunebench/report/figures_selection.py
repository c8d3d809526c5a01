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


def _fraction_colors(fractions) -> dict[float, str]:
    palette = matplotlib.colormaps["viridis"]
    values = sorted(set(fractions))
    return {f: matplotlib.colors.to_hex(palette(0.15 + 0.7 * i / max(len(values) - 1, 1)))
            for i, f in enumerate(values)}


def crest_selection(selections: pd.DataFrame, baseline: dict[str, float]) -> str:
    """Four panels against the optimizer step: steps since the previous selection (marker:
    why it was re-selected), pool size, and the mean EL2N and mean forgetting score of the
    examples picked (dashed: the whole training set's mean)."""
    colors = _fraction_colors(selections.fraction)
    with figure(9, 6, nrows=2, ncols=2, sharex=True) as (fig, axes):
        gaps, pool = axes[0, 0], axes[0, 1]
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
        for (fraction, seed), run in selections.groupby(["fraction", "seed"]):
            style = {"color": colors[fraction], "linestyle": SEED_LINES[int(seed) % 4]}
            pool.plot(run.step, run.pool_size, drawstyle="steps-post",
                      label=f"f={fraction:g} seed {seed}", **style)
            for ax, name in zip(axes[1], DIFFICULTY_SCORES, strict=True):
                if f"mean_{name}" in run:
                    ax.plot(run.step, run[f"mean_{name}"], marker=".", **style)
        pool.set_ylabel("pool size (examples)")
        pool.legend(loc="lower left")
        for ax, name in zip(axes[1], DIFFICULTY_SCORES, strict=True):
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
