"""Where an experiment's results live, derived from its validated config.

The runs and proxy runs the workflow expects, the score files it produces, and the figures and
tables the report writes. Plain data (no pandas, no matplotlib): `workflow/rules/report.smk`
imports it to declare the report rule's outputs, and the `report` command writes exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..methods import method_fractions, method_score

# Figures every dataset gets, then the optional ones; the value is the label shown in reports.
FIGURES = {
    "accuracy_vs_fraction": "accuracy vs fraction",
    "accuracy_vs_time": "accuracy vs wall time",
    "phase_time": "time per phase",
    "learning_curves": "learning curves",
    "time_to_accuracy": "time to accuracy",
}
CREST_FIGURE = {"crest_selection": "CREST selections"}
SCORE_FIGURES = {"score_distributions": "score distributions",
                 "score_correlation": "score rank correlation"}
TABLES = {"methods": "methods by fraction", "time_to_accuracy": "time to accuracy",
          "differences": "differences with 95% intervals",
          "frontier": "cost-accuracy Pareto frontier"}
REFERENCE_TABLE = {"reference": "published numbers beside ours"}
# Whole-experiment tables to paste into a paper, under the report's tables/.
EXPORTS = {"summary.tex": "LaTeX tables (booktabs)", "summary.md": "Markdown tables"}
CREST_TABLE = {"crest_selection": "CREST selections per run"}
SCORE_TABLE = {"score_correlation": "Spearman correlation of scores"}


def results_dir(config: dict) -> str:
    return f"results/{config['experiment']}"


def fraction_label(value: float) -> str:
    """The fraction as it appears in paths: 0.3 -> '0.3', 1.0 -> '1'."""
    return f"{float(value):g}"


def expected_run_dirs(config: dict) -> list[str]:
    """Every training run the config asks for (the same list the workflow's DAG builds)."""
    root = results_dir(config)
    return [f"{root}/runs/{dataset}/{section['model']}/{method}/f{fraction_label(fraction)}"
            f"/seed{seed}"
            for dataset, section in config["datasets"].items()
            for method in config["methods"]
            for fraction in method_fractions(method, config["fractions"])
            for seed in config["seeds"]]


def produced_scores(config: dict) -> list[str]:
    """Mean score files the workflow builds: only those a configured method ranks by."""
    scores = {method_score(method, config) for method in config["methods"]}
    return sorted(score for score in scores if score)


def expected_proxy_metrics(config: dict) -> list[str]:
    if not produced_scores(config):
        return []
    root = results_dir(config)
    return [f"{root}/proxy/{dataset}/{section['model']}/seed{seed}/metrics.json"
            for dataset, section in config["datasets"].items()
            for seed in range(config["proxy"]["seeds"])]


def expected_score_files(config: dict) -> list[str]:
    root = results_dir(config)
    return [f"{root}/scores/{dataset}/{section['model']}/{score}.npy"
            for dataset, section in config["datasets"].items()
            for score in produced_scores(config)]


def crest_configured(config: dict) -> bool:
    return "crest" in config["methods"]


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
    if crest_configured(config):
        figures.update(CREST_FIGURE)
        tables.update(CREST_TABLE)
    scores = produced_scores(config)
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

