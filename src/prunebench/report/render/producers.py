"""The producers of the report's declared outputs (`layout.OUTPUTS` names each one's): a
dataset's figure (SVG text) or table (CSV text) from its built section, an export from every
section.

A figure whose data is absent (no finished run, CREST left no log, a score file missing)
is a small figure that says why, and such a table a one-line note, so every declared file
exists and the page always renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..analysis.leaderboard import leaderboard_csv
from ..analysis.tables import method_csv
from . import export, figures, figures_analysis, figures_selection

if TYPE_CHECKING:
    from .sections import DatasetSection

NO_CORRELATION = "a rank correlation needs two score files; fewer exist for this dataset"
NO_AGREEMENT = ("score agreement needs the same score from two proxies; fewer score files "
                "exist for this dataset")
FRONTIER_COLUMNS = ["method", "fraction", "acc_mean", "acc_std", "time_total", "time_total_std"]


def _no_run(section: DatasetSection) -> str:
    return figures.message_figure(f"no finished run for {section.name}")


def _note(text: str) -> str:
    return f"note\n{text}\n"


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6g")


# figures
def accuracy_vs_fraction_figure(section: DatasetSection) -> str:
    if section.runs.empty:
        return _no_run(section)
    return figures.accuracy_vs_fraction(section.table, section.looks)


def accuracy_vs_time_figure(section: DatasetSection) -> str:
    if not len(section.table):
        return _no_run(section)
    return figures.accuracy_vs_time(section.table, section.looks, section.result.frontier)


def phase_time_figure(section: DatasetSection) -> str:
    return _no_run(section) if section.runs.empty else figures.phase_time(section.table)


def learning_curves_figure(section: DatasetSection) -> str:
    if section.runs.empty:
        return _no_run(section)
    if not len(section.curves):
        return figures.message_figure("no run left a history.csv")
    return figures.learning_curves(section.curves, section.looks)


def time_to_accuracy_figure(section: DatasetSection) -> str:
    result = section.result
    if result.tta_note:
        return figures.message_figure(result.tta_note)
    return figures_analysis.time_to_accuracy(result.tta, result.targets, section.looks)


def selections_figure(section: DatasetSection) -> str:
    if section.selections.empty:
        return figures.message_figure(section.selection_status)
    return figures_selection.dynamic_selection(section.selections, section.looks)


def crest_selection_figure(section: DatasetSection) -> str:
    if section.crest.empty:
        return figures.message_figure(section.crest_status)
    return figures_selection.crest_selection(section.crest, section.crest_baseline,
                                             section.looks)


def score_distributions_figure(section: DatasetSection) -> str:
    if not section.scores:
        return figures.message_figure("no score file exists for this dataset")
    return figures_selection.score_distributions(section.scores)


def score_correlation_figure(section: DatasetSection) -> str:
    if section.correlation is None:
        return figures.message_figure(NO_CORRELATION)
    return figures_selection.score_correlation(section.correlation)


# tables
def leaderboard_table(section: DatasetSection) -> str:
    return leaderboard_csv(section.result.leaderboard)


def methods_table(section: DatasetSection) -> str:
    return method_csv(section.table)


def time_to_accuracy_table(section: DatasetSection) -> str:
    return _csv(section.result.tta)


def differences_table(section: DatasetSection) -> str:
    return _csv(section.result.differences)


def frontier_table(section: DatasetSection) -> str:
    return _csv(section.result.frontier.reindex(columns=FRONTIER_COLUMNS))


def selections_table(section: DatasetSection) -> str:
    if section.selections.empty:
        return _note(section.selection_status)
    return _csv(section.selection_table)


def crest_selection_table(section: DatasetSection) -> str:
    if section.crest.empty:
        return _note(section.crest_status)
    return _csv(section.crest_table)


def score_correlation_table(section: DatasetSection) -> str:
    if section.correlation is None:
        return _note(NO_CORRELATION)
    return section.correlation.to_csv(float_format="%.4f")


def score_agreement_table(section: DatasetSection) -> str:
    if section.agreement.empty:
        return _note(NO_AGREEMENT)
    return _csv(section.agreement)


def score_transfer_table(section: DatasetSection) -> str:
    return _csv(section.transfer)


def reference_table(section: DatasetSection) -> str:
    return _csv(pd.concat([frame for _, frame in section.result.comparisons],
                          ignore_index=True))


def label_noise_detection_table(section: DatasetSection) -> str:
    if section.noise.detection.empty:
        return _note("no score file exists for this dataset, or no label is flipped")
    return _csv(section.noise.detection)


def label_noise_kept_table(section: DatasetSection) -> str:
    if section.noise.kept.empty:
        return _note(f"no finished run for {section.name}")
    return _csv(section.noise.kept)


# exports: every dataset's method table in one file
def _method_tables(sections: list[DatasetSection]) -> list[tuple[str, str, pd.DataFrame]]:
    return [(s.name, s.model, s.table) for s in sections]


def summary_tex(config: dict, sections: list[DatasetSection]) -> str:
    return export.summary_tex(config["experiment"], config["protocol"],
                              _method_tables(sections))


def summary_md(config: dict, sections: list[DatasetSection]) -> str:
    return export.summary_md(config["experiment"], config["protocol"],
                             _method_tables(sections))
