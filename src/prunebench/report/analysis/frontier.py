"""The cost-accuracy frontier: the (method, fraction) points no other point beats on both
whole cost (mean total time per run, scoring and selection charged) and mean accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_mask(cost, value) -> np.ndarray:
    """True for each point that no other point dominates: none costs no more and achieves no
    less while being strictly better in one of the two. Equal points are all kept; a point
    with a NaN coordinate is never on the frontier."""
    cost, value = np.asarray(cost, float), np.asarray(value, float)
    finite = np.isfinite(cost) & np.isfinite(value)
    mask = finite.copy()
    for i in np.flatnonzero(finite):
        others = finite & (cost <= cost[i]) & (value >= value[i]) & (
            (cost < cost[i]) | (value > value[i]))
        mask[i] = not others.any()
    return mask


def frontier(table: pd.DataFrame) -> pd.DataFrame:
    """The Pareto-optimal rows of a method table, cheapest first."""
    if table.empty:
        return table
    on = table[pareto_mask(table.time_total, table.acc_mean)]
    return on.sort_values(["time_total", "acc_mean"], ignore_index=True)
