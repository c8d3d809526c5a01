"""Published numbers beside ours: an experiment's `reference_results` against its method table.

A reference gives, per method and fraction, an accuracy or a relative error |acc - acc_full| /
acc_full (CREST's Table 1), in percent. Ours is put in the same metric (relative error: of the
seed-mean accuracy against our own `full`), with the difference ours - paper. When the paper
gives its full accuracy, the accuracy a relative error implies is shown too, full x (1 - error),
which assumes the method is below full (true of every number CREST reports), and its `full`
appears as a row of its own. A method or fraction we did not run is "not run".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

COLUMNS = ["paper", "table", "method", "fraction", "metric", "paper_value", "our_value",
           "difference", "paper_accuracy", "our_accuracy", "our_accuracy_std",
           "accuracy_difference", "status"]


def dataset_references(config: dict, dataset: str) -> list[dict]:
    return [ref for ref in config.get("reference_results") or [] if ref["dataset"] == dataset]


def _ours(table: pd.DataFrame, method: str, fraction: float | None) -> tuple[pd.Series | None,
                                                                            str]:
    rows = table[table.method == method]
    if rows.empty:
        return None, "not run"
    if fraction is not None:
        rows = rows[np.isclose(rows.fraction, fraction)]
        if rows.empty:
            ran = ", ".join(f"{f:g}" for f in sorted(table[table.method == method].fraction))
            return None, f"not run at f = {fraction:g} (ran f = {ran})"
    return rows.iloc[0], "measured"


def _relative_error(acc: float, full: float | None) -> float:
    return math.nan if full is None or not full else 100 * abs(acc - full) / full


def comparison(reference: dict, table: pd.DataFrame) -> pd.DataFrame:
    """One row per published number (and one for the paper's `full` when it gives one)."""
    full_row, _ = _ours(table, "full", None)
    our_full = None if full_row is None else float(full_row.acc_mean)
    paper_full = reference.get("full_accuracy")
    metric = reference["metric"]
    entries = [(v["method"], v["fraction"], v["value"]) for v in reference["values"]]
    rows = []
    if paper_full is not None and not any(m == "full" for m, _, _ in entries):
        rows.append(_row(reference, "full", None, "accuracy", paper_full, full_row, "measured"
                         if full_row is not None else "not run", our_full, paper_full))
    for method, fraction, value in entries:
        ours, status = _ours(table, method, fraction)
        rows.append(_row(reference, method, fraction, metric, value, ours, status, our_full,
                         paper_full))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(reference, method, fraction, metric, value, ours, status, our_full, paper_full):
    our_acc = math.nan if ours is None else 100 * float(ours.acc_mean)
    our_std = math.nan if ours is None else 100 * float(ours.acc_std)
    if metric == "accuracy":
        our_value, paper_acc = our_acc, value
    else:
        our_value = math.nan if ours is None else _relative_error(
            float(ours.acc_mean), our_full)
        paper_acc = math.nan if paper_full is None else paper_full * (1 - value / 100)
    return {"paper": reference["paper"], "table": reference["table"], "method": method,
            "fraction": math.nan if fraction is None else fraction, "metric": metric,
            "paper_value": value, "our_value": our_value, "difference": our_value - value,
            "paper_accuracy": paper_acc, "our_accuracy": our_acc, "our_accuracy_std": our_std,
            "accuracy_difference": our_acc - paper_acc, "status": status}
