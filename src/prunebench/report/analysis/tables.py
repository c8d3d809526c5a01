"""The method x fraction table: last-epoch accuracy over seeds, its change against `full`, the
whole cost and the speedup it buys. Pandas only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...phases import PHASES

KEYS = ["dataset", "model", "method", "fraction"]


def _std(values: pd.Series) -> float:
    """Sample standard deviation (ddof=1) over seeds; NaN for a single seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def method_order(summary: pd.DataFrame, configured: list[str] | None = None) -> list[str]:
    """`full` first, then the config's order, then anything else found, alphabetically."""
    present = set(summary.method) if len(summary) else set()
    order = [m for m in ["full", *(configured or [])] if m in present]
    return list(dict.fromkeys(order + sorted(present - set(order))))


def method_table(summary: pd.DataFrame, configured: list[str] | None = None) -> pd.DataFrame:
    """One row per (dataset, model, method, fraction).

    acc_mean / acc_std (ddof=1) / n over seeds; acc_vs_full = acc_mean - full's acc_mean;
    rel_error = |acc_vs_full| / full's acc_mean (CREST's Table 1 metric, of the seed means);
    time_* are means over seeds, time_total including scoring and selection; speedup = full's
    mean time_total / this row's mean time_total; selection_share = time_selection /
    time_total; step_share = steps / full_steps.
    """
    if summary.empty:
        return pd.DataFrame(columns=[*KEYS, "kind", "n", "acc_mean", "acc_std", "acc_vs_full",
                                     "rel_error", "time_total", "time_total_std", "speedup",
                                     "selection_share", "selection_efficiency", "steps",
                                     "step_share"])
    frame = summary.assign(step_share=summary.steps / summary.full_steps)
    if "selection_efficiency" not in frame:  # a summary.csv from before the column existed
        frame = frame.assign(selection_efficiency=float("nan"))
    table = frame.groupby(KEYS, as_index=False).agg(
        kind=("kind", "first"), n=("seed", "nunique"),
        acc_mean=("test_acc", "mean"), acc_std=("test_acc", _std),
        time_total=("time_total", "mean"), time_total_std=("time_total", _std),
        **{f"time_{p}": (f"time_{p}", "mean") for p in PHASES},
        steps=("steps", "mean"), full_steps=("full_steps", "mean"),
        step_share=("step_share", "mean"), examples_seen=("examples_seen", "mean"),
        selection_efficiency=("selection_efficiency", "mean"),
    )
    full = table[table.method == "full"].set_index("dataset")
    table["acc_vs_full"] = table.acc_mean - table.dataset.map(full.acc_mean)
    table["rel_error"] = table.acc_vs_full.abs() / table.dataset.map(full.acc_mean)
    table["speedup"] = table.dataset.map(full.time_total) / table.time_total
    table["selection_share"] = table.time_selection / table.time_total
    rank = {m: i for i, m in enumerate(method_order(summary, configured))}
    table = table.assign(_rank=table.method.map(rank))
    return table.sort_values(["dataset", "_rank", "fraction"], ignore_index=True).drop(
        columns="_rank")


def method_csv(table: pd.DataFrame) -> str:
    """The table as written next to the report (and shown by `snakemake --report`)."""
    columns = ["method", "kind", "fraction", "n", "acc_mean", "acc_std", "acc_vs_full",
               "rel_error", "time_total", *[f"time_{p}" for p in PHASES], "selection_share",
               "selection_efficiency", "speedup", "steps", "step_share"]
    return table[columns].to_csv(index=False, float_format="%.4g")
