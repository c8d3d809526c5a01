"""One dataset's answer to the benchmark's question: time to accuracy, differences with
intervals, the cost-accuracy frontier, published numbers beside ours, and the headline (one
leaderboard row per budget and a few sentences), computed from its summary rows, method table
and learning curves. Frames and sentences only: render/ draws and writes them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from . import published
from .frontier import frontier
from .intervals import absent_baselines, differences, width_note
from .leaderboard import Row, headline, leaderboard
from .time_to_accuracy import (
    NO_HISTORY,
    Target,
    accuracy_targets,
    full_final_pct,
    time_to_accuracy,
)


@dataclass
class Analysis:
    """One dataset's answer (see the module doc), as `analyse` computes it."""

    targets: list[Target] = field(default_factory=list)
    tta: pd.DataFrame = field(default_factory=pd.DataFrame)  # time_to_accuracy's frame
    tta_note: str = ""  # why there is no time-to-accuracy table, when there is none
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    difference_notes: list[str] = field(default_factory=list)
    width_note: str = ""
    frontier: pd.DataFrame = field(default_factory=pd.DataFrame)  # Pareto rows, cheapest first
    # each of the dataset's reference_results with its comparison frame (published.comparison)
    comparisons: list[tuple[dict, pd.DataFrame]] = field(default_factory=list)
    says: list[str] = field(default_factory=list)  # the headline's sentences
    leaderboard: list[Row] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # CREST and its variants, as shown


def _tta_note(targets: list[Target], tta: pd.DataFrame) -> str:
    if not targets:
        return "No target: full was not run and report.accuracy_targets is empty."
    if (tta.status == NO_HISTORY).all():
        return "No run left a history.csv: no learning curve to read times from."
    return ""


def analyse(dataset: str, runs: pd.DataFrame, table: pd.DataFrame, curves: pd.DataFrame,
            config: dict, crest_methods: list[str] | None = None) -> Analysis:
    """Everything the analysis finds for one dataset; `runs` are its summary rows, `table` its
    method table, `curves` its seed-mean learning curves (`read.curves.mean_curves`),
    `crest_methods` the configured CREST variants the headline compares."""
    result = Analysis()
    extra = (config.get("report") or {}).get("accuracy_targets", [])
    result.targets = accuracy_targets(full_final_pct(table), extra)
    result.tta = time_to_accuracy(curves, table, result.targets)
    result.tta_note = _tta_note(result.targets, result.tta)

    order = list(zip(table.method, table.fraction, strict=True))
    result.differences = differences(runs, order)
    result.difference_notes = absent_baselines(runs, order) if len(runs) else []
    result.width_note = width_note(runs)
    result.frontier = frontier(table)
    result.comparisons = [(reference, published.comparison(reference, table))
                          for reference in published.dataset_references(config, dataset)]

    result.variants = list(crest_methods or [])
    result.leaderboard = leaderboard(table, result.differences, result.tta, result.variants)
    result.says = headline(result.leaderboard, table, result.differences, result.tta)
    return result
