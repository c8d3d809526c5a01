"""Figures of the report's analysis: time to each accuracy target, by method and fraction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.time_to_accuracy import REACHED, Target
from .figures import figure, log_axis, to_svg
from .palette import Look, tag


def time_to_accuracy(tta: pd.DataFrame, targets: list[Target], colors: dict[str, Look]) -> str:
    """One panel per target: a dot per (method, fraction) on a log time axis, at the wall time
    (scoring and selection charged) its seed-mean curve first reaches the target; "not
    reached" written where it never does; full's time as a dashed line."""
    runs = list(dict.fromkeys(zip(tta.method, tta.fraction, strict=True)))
    labels = [f"{m}  f={f:g}" for m, f in runs]
    y = np.arange(len(runs))[::-1]
    with figure(2.6 * len(targets) + 1.4, 1.1 + 0.28 * len(runs), ncols=len(targets),
                sharey=True) as (fig, axes):
        for col, target in enumerate(targets):
            ax = axes[0, col]
            rows = tta[tta.target == target.name].set_index(["method", "fraction"])
            times = tta.time_s[tta.time_s > 0]
            low = float(times.min()) / 2 if len(times) else 0.5
            longest = max(float(times.max()) if len(times) else 1.0, low * 4)
            for yi, (method, fraction) in zip(y, runs, strict=True):
                rec = rows.loc[(method, fraction)]
                look = colors.get(method) or Look("gray")
                if rec.status == REACHED:
                    tag(ax.hlines(yi, low, rec.time_s, color=look.color, linewidth=2,
                                  linestyle=look.linestyle), method, look.color)
                    tag(ax.scatter([rec.time_s], [yi], color=look.color, marker=look.marker,
                                   s=22, zorder=3), method, look.color)
                    ax.text(rec.time_s, yi, f"  {rec.time_s:.1f}s", va="center", fontsize=7)
                else:
                    ax.text(low, yi, f" {rec.status}", va="center", fontsize=7, color="#888")
            full = rows[(rows.index.get_level_values("method") == "full")
                        & (rows.status == REACHED)]
            if len(full):
                ax.axvline(float(full.time_s.iloc[0]), color="black", linestyle="--",
                           linewidth=1)
            log_axis(ax.xaxis)
            ax.set_xlim(low, longest * 2)
            ax.set_ylim(-0.7, len(runs) - 0.3)
            ax.set_title(target.name if target.name.endswith("%") else
                         f"{target.name} ({target.percent:.2f}%)")
            ax.set_xlabel("wall time to target (s, log scale)")
            ax.grid(axis="y", visible=False)
        axes[0, 0].set_yticks(y, labels)
    return to_svg(fig)
