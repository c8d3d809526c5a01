"""The figures and tables the report writes next to index.html, derived from the config.

Plain data (no pandas, no matplotlib): `workflow/rules/report.smk` imports it to declare the
report rule's outputs, and the `report` command writes exactly these. Result paths live in
`prunebench.paths` (through `prunebench.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...methods import METHODS, base_method
from ...plan import ExperimentPlan

# Figures every dataset gets, then the optional ones; the value is the label shown in reports.
FIGURES = {
    "accuracy_vs_fraction": "accuracy vs fraction",
    "accuracy_vs_time": "accuracy vs wall time",
    "phase_time": "time per phase",
    "learning_curves": "learning curves",
    "time_to_accuracy": "time to accuracy",
}
DYNAMIC_FIGURE = {"selections": "dynamic methods' selections"}
CREST_FIGURE = {"crest_selection": "CREST selections"}
SCORE_FIGURES = {"score_distributions": "score distributions",
                 "score_correlation": "score rank correlation"}
TABLES = {"leaderboard": "leaderboard by budget", "methods": "methods by fraction",
          "time_to_accuracy": "time to accuracy",
          "differences": "differences with 95% intervals",
          "frontier": "cost-accuracy Pareto frontier"}
REFERENCE_TABLE = {"reference": "published numbers beside ours"}
# Whole-experiment tables to paste into a paper, under the report's tables/.
EXPORTS = {"summary.tex": "LaTeX tables (booktabs)", "summary.md": "Markdown tables"}
DYNAMIC_TABLE = {"selections": "dynamic methods' selections per run"}
CREST_TABLE = {"crest_selection": "CREST selections per run"}
SCORE_TABLE = {"score_correlation": "Spearman correlation of scores"}


def crest_configured(config: dict) -> bool:
    """Whether any configured method (or variant) runs CREST."""
    return any(base_method(m, config) == "crest" for m in config["methods"])


def dynamic_methods(config: dict) -> list[str]:
    """The configured methods (or variants) that select during training."""
    return [m for m in config["methods"]
            if getattr(METHODS.get(base_method(m, config)), "kind", "") == "dynamic"]


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
    """The figures and tables of every dataset, given what the config runs and scores."""
    figures, tables = dict(FIGURES), dict(TABLES)
    if dynamic_methods(config):
        figures.update(DYNAMIC_FIGURE)
        tables.update(DYNAMIC_TABLE)
    if crest_configured(config):
        figures.update(CREST_FIGURE)
        tables.update(CREST_TABLE)
    scores = ExperimentPlan(config).produced_scores()
    if scores:
        figures["score_distributions"] = SCORE_FIGURES["score_distributions"]
    if len(scores) >= 2:
        figures["score_correlation"] = SCORE_FIGURES["score_correlation"]
        tables.update(SCORE_TABLE)
    files = []
    for dataset in config["datasets"]:
        files += [ReportFile("figure", dataset, name, label, f"{name}.rst")
                  for name, label in figures.items()]
        files += [ReportFile("table", dataset, name, label, f"table_{name}.rst")
                  for name, label in tables.items()]
        if any(ref["dataset"] == dataset for ref in config.get("reference_results") or []):
            files += [ReportFile("table", dataset, name, label, f"table_{name}.rst")
                      for name, label in REFERENCE_TABLE.items()]
    files += [ReportFile("export", "", name, label, f"export_{name.replace('.', '_')}.rst")
              for name, label in EXPORTS.items()]
    return files

