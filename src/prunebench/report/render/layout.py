"""The report's outputs, declared once: every figure (.svg), table (.csv) and export the report
writes next to index.html, with its label, the condition under which a dataset gets it and the
producer that makes its text.

`report_files(config)` lists them for an experiment: workflow/rules/report.smk declares the
report rule's outputs from it, and render/html.py writes exactly these, each made by its
producer (render/sections.py calls a dataset's, render/html.py the exports'). Plain data (no
pandas, no matplotlib), so the Snakefile stays quick to parse: a producer is named here and
looked up in render/producers.py when the report renders. Result paths live in
`prunebench.paths` (through `prunebench.plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...methods import METHODS, base_method
from ...plan import ExperimentPlan
from ...proxies import DEFAULT_PROXY


def dynamic_methods(config: dict) -> list[str]:
    """The configured methods (or variants) that select during training."""
    return [m for m in config["methods"]
            if getattr(METHODS.get(base_method(m, config)), "kind", "") == "dynamic"]


def crest_methods(config: dict) -> list[str]:
    """The configured methods (or variants) that run CREST."""
    return [m for m in config["methods"] if base_method(m, config) == "crest"]


@dataclass(frozen=True)
class Configured:
    """What an experiment runs for one dataset: what decides which outputs the dataset gets,
    and what its section is built from."""

    dynamic: tuple[str, ...]  # dynamic_methods
    crest: tuple[str, ...]  # crest_methods
    scores: tuple[str, ...]  # the default proxy's score files the methods need
    has_references: bool  # the experiment lists published numbers for the dataset
    proxies: tuple[str, ...] = ()  # the proxies the methods score with (plan.proxy_names)
    label_noise: dict | None = None  # the dataset's label_noise settings, when it has them


def configured(config: dict) -> dict[str, Configured]:
    """dataset -> what the config runs for it."""
    dynamic, crest = tuple(dynamic_methods(config)), tuple(crest_methods(config))
    plan = ExperimentPlan(config)
    scores = tuple(plan.produced_scores(DEFAULT_PROXY))
    proxies = tuple(plan.proxy_names())
    references = {ref["dataset"] for ref in config.get("reference_results") or []}
    return {dataset: Configured(dynamic, crest, scores, dataset in references, proxies,
                                plan.label_noise(dataset))
            for dataset in config["datasets"]}


# The conditions under which a dataset gets an optional output.
def always(_: Configured) -> bool:
    return True


def any_dynamic(run: Configured) -> bool:
    return bool(run.dynamic)


def any_crest(run: Configured) -> bool:
    return bool(run.crest)


def any_score(run: Configured) -> bool:
    return len(run.scores) >= 1


def two_scores(run: Configured) -> bool:
    """A rank correlation needs at least two score files."""
    return len(run.scores) >= 2


def two_proxies(run: Configured) -> bool:
    """Score transfer compares the scores of two proxies and the subsets they select."""
    return len(run.proxies) >= 2


def has_references(run: Configured) -> bool:
    return run.has_references


def has_label_noise(run: Configured) -> bool:
    return run.label_noise is not None


@dataclass(frozen=True)
class Output:
    """One declared output. A figure or table belongs to each dataset for which `when` holds;
    an export (tables/<name>) to the whole experiment. `producer` names the function of
    render/producers.py that makes its text; `label` is shown in reports."""

    kind: str  # "figure", "table" or "export"
    name: str
    label: str
    producer: str
    when: Callable[[Configured], bool] = field(default=always)

    @property
    def caption(self) -> str:
        """Its caption's file name under reports/captions/."""
        if self.kind == "export":
            return f"export_{self.name.replace('.', '_')}.rst"
        return f"{self.name}.rst" if self.kind == "figure" else f"table_{self.name}.rst"


# Every output, in the order report_files lists them: a dataset's figures, then its tables,
# then the exports.
OUTPUTS = (
    Output("figure", "accuracy_vs_fraction", "accuracy vs fraction",
           "accuracy_vs_fraction_figure"),
    Output("figure", "accuracy_vs_time", "accuracy vs wall time", "accuracy_vs_time_figure"),
    Output("figure", "phase_time", "time per phase", "phase_time_figure"),
    Output("figure", "learning_curves", "learning curves", "learning_curves_figure"),
    Output("figure", "time_to_accuracy", "time to accuracy", "time_to_accuracy_figure"),
    Output("figure", "selections", "dynamic methods' selections", "selections_figure",
           any_dynamic),
    Output("figure", "crest_selection", "CREST selections", "crest_selection_figure",
           any_crest),
    Output("figure", "score_distributions", "score distributions",
           "score_distributions_figure", any_score),
    Output("figure", "score_correlation", "score rank correlation",
           "score_correlation_figure", two_scores),
    Output("table", "leaderboard", "leaderboard by budget", "leaderboard_table"),
    Output("table", "methods", "methods by fraction", "methods_table"),
    Output("table", "time_to_accuracy", "time to accuracy", "time_to_accuracy_table"),
    Output("table", "differences", "differences with 95% intervals", "differences_table"),
    Output("table", "frontier", "cost-accuracy Pareto frontier", "frontier_table"),
    Output("table", "selections", "dynamic methods' selections per run", "selections_table",
           any_dynamic),
    Output("table", "crest_selection", "CREST selections per run", "crest_selection_table",
           any_crest),
    Output("table", "score_correlation", "Spearman correlation of scores",
           "score_correlation_table", two_scores),
    Output("table", "reference", "published numbers beside ours", "reference_table",
           has_references),
    Output("table", "score_agreement", "score transfer: agreement between proxies",
           "score_agreement_table", two_proxies),
    Output("table", "score_transfer", "score transfer: the target on each proxy's subset",
           "score_transfer_table", two_proxies),
    Output("table", "label_noise_detection", "flipped labels found by each score",
           "label_noise_detection_table", has_label_noise),
    Output("table", "label_noise_kept", "flipped labels kept by each method",
           "label_noise_kept_table", has_label_noise),
    # whole-experiment tables to paste into a paper, under the report's tables/
    Output("export", "summary.tex", "LaTeX tables (booktabs)", "summary_tex"),
    Output("export", "summary.md", "Markdown tables", "summary_md"),
)
EXPORTS = tuple(output for output in OUTPUTS if output.kind == "export")


def dataset_outputs(run: Configured) -> list[Output]:
    """The figures and tables a dataset gets, in declared order."""
    return [output for output in OUTPUTS if output.kind != "export" and output.when(run)]


@dataclass(frozen=True)
class ReportFile:
    """One figure (.svg), table (.csv) or export (tables/<name>) the report writes next to
    index.html; an export belongs to no dataset (dataset "")."""

    kind: str  # "figure", "table" or "export"
    dataset: str
    name: str
    label: str
    caption: str = field(default="")  # file name under reports/captions/

    @property
    def path(self) -> str:
        if self.kind == "export":
            return f"tables/{self.name}"
        suffix = "svg" if self.kind == "figure" else "csv"
        return f"{self.kind}s/{self.dataset}/{self.name}.{suffix}"

    @property
    def key(self) -> str:
        """A Python identifier naming this output in the Snakemake rule."""
        if self.kind == "export":
            return "export_" + self.name.replace(".", "_")
        return f"{self.kind}_{self.dataset}_{self.name}"


def report_files(config: dict) -> list[ReportFile]:
    """Every dataset's figures and tables (given what the config runs and scores), then the
    exports."""
    files = []
    for dataset, run in configured(config).items():
        files += [ReportFile(o.kind, dataset, o.name, o.label, o.caption)
                  for o in dataset_outputs(run)]
    return files + [ReportFile(o.kind, "", o.name, o.label, o.caption) for o in EXPORTS]
