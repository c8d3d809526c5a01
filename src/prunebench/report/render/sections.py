"""One dataset's part of the report: its table, figures (SVG text) and selection statistics.

Every figure and table that `layout.report_files` declares is produced here, with a figure
that says why when its data is absent (CREST not run, a score file missing), so the files
the workflow expects always exist and the page always renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...methods import base_method
from ..analysis.answer import Analysis, analyse
from ..analysis.crest import crest_run_table, crest_selections, dataset_baseline
from ..analysis.leaderboard import Row, leaderboard_csv
from ..analysis.score_stats import absent_scores, score_stats, spearman_matrix
from ..analysis.selections import dynamic_selections, selection_run_table
from ..analysis.tables import method_csv, method_order, method_table
from ..analysis.time_to_accuracy import Target
from ..read.curves import mean_curves
from ..read.selection_log import read_labels
from . import figures, figures_analysis, figures_selection
from .layout import dynamic_methods
from .rows import (
    crest_display_rows,
    difference_rows,
    format_method_rows,
    formatted_records,
    frontier_rows,
    reference_display,
    selection_display_rows,
    time_to_accuracy_rows,
)


@dataclass
class AnalysisShown:
    """What the page shows of one dataset's `analysis.answer.Analysis`: its sentences and notes,
    its frames as display rows."""

    targets: list[Target] = field(default_factory=list)
    tta_rows: list[dict] = field(default_factory=list)
    tta_note: str = ""  # why there is no time-to-accuracy table, when there is none
    difference_rows: list[dict] = field(default_factory=list)
    difference_notes: list[str] = field(default_factory=list)
    width_note: str = ""
    frontier_rows: list[dict] = field(default_factory=list)
    references: list[dict] = field(default_factory=list)  # reference_display of each
    says: list[str] = field(default_factory=list)  # the headline's sentences
    leaderboard: list[Row] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)  # CREST and its variants, as shown

    @classmethod
    def of(cls, analysis: Analysis) -> AnalysisShown:
        return cls(targets=analysis.targets,
                   tta_rows=[] if analysis.tta_note else time_to_accuracy_rows(
                       analysis.tta, analysis.targets),
                   tta_note=analysis.tta_note,
                   difference_rows=difference_rows(analysis.differences),
                   difference_notes=analysis.difference_notes, width_note=analysis.width_note,
                   frontier_rows=frontier_rows(analysis.frontier),
                   references=[reference_display(ref, frame)
                               for ref, frame in analysis.comparisons],
                   says=analysis.says, leaderboard=analysis.leaderboard,
                   variants=analysis.variants)


@dataclass
class DatasetSection:
    name: str
    model: str
    n_runs: int
    method_rows: list[dict]
    figures: dict[str, str] = field(default_factory=dict)  # name -> SVG text
    tables: dict[str, str] = field(default_factory=dict)  # name -> CSV text
    crest_status: str = ""  # empty when CREST ran; otherwise why there is nothing to show
    crest_rows: list[dict] = field(default_factory=list)
    selection_status: str = ""  # empty when some dynamic run left selections; else why not
    selection_rows: list[dict] = field(default_factory=list)
    labels_found: bool = False
    score_rows: list[dict] = field(default_factory=list)
    scores_absent: list[dict] = field(default_factory=list)
    correlation: pd.DataFrame | None = None
    table: pd.DataFrame | None = None  # the method table (for summary.tex / summary.md)
    analysis: AnalysisShown = field(default_factory=AnalysisShown)


def _analysis_part(section: DatasetSection, analysis: Analysis, table: pd.DataFrame,
                   looks: dict) -> None:
    """Time to accuracy, accuracy against whole cost with the frontier, differences, published
    numbers and the leaderboard."""
    if analysis.tta_note:
        section.figures["time_to_accuracy"] = figures.message_figure(analysis.tta_note)
    else:
        section.figures["time_to_accuracy"] = figures_analysis.time_to_accuracy(
            analysis.tta, analysis.targets, looks)
    section.tables["time_to_accuracy"] = analysis.tta.to_csv(index=False, float_format="%.6g")
    section.tables["differences"] = analysis.differences.to_csv(index=False,
                                                                float_format="%.6g")
    columns = ["method", "fraction", "acc_mean", "acc_std", "time_total", "time_total_std"]
    section.tables["frontier"] = analysis.frontier.reindex(columns=columns).to_csv(
        index=False, float_format="%.6g")
    section.figures["accuracy_vs_time"] = figures.accuracy_vs_time(
        table, looks, analysis.frontier) if len(table) else figures.message_figure(
        f"no finished run for {section.name}")
    if analysis.comparisons:
        section.tables["reference"] = pd.concat(
            [frame for _, frame in analysis.comparisons], ignore_index=True).to_csv(
            index=False, float_format="%.6g")
    section.tables["leaderboard"] = leaderboard_csv(analysis.leaderboard)


def _selection_part(section: DatasetSection, runs: pd.DataFrame, methods: list[str],
                    labels: np.ndarray | None, looks: dict) -> None:
    """Every dynamic method's selections: count, sizes, time, class balance over time."""
    if not methods:
        return
    selections = dynamic_selections(runs, methods, labels)
    if selections.empty:
        section.selection_status = ("No dynamic run left a selection log (selections.csv / "
                                    "selected.npz with at least one selection).")
        section.figures["selections"] = figures.message_figure(section.selection_status)
        section.tables["selections"] = "note\n" + section.selection_status + "\n"
        return
    section.labels_found = labels is not None
    smallest = None
    if labels is not None:
        smallest = float(np.bincount(labels).min() / len(labels))
    per_run = selection_run_table(selections, smallest)
    section.selection_rows = selection_display_rows(per_run)
    section.figures["selections"] = figures_selection.dynamic_selection(selections, looks)
    section.tables["selections"] = per_run.to_csv(index=False, float_format="%.6g")


def _crest_part(section: DatasetSection, runs: pd.DataFrame, scores: dict[str, np.ndarray],
                crest_methods: list[str], looks: dict) -> None:
    """CREST and its named variants (e.g. crest_fixed), each run one row and one line."""
    if not crest_methods:
        section.crest_status = "CREST not run: `crest` is not among this experiment's methods."
        return
    selections = crest_selections(runs, scores, crest_methods)
    if selections.empty:
        finished = runs.method.isin(crest_methods).sum()
        section.crest_status = ("CREST not run: no CREST run finished (see the missing runs)."
                                if not finished else
                                "CREST ran but left no selections.csv / selected.npz.")
        section.figures["crest_selection"] = figures.message_figure(section.crest_status)
        section.tables["crest_selection"] = "note\n" + section.crest_status + "\n"
        return
    baseline = dataset_baseline(scores)
    per_run = crest_run_table(selections, baseline)
    section.crest_rows = crest_display_rows(per_run)
    section.figures["crest_selection"] = figures_selection.crest_selection(selections, baseline,
                                                                           looks)
    section.tables["crest_selection"] = per_run.to_csv(index=False, float_format="%.6g")


def _score_part(section: DatasetSection, scores: dict[str, np.ndarray],
                produced: list[str]) -> None:
    section.scores_absent = absent_scores(produced, scores)
    section.score_rows = formatted_records(pd.DataFrame(score_stats(scores)))
    if produced:
        section.figures["score_distributions"] = (
            figures_selection.score_distributions(scores) if scores else
            figures.message_figure("no score file exists for this dataset"))
    if len(produced) >= 2:
        if len(scores) >= 2:
            section.correlation = spearman_matrix(scores)
            section.figures["score_correlation"] = figures_selection.score_correlation(
                section.correlation)
            section.tables["score_correlation"] = section.correlation.to_csv(
                float_format="%.4f")
        else:
            text = "a rank correlation needs two score files; fewer exist for this dataset"
            section.figures["score_correlation"] = figures.message_figure(text)
            section.tables["score_correlation"] = f"note\n{text}\n"


def dataset_section(name: str, model: str, summary: pd.DataFrame,
                    scores: dict[str, np.ndarray], config: dict,
                    produced_scores: list[str], data_dir=None) -> DatasetSection:
    """Build every table and figure of one dataset from its summary rows and score arrays;
    `data_dir` is its prepared data (the labels the selections' class balance is read from)."""
    runs = summary[summary.dataset == name]
    table = method_table(runs, config.get("methods"))
    section = DatasetSection(name=name, model=model, n_runs=len(runs),
                             method_rows=format_method_rows(table), table=table)
    section.tables["methods"] = method_csv(table)
    colors = figures.method_colors(method_order(runs, config.get("methods")), config)
    curves = mean_curves(runs)
    if runs.empty:
        text = f"no finished run for {name}"
        for fig_name in ("accuracy_vs_fraction", "phase_time", "learning_curves"):
            section.figures[fig_name] = figures.message_figure(text)
    else:
        section.figures.update(
            accuracy_vs_fraction=figures.accuracy_vs_fraction(table, colors),
            phase_time=figures.phase_time(table),
            learning_curves=(figures.learning_curves(curves, colors) if len(curves) else
                             figures.message_figure("no run left a history.csv")),
        )
    crest_methods = [m for m in config.get("methods", []) if base_method(m, config) == "crest"]
    analysis = analyse(name, runs, table, curves, config, crest_methods)
    section.analysis = AnalysisShown.of(analysis)
    _analysis_part(section, analysis, table, colors)
    _selection_part(section, runs, dynamic_methods(config), read_labels(data_dir), colors)
    _crest_part(section, runs, scores, crest_methods, colors)
    _score_part(section, scores, produced_scores)
    return section
