"""The plan's prediction error per rule: jobs, predicted and actual seconds in total, and the
median |predicted - actual| / actual over the jobs that ran."""

from __future__ import annotations

import pandas as pd

RULES = ("prepare_dataset", "train_proxy", "mean_scores", "select_subset", "train", "aggregate",
         "report")


def prediction_error_rows(plan: pd.DataFrame | None) -> list[dict]:
    """One row per rule of the plan (empty without a plan)."""
    if plan is None or not len(plan):
        return []
    rows = []
    for rule in RULES:
        mine = plan[plan.rule == rule]
        if not len(mine):
            continue
        ran = mine.dropna(subset=["predicted_s", "actual_s"])
        ran = ran[ran.actual_s > 0]
        error = ((ran.predicted_s - ran.actual_s).abs() / ran.actual_s).median()
        rows.append({"rule": rule, "jobs": len(mine), "ran": len(ran),
                     "predicted_s": round(float(mine.predicted_s.sum()), 1),
                     "actual_s": round(float(ran.actual_s.sum()), 1) if len(ran) else "–",
                     "median_error": f"{100 * error:.0f}%" if len(ran) else "–"})
    return rows


def prediction_source(plan: pd.DataFrame | None) -> str:
    """The device and throughput sources the prediction was priced with."""
    if plan is None or not len(plan):
        return ""
    sources = sorted({s for s in plan.get("throughput", pd.Series()).dropna().astype(str) if s})
    devices = sorted(set(plan.device.astype(str)))
    return f"{', '.join(devices)}: {'; '.join(sources) or 'no throughput'}"
