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
from ..analysis.formatting import number
from ..analysis.score_stats import absent_scores, score_stats, spearman_matrix
from ..analysis.selections import (
    dynamic_selections,
    selection_display_rows,
    selection_run_table,
)
from ..analysis.tables import format_method_rows, method_csv, method_order, method_table
from ..read.curves import mean_curves
from ..read.selection_log import read_labels
from . import figures, figures_selection
from .layout import dynamic_methods


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
    analysis: Analysis = field(default_factory=Analysis)


def _records(frame: pd.DataFrame, digits: int = 4) -> list[dict]:
    def show(value):
        return number(value, f".{digits}g") if isinstance(value, float | np.floating) else value

    return [{k: show(v) for k, v in rec.items()} for rec in frame.to_dict("records")]


def crest_display_rows(per_run: pd.DataFrame) -> list[dict]:
    """The per-run CREST table as shown: the picked examples' difficulty next to the
    training set's in one cell."""
    rows = []
    for rec in per_run.to_dict("records"):
        row = {"method": rec["method"], "fraction": f"{rec['fraction']:g}", "seed": rec["seed"],
               "selections": rec["selections"], "checks": number(rec["checks"], ".4g"),
               "re-selected after a failed check": rec["check_failed"],
               "checks failed": number(rec["checks_failed_share"], ".0%"),
               "check interval (mean)": number(rec["mean_check_interval"], ".3g"),
               "coresets m (mean)": number(rec["mean_num_coresets"], ".3g"),
               "curvature norm first / median / last":
                   f"{number(rec['curvature_first'], '.3g')} / "
                   f"{number(rec['curvature_median'], '.3g')} / "
                   f"{number(rec['curvature_last'], '.3g')}",
               "steps between re-selections (mean / median)":
                   f"{number(rec['mean_steps_between'], '.3g')} / "
                   f"{number(rec['median_steps_between'], '.3g')}",
               "pool first → last": f"{rec['pool_first']} → {rec['pool_last']}",
               "selection time (s)": number(rec["selection_s"], ".3g")}
        for name, label in (("mean_el2n", "mean EL2N picked (all)"),
                            ("mean_forgetting", "mean forgetting picked (all)"),
                            ("inf_share_forgetting", "never learned picked (all)")):
            if f"{name}_selected" in rec:
                row[label] = (f"{number(rec[name + '_selected'], '.3g')} "
                              f"({number(rec[name + '_all'], '.3g')})")
        rows.append(row)
    return rows


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
    section.score_rows = _records(pd.DataFrame(score_stats(scores)))
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
    section.analysis = analyse(name, runs, table, curves, config, colors, crest_methods)
    section.figures.update(section.analysis.figures)
    section.tables.update(section.analysis.tables)
    _selection_part(section, runs, dynamic_methods(config), read_labels(data_dir), colors)
    _crest_part(section, runs, scores, crest_methods, colors)
    _score_part(section, scores, produced_scores)
    return section
