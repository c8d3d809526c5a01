"""Collect every run's metrics.json into summary.csv, charging each run its full cost.

A static run's cost is scoring (all proxy seeds, up to the epoch its score exists) +
selection (the select job's own timer) + its training and evaluation. Imports no torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_text
from ..errors import UserError

COLUMNS = [
    "experiment", "dataset", "model", "method", "kind", "fraction", "seed", "protocol", "score",
    "test_acc", "test_loss", "time_scoring", "time_selection", "time_training",
    "time_evaluation", "time_total", "wall_time_s", "steps", "full_steps", "examples_seen",
    "n_used", "n_train",
]


def _read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc}); re-run the job that writes it") from exc


def scoring_costs(proxy_metrics: list[str | Path]) -> dict[tuple[str, str], float]:
    """(dataset, score) -> seconds summed over the proxy seeds."""
    costs: dict[tuple[str, str], float] = {}
    for path in proxy_metrics:
        metrics = _read_json(path)
        for score, seconds in metrics["score_cost_s"].items():
            key = (metrics["dataset"], score)
            costs[key] = costs.get(key, 0.0) + seconds
    return costs


def run_row(metrics: dict, costs: dict[tuple[str, str], float]) -> dict:
    score = metrics.get("score")
    selection_s = 0.0
    if metrics.get("subset"):
        selection_s = _read_json(Path(metrics["subset"]).with_suffix(".json"))["selection_s"]
    scoring_s = costs.get((metrics["dataset"], score), 0.0) if score else 0.0
    times = metrics["time"]
    row = {k: metrics.get(k) for k in COLUMNS}
    row.update(
        time_scoring=scoring_s + times.get("scoring", 0.0),
        time_selection=selection_s + times.get("selection", 0.0),
        time_training=times["training"], time_evaluation=times["evaluation"],
    )
    row["time_total"] = sum(row[f"time_{p}"] for p in
                            ("scoring", "selection", "training", "evaluation"))
    return row


def build_summary(run_metrics: list[str | Path], proxy_metrics: list[str | Path]) -> pd.DataFrame:
    costs = scoring_costs(proxy_metrics)
    rows = [run_row(_read_json(path), costs) for path in run_metrics]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["dataset", "method", "fraction", "seed"], ignore_index=True)


def method_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method, fraction): last-epoch accuracy mean, std (ddof=1), n, cost, speedup."""
    grouped = summary.groupby(["dataset", "model", "method", "fraction"], as_index=False)
    table = grouped.agg(acc_mean=("test_acc", "mean"),
                        acc_std=("test_acc", lambda s: float(np.std(s, ddof=1)) if len(s) > 1
                                 else float("nan")),
                        n=("seed", "nunique"), time_total=("time_total", "mean"),
                        steps=("steps", "mean"))
    full = table[table.method == "full"].set_index("dataset")
    table["acc_vs_full"] = table.acc_mean - table.dataset.map(full.acc_mean)
    table["speedup"] = table.dataset.map(full.time_total) / table.time_total
    return table


def write_summary(run_metrics, proxy_metrics, out: str | Path) -> pd.DataFrame:
    summary = build_summary(run_metrics, proxy_metrics)
    write_text(out, summary.to_csv(index=False, float_format="%.6g"))
    return summary
