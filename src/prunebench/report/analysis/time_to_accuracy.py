"""Time to accuracy: when each method's seed-mean learning curve first reaches a target.

The seed-mean curve of a (method, fraction) is, at each epoch, the mean over its seeds of the
test accuracy and the mean over its seeds of the wall time at the end of that epoch. That wall
time counts everything charged to the run from t = 0: proxy scoring and the select job before
training starts, then the run's own selection, training and evaluation
(`read.curves.run_history`). Seeds' epoch times differ, so the curve is aligned by epoch, not
by time; an epoch that not every seed of the (method, fraction) reached is left out, so a mean
never mixes seed sets.

The time to a target is the mean wall time at the first epoch whose mean accuracy is at or
above it. Accuracy is measured only at epoch ends, so there is no interpolation: a curve that
crosses the target between epochs k and k+1 reaches it at epoch k+1. "not reached" when no
epoch does. Targets are in percent: `full`'s final (last-epoch, seed-mean) accuracy minus 0.5,
1 and 2 points, then any `report.accuracy_targets`. Pandas only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

DROPS = (0.5, 1.0, 2.0)  # points below full's final accuracy
TOLERANCE = 1e-9  # percent: 0.86 * 100 must count as reaching 86
COLUMNS = ["method", "fraction", "target", "target_pct", "status", "epoch", "time_s",
           "speedup"]
NOT_REACHED, NO_HISTORY, REACHED = "not reached", "no history", "reached"


@dataclass(frozen=True)
class Target:
    name: str  # "full − 1 pt" or "90%"
    percent: float


def accuracy_targets(full_final_pct: float | None, extra: Iterable[float] = ()) -> list[Target]:
    """full's final accuracy (%) minus 0.5, 1 and 2 points (when full ran), then the extra
    targets (%) in increasing order."""
    targets = []
    if full_final_pct is not None and not math.isnan(full_final_pct):
        targets += [Target(f"full − {drop:g} pt", full_final_pct - drop) for drop in DROPS]
    targets += [Target(f"{value:g}%", float(value)) for value in sorted(set(extra))]
    return targets


def complete_epochs(curves: pd.DataFrame) -> pd.DataFrame:
    """Keep the epochs every seed of a (method, fraction) reached (n at its maximum)."""
    if curves.empty:
        return curves
    most = curves.groupby(["method", "fraction"]).n.transform("max")
    return curves[curves.n == most]


def first_reach(curve: pd.DataFrame, percent: float) -> tuple[int, float] | None:
    """(epoch, wall) of the first epoch whose acc_mean (a fraction) is at or above `percent`
    (%), or None. `curve` holds one (method, fraction)'s epoch, wall and acc_mean."""
    curve = curve.sort_values("epoch")
    hit = curve[100 * curve.acc_mean >= percent - TOLERANCE]
    if hit.empty:
        return None
    return int(hit.epoch.iloc[0]), float(hit.wall.iloc[0])


def full_final_pct(table: pd.DataFrame) -> float | None:
    """full's seed-mean last-epoch accuracy in %, from a method table; None without full."""
    full = table[table.method == "full"]
    return None if full.empty else 100 * float(full.acc_mean.iloc[0])


def time_to_accuracy(curves: pd.DataFrame, table: pd.DataFrame,
                     targets: list[Target]) -> pd.DataFrame:
    """One row per (method, fraction) of `table` (its order) and target: status (reached /
    not reached / no history), epoch and time_s where reached, and speedup = full's time to
    the same target / this time (NaN when full did not reach it)."""
    curves = complete_epochs(curves)
    by_run = {key: rows for key, rows in curves.groupby(["method", "fraction"])}
    rows = []
    for method, fraction in zip(table.method, table.fraction, strict=True):
        curve = by_run.get((method, fraction))
        for target in targets:
            hit = None if curve is None else first_reach(curve, target.percent)
            status = NO_HISTORY if curve is None else (REACHED if hit else NOT_REACHED)
            rows.append({"method": method, "fraction": fraction, "target": target.name,
                         "target_pct": target.percent, "status": status,
                         "epoch": hit[0] if hit else math.nan,
                         "time_s": hit[1] if hit else math.nan})
    frame = pd.DataFrame(rows, columns=COLUMNS[:-1])
    full = frame[frame.method == "full"].drop_duplicates("target").set_index("target").time_s
    frame["speedup"] = frame.target.map(full) / frame.time_s
    return frame[COLUMNS]
