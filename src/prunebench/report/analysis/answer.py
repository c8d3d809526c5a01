"""One dataset's answer to the benchmark's question: time to accuracy, differences with
intervals, the cost-accuracy frontier, published numbers beside ours, and the headline (one
leaderboard row per budget and a few sentences). Builds the tables (CSV text), the figure
and the display rows that `sections.dataset_section` puts on the page."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..render import figures, figures_analysis
from . import published
from .formatting import number
from .frontier import frontier, frontier_rows
from .intervals import absent_baselines, differences, width_note
from .leaderboard import Row, headline, leaderboard, leaderboard_csv
from .time_to_accuracy import (
    NO_HISTORY,
    Target,
    accuracy_targets,
    display_rows,
    full_final_pct,
    time_to_accuracy,
)


@dataclass
class Analysis:
    targets: list[Target] = field(default_factory=list)
    tta_rows: list[dict] = field(default_factory=list)
    tta_note: str = ""  # why there is no time-to-accuracy table, when there is none
    difference_rows: list[dict] = field(default_factory=list)
    difference_notes: list[str] = field(default_factory=list)
    width_note: str = ""
    frontier_rows: list[dict] = field(default_factory=list)
    references: list[dict] = field(default_factory=list)
    says: list[str] = field(default_factory=list)  # the headline's sentences
    leaderboard: list[Row] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # CREST and its variants, as shown
    figures: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)


def _difference_rows(diffs: pd.DataFrame) -> list[dict]:
    return [{"method": r.method, "fraction": f"{r.fraction:g}",
             "baseline": f"{r.baseline} (f = {r.baseline_fraction:g})", "test": r.test,
             "n": f"{r.n} / {r.n_baseline}", "difference": number(r.diff_pts, "+.2f"),
             "interval": f"{number(r.low_pts, '+.2f')} to {number(r.high_pts, '+.2f')}",
             "verdict": r.verdict}
            for r in diffs.itertuples()]


def _time_part(result: Analysis, table: pd.DataFrame, curves: pd.DataFrame, config: dict,
               colors: dict[str, str]) -> pd.DataFrame:
    extra = (config.get("report") or {}).get("accuracy_targets", [])
    result.targets = accuracy_targets(full_final_pct(table), extra)
    tta = time_to_accuracy(curves, table, result.targets)
    if not result.targets:
        result.tta_note = ("No target: full was not run and report.accuracy_targets is empty.")
    elif (tta.status == NO_HISTORY).all():
        result.tta_note = "No run left a history.csv: no learning curve to read times from."
    if result.tta_note:
        result.figures["time_to_accuracy"] = figures.message_figure(result.tta_note)
    else:
        result.tta_rows = display_rows(tta, result.targets)
        result.figures["time_to_accuracy"] = figures_analysis.time_to_accuracy(
            tta, result.targets, colors)
    result.tables["time_to_accuracy"] = tta.to_csv(index=False, float_format="%.6g")
    return tta


def analyse(dataset: str, runs: pd.DataFrame, table: pd.DataFrame, curves: pd.DataFrame,
            config: dict, colors: dict, crest_methods: list[str] | None = None) -> Analysis:
    """Everything the analysis shows for one dataset; `runs` are its summary rows, `table` its
    method table, `curves` its seed-mean learning curves (`curves.mean_curves`),
    `crest_methods` the configured CREST variants the headline compares."""
    result = Analysis()
    tta = _time_part(result, table, curves, config, colors)

    order = list(zip(table.method, table.fraction, strict=True))
    diffs = differences(runs, order)
    result.difference_rows = _difference_rows(diffs)
    result.difference_notes = absent_baselines(runs, order) if len(runs) else []
    result.width_note = width_note(runs)
    result.tables["differences"] = diffs.to_csv(index=False, float_format="%.6g")

    on = frontier(table)
    result.frontier_rows = frontier_rows(on)
    columns = ["method", "fraction", "acc_mean", "acc_std", "time_total", "time_total_std"]
    result.tables["frontier"] = on.reindex(columns=columns).to_csv(index=False,
                                                                   float_format="%.6g")
    result.figures["accuracy_vs_time"] = figures.accuracy_vs_time(table, colors, on) \
        if len(table) else figures.message_figure(f"no finished run for {dataset}")

    references = published.dataset_references(config, dataset)
    frames = []
    for reference in references:
        frame = published.comparison(reference, table)
        frames.append(frame)
        result.references.append(published.display(reference, frame))
    if references:
        result.tables["reference"] = pd.concat(frames, ignore_index=True).to_csv(
            index=False, float_format="%.6g")

    result.variants = list(crest_methods or [])
    result.leaderboard = leaderboard(table, diffs, tta, result.variants)
    result.tables["leaderboard"] = leaderboard_csv(result.leaderboard)
    result.says = headline(result.leaderboard, table, diffs, tta)
    return result
