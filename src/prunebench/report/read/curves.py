"""Learning curves from each run's history.csv: test accuracy against step and wall time.

A run's wall time at an epoch is its own cumulative phase time plus what was charged to it
before training started (proxy scoring and the select job), so the curves start where the
run's real cost starts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import UserError
from ...phases import PHASES


def run_history(run_dir: str | Path, time_total: float) -> pd.DataFrame | None:
    """epoch, step, test_acc and wall (seconds, outside costs included); None if absent."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return None
    try:
        history = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read {path} ({exc}); re-run that training job") from exc
    if history.empty or not {"epoch", "step", "test_acc"} <= set(history.columns):
        raise UserError(f"{path} lacks epoch/step/test_acc rows; re-run that training job")
    inside = history[[f"time_{p}" for p in PHASES if f"time_{p}" in history]].sum(axis=1)
    outside = max(float(time_total) - float(inside.iloc[-1]), 0.0)
    return pd.DataFrame({"epoch": history.epoch, "step": history.step,
                         "test_acc": history.test_acc, "wall": inside + outside})


def mean_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """method, fraction, epoch, and over seeds: mean step, mean wall, test_acc mean and std
    (ddof=1), n. `runs` are summary rows (one dataset)."""
    frames = []
    for run in runs.itertuples():
        history = run_history(run.run_dir, run.time_total)
        if history is not None:
            frames.append(history.assign(method=run.method, fraction=run.fraction, seed=run.seed))
    if not frames:
        return pd.DataFrame(columns=["method", "fraction", "epoch", "step", "wall", "acc_mean",
                                     "acc_std", "n"])
    every = pd.concat(frames, ignore_index=True)
    return every.groupby(["method", "fraction", "epoch"], as_index=False).agg(
        step=("step", "mean"), wall=("wall", "mean"), acc_mean=("test_acc", "mean"),
        acc_std=("test_acc", "std"), n=("seed", "nunique"))
