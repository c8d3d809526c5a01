"""One dataset's part of the report: what it computes from its summary rows and score arrays
(the method table, learning curves, the analysis's answer, the dynamic methods' and CREST's
selections, the scores' statistics), what the page shows of it (display rows, notes), and its
declared figures and tables (`layout.dataset_outputs`), each made by its producer
(render/producers.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...methods import method_entry
from ...paths import LABEL_NOISE_FILES
from ...proxies import method_proxy
from ..analysis.answer import Analysis, analyse
from ..analysis.crest import crest_run_table, crest_selections, dataset_baseline
from ..analysis.label_noise import detection_table, kept_table, noise_headline
from ..analysis.leaderboard import Row
from ..analysis.score_stats import absent_scores, score_stats, spearman_matrix
from ..analysis.selections import dynamic_selections, selection_run_table
from ..analysis.tables import method_order, method_table
from ..analysis.time_to_accuracy import Target
from ..analysis.transfer import score_agreement, transfer_runs
from ..read.curves import mean_curves
from ..read.label_noise import read_noise_mask
from ..read.selection_log import read_labels
from . import producers
from .layout import Configured, Output, dataset_outputs, two_proxies, two_scores
from .palette import Look, method_looks
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

# The order a dataset's figures are drawn in, which is not the declared one: every figure's
# series ids (`palette.tag`) continue one counter over the whole report, so the drawing order
# is part of each SVG's bytes, and this is the order the report has always drawn them in.
DRAWING_ORDER = ("accuracy_vs_fraction", "phase_time", "learning_curves", "time_to_accuracy",
                 "accuracy_vs_time", "selections", "crest_selection", "score_distributions",
                 "score_correlation")


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
class NoiseShown:
    """A dataset with label noise: each score's detection of the flipped labels, each method's
    noisy share beside its accuracy, and the headline sentence."""

    settings: dict = field(default_factory=dict)  # rate, kind, seed
    says: str = ""
    detection: pd.DataFrame = field(default_factory=pd.DataFrame)
    kept: pd.DataFrame = field(default_factory=pd.DataFrame)
    detection_rows: list[dict] = field(default_factory=list)
    kept_rows: list[dict] = field(default_factory=list)


@dataclass
class DatasetSection:
    """One dataset's part of the report: what the template shows of it, then the data its
    declared outputs' producers draw and write."""

    # what the page shows
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
    correlation: pd.DataFrame | None = None  # when two score files exist and are declared
    table: pd.DataFrame | None = None  # the method table (also for summary.tex / summary.md)
    analysis: AnalysisShown = field(default_factory=AnalysisShown)
    # what the producers draw and write
    runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the dataset's summary rows
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)  # seed-mean learning curves
    looks: dict[str, Look] = field(default_factory=dict)  # each method's look in figures
    result: Analysis = field(default_factory=Analysis)
    selections: pd.DataFrame = field(default_factory=pd.DataFrame)  # dynamic runs' selections
    selection_table: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per run
    crest: pd.DataFrame = field(default_factory=pd.DataFrame)  # CREST runs' selections
    crest_baseline: dict[str, float] = field(default_factory=dict)  # the training set's means
    crest_table: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per run
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # the score files that exist
    # score transfer (two proxies): agreement of their scores, the target on their subsets
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    transfer: pd.DataFrame = field(default_factory=pd.DataFrame)
    agreement_rows: list[dict] = field(default_factory=list)
    transfer_rows: list[dict] = field(default_factory=list)
    noise: NoiseShown | None = None  # a dataset with label noise


def _selection_part(section: DatasetSection, methods: tuple[str, ...], data_dir) -> None:
    """Every dynamic method's selections: count, sizes, time, class balance over time (from
    the prepared labels in `data_dir`, when they are there)."""
    if not methods:
        return
    labels = read_labels(data_dir)
    section.selections = dynamic_selections(section.runs, list(methods), labels)
    if section.selections.empty:
        section.selection_status = ("No dynamic run left a selection log (selections.csv / "
                                    "selected.npz with at least one selection).")
        return
    section.labels_found = labels is not None
    smallest = None
    if labels is not None:
        smallest = float(np.bincount(labels).min() / len(labels))
    section.selection_table = selection_run_table(section.selections, smallest)
    section.selection_rows = selection_display_rows(section.selection_table)


def _crest_part(section: DatasetSection, methods: tuple[str, ...]) -> None:
    """CREST and its named variants (e.g. crest_fixed), each run one row and one line."""
    if not methods:
        section.crest_status = "CREST not run: `crest` is not among this experiment's methods."
        return
    section.crest = crest_selections(section.runs, section.scores, list(methods))
    if section.crest.empty:
        finished = section.runs.method.isin(methods).sum()
        section.crest_status = ("CREST not run: no CREST run finished (see the missing runs)."
                                if not finished else
                                "CREST ran but left no selections.csv / selected.npz.")
        return
    section.crest_baseline = dataset_baseline(section.scores)
    section.crest_table = crest_run_table(section.crest, section.crest_baseline)
    section.crest_rows = crest_display_rows(section.crest_table)


def _score_part(section: DatasetSection, run: Configured) -> None:
    section.scores_absent = absent_scores(list(run.scores), section.scores)
    section.score_rows = formatted_records(pd.DataFrame(score_stats(section.scores)))
    if two_scores(run) and len(section.scores) >= 2:
        section.correlation = spearman_matrix(section.scores)


def _transfer_part(section: DatasetSection, run: Configured, config: dict,
                   proxy_scores: dict[str, dict[str, np.ndarray]]) -> None:
    """Two proxies: how their scores agree and how the target does on each one's subset."""
    if not two_proxies(run):
        return
    section.agreement = score_agreement(proxy_scores, list(config["fractions"]))
    scored = {m: method_proxy(m, config) for m in config["methods"]
              if method_entry(m, config).needs_proxy}
    section.transfer = transfer_runs(section.runs, scored)
    section.agreement_rows = formatted_records(section.agreement)
    section.transfer_rows = formatted_records(section.transfer)


def _noise_part(section: DatasetSection, run: Configured, data_dir, methods: list[str]) -> None:
    """Detection of the flipped labels by every score, and the noise each method kept."""
    if run.label_noise is None:
        return
    mask = read_noise_mask(f"{data_dir}/{LABEL_NOISE_FILES[1]}") if data_dir else None
    detection = detection_table(section.scores, mask) if mask is not None else pd.DataFrame()
    kept = kept_table(section.runs, methods)
    section.noise = NoiseShown(
        settings=run.label_noise, detection=detection, kept=kept,
        says=noise_headline(section.name, run.label_noise["rate"], detection, kept)
        if mask is not None else "The prepared folder's mask of flipped labels is absent.",
        detection_rows=formatted_records(detection), kept_rows=formatted_records(kept))
    # the dataset's headline says it too, after the leaderboard's sentences
    section.analysis.says = [*section.analysis.says, section.noise.says]


def _drawing_rank(output: Output) -> int:
    return DRAWING_ORDER.index(output.name) if output.kind == "figure" else len(DRAWING_ORDER)


def _produce(section: DatasetSection, run: Configured) -> None:
    """Make every figure and table declared for the dataset, figures in DRAWING_ORDER."""
    for output in sorted(dataset_outputs(run), key=_drawing_rank):
        made = getattr(producers, output.producer)(section)
        (section.figures if output.kind == "figure" else section.tables)[output.name] = made


def dataset_section(name: str, model: str, summary: pd.DataFrame,
                    scores: dict[str, np.ndarray], config: dict, run: Configured,
                    data_dir=None,
                    proxy_scores: dict[str, dict[str, np.ndarray]] | None = None,
                    ) -> DatasetSection:
    """Build one dataset's section from the summary rows and its score arrays; `run` is what
    the config runs for it (`layout.configured`), `data_dir` its prepared data (the labels the
    selections' class balance is read from), `proxy_scores` each proxy's score arrays (proxy
    name -> score -> array; score transfer, when two proxies score)."""
    runs = summary[summary.dataset == name]
    table = method_table(runs, config.get("methods"))
    section = DatasetSection(name=name, model=model, n_runs=len(runs),
                             method_rows=format_method_rows(table), table=table, runs=runs,
                             curves=mean_curves(runs), scores=scores)
    section.looks = method_looks(method_order(runs, config.get("methods")), config)
    section.result = analyse(name, runs, table, section.curves, config, list(run.crest))
    section.analysis = AnalysisShown.of(section.result)
    _selection_part(section, run.dynamic, data_dir)
    _crest_part(section, run.crest)
    _score_part(section, run)
    _transfer_part(section, run, config, proxy_scores or {})
    _noise_part(section, run, data_dir, list(config.get("methods") or []))
    _produce(section, run)
    return section
