"""`prunebench plan`'s record (results/<experiment>/plan.csv): each job's predicted seconds,
with the actual beside it where the job had run when the plan was written. Optional: a report
of an experiment nobody planned shows no prediction. Imports no torch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...paths import fraction_label


def read_plan_csv(path) -> pd.DataFrame | None:
    path = Path(path)
    if not path.exists():
        return None
    return pd.read_csv(path)


def with_run_actuals(plan: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The plan's rows, a training job's actual seconds taken from summary.csv (its own
    wall_time_s) where the plan was written before it ran."""
    plan = plan.copy()
    if len(summary) and "wall_time_s" in summary.columns:
        names = (summary.dataset.astype(str) + "/" + summary.method.astype(str) + "/f"
                 + summary.fraction.map(fraction_label) + "/seed" + summary.seed.astype(str))
        walls = dict(zip(names, summary.wall_time_s, strict=True))
        is_train = plan.rule == "train"
        plan.loc[is_train, "actual_s"] = plan.loc[is_train, "actual_s"].fillna(
            plan.loc[is_train, "job"].map(walls))
    return plan
