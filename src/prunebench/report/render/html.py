"""The self-contained HTML report (results/{exp}/report/index.html) and, next to it, every
output `layout.report_files` declares: each dataset's figures (.svg) and tables (.csv) and the
exports under tables/ (the files `snakemake --report` collects).

Figures are embedded in the page as base64 `data:image/svg+xml` images, so the page needs no
network, no script and no other file; each SVG stays isolated (no clashing element ids).
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from ... import __version__
from ...atomic import write_text
from ...errors import UserError
from ...hardware import cpu_model
from ...paths import PLAN_NAME
from ...plan import ExperimentPlan
from ...proxies import DEFAULT_PROXY
from ..analysis.prediction import prediction_error_rows, prediction_source
from ..read.aggregate import MISSING_COLUMNS, read_aggregate_csv
from ..read.plan_csv import read_plan_csv, with_run_actuals
from ..read.progress import progress
from ..read.scores import read_scores
from . import producers
from .layout import EXPORTS, configured, report_files
from .sections import dataset_section

RUN_COLUMNS = ["method", "fraction", "seed", "test_acc", "time_scoring", "time_selection",
               "time_training", "time_evaluation", "time_total", "steps", "full_steps",
               "examples_seen", "n_used", "device", "threads"]
PACKAGES = ["numpy", "pandas", "matplotlib", "jinja2", "snakemake", "scikit-learn"]


def config_digest(config: dict) -> str:
    """sha256 of the resolved config (validated, defaults filled) as sorted-key JSON."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _versions(summary: pd.DataFrame) -> dict:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    runs = {column: sorted(summary[column].dropna().astype(str).unique())
            for column in ("device", "hardware", "threads", "torch", "python") if column in summary}
    report_side = {"prunebench": __version__, "python": platform.python_version(),
                   **{p: version(p) for p in PACKAGES}}
    return {"runs": runs, "report": report_side,
            "machine": f"{platform.platform()} ({platform.machine()}, {cpu_model()})"}


def _exports(config: dict, sections: dict) -> dict[str, str]:
    """The declared exports (summary.tex, summary.md): every dataset's method table."""
    return {output.name: getattr(producers, output.producer)(config, list(sections.values()))
            for output in EXPORTS}


def proxy_provenance(summary: pd.DataFrame, experiment: str) -> str:
    """One sentence on where the scores' proxy runs came from (a store shared by experiments)
    and that their cost is charged here in full; empty when no run used a score."""
    if "proxies_trained_for" not in summary:
        return ""
    owners = {who for cell in summary.proxies_trained_for.dropna() for who in str(cell).split("+")
              if who}
    if not owners:
        return ""
    others = sorted(owners - {experiment})
    text = ("The score methods' proxy runs come from the store shared by experiments "
            "(results/proxy/); their full cost is charged to this experiment's scoring times")
    if others:
        text += (", including proxy runs trained for experiment " + ", ".join(others) +
                 " and reused here")
    return text + "."


def _proxy_scores(plan: ExperimentPlan) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """proxy name -> dataset -> score -> its mean score array (the files that exist)."""
    return {name: read_scores({(d, s): plan.score_file(d, s, name) for d in plan.datasets
                               for s in plan.produced_scores(name)})
            for name in plan.proxy_names()}


def _write_files(out_dir: Path, config: dict, sections: dict, exports: dict) -> list[dict]:
    """Write every declared figure/table/export; returns what was written, for the index."""
    written = []
    for entry in report_files(config):
        if entry.kind == "export":
            content = exports[entry.name]
        else:
            section = sections[entry.dataset]
            content = (section.figures if entry.kind == "figure" else section.tables)[entry.name]
        write_text(out_dir / entry.path, content)
        written.append({"kind": entry.kind, "dataset": entry.dataset, "path": entry.path,
                        "label": entry.label})
    return written


def render_report(summary_csv, template, out, config: dict, *, missing_csv=None,
                  score_paths: dict | None = None) -> Path:
    """Read summary.csv, missing.csv and the score files, build every dataset's section, write
    the declared figures, tables and exports next to `out` and render `template` (Jinja2)
    into `out`."""
    summary = read_aggregate_csv(summary_csv, "summary")
    missing = read_aggregate_csv(missing_csv, "missing-runs list", MISSING_COLUMNS)
    plan = ExperimentPlan(config)
    produced = plan.produced_scores(DEFAULT_PROXY)
    if score_paths is None:  # the mean score files the workflow builds for this experiment
        score_paths = {(d, s): plan.score_file(d, s) for d in config["datasets"]
                       for s in dict.fromkeys([*produced, *plan.detection_scores(d)])}
    scores = read_scores(score_paths)
    proxy_scores = _proxy_scores(plan) if len(plan.proxy_names()) >= 2 else {}
    runs = configured(config)
    sections = {}
    for name, section in progress(list(config["datasets"].items()), desc="report",
                                  unit="dataset"):
        sections[name] = dataset_section(
            name, section["model"], summary, scores.get(name, {}), config, runs[name],
            plan.data_dir(name), {proxy: found.get(name, {})
                                  for proxy, found in proxy_scores.items()})
    out = Path(out)
    exports = _exports(config, sections)
    written = _write_files(out.parent, config, sections, exports)
    template = Path(template)
    env = Environment(loader=FileSystemLoader(template.parent), autoescape=True,
                      undefined=StrictUndefined)
    env.filters["data_uri"] = svg_data_uri
    try:
        page = env.get_template(template.name)
    except TemplateNotFound as exc:
        raise UserError(f"report template {template} not found; run from the repository root "
                        "or pass --template reports/summary.html.j2") from exc
    shown = [c for c in RUN_COLUMNS if c in summary.columns]
    # `prunebench plan`'s record, beside the summary: the prediction against what ran
    planned = read_plan_csv(Path(summary_csv).with_name(PLAN_NAME))
    if planned is not None:
        planned = with_run_actuals(planned, summary)
    html = page.render(
        experiment=config["experiment"], protocol=config["protocol"],
        config_json=json.dumps(config, indent=2, sort_keys=True), digest=config_digest(config),
        versions=_versions(summary), sections=list(sections.values()),
        missing=missing.fillna("").to_dict("records"), n_runs=len(summary),
        missing_scores=[str(p) for p in score_paths.values() if not Path(p).exists()],
        written=written, exports=exports,
        proxies=proxy_provenance(summary, config["experiment"]),
        run_columns=shown, runs=summary[shown].to_dict("records") if len(summary) else [],
        prediction=prediction_error_rows(planned), prediction_source=prediction_source(planned),
    )
    write_text(out, html)
    return out
