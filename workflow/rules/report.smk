# Stage 5: one summary.csv row per run (missing.csv lists absent ones), then the HTML report
# with its figures and tables, each registered for `snakemake --report report.html`.
# The DAG requires every run; to report on what exists after `snakemake --keep-going`, run
# `prunebench aggregate --config <config> --allow-missing` and `prunebench report --config <config>`.
from prunebench.report.layout import produced_scores, report_files


localrules:
    aggregate,
    report,


REPORT = f"{RESULTS}/report"
CAPTIONS = "../../reports/captions"


# Every figure and table the report writes, registered for `snakemake --report`; the
# exports (summary.tex, summary.md: every dataset in one file) go under "Summary".
REPORT_FILES = {
    entry.key: report(
        f"{REPORT}/{entry.path}",
        caption=f"{CAPTIONS}/{entry.caption}",
        category=entry.dataset or "Summary",
        subcategory=f"{entry.kind}s" if entry.dataset else None,
        labels=(
            {"dataset": entry.dataset, entry.kind: entry.label}
            if entry.dataset
            else {"table": entry.label}
        ),
    )
    for entry in report_files(config)
}
# The mean score files the DAG builds (those a configured method ranks by).
REPORT_SCORES = [
    score_file(dataset, section["model"], score)
    for dataset, section in config["datasets"].items()
    for score in produced_scores(config)
]
RUN_HISTORIES = [path.replace("metrics.json", "history.csv") for path in all_run_metrics()]


rule aggregate:
    input:
        runs=all_run_metrics(),
        proxies=all_proxy_metrics(),
    output:
        summary=report(
            f"{RESULTS}/summary.csv",
            caption=f"{CAPTIONS}/summary.rst",
            category="Summary",
            labels={"table": "every run"},
        ),
        missing=f"{RESULTS}/missing.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    shell:
        "prunebench aggregate --runs {input.runs} --proxies {input.proxies}"
        " --out {output.summary} --missing-out {output.missing} > {log} 2>&1"


rule report:
    input:
        summary=f"{RESULTS}/summary.csv",
        missing=f"{RESULTS}/missing.csv",
        histories=RUN_HISTORIES,
        scores=REPORT_SCORES,
        template=workflow.source_path("../../reports/summary.html.j2"),
    output:
        html=report(
            f"{REPORT}/index.html",
            caption=f"{CAPTIONS}/index.rst",
            category="Summary",
            labels={"table": "prunebench report (self-contained page)"},
        ),
        **REPORT_FILES,
    params:
        settings=report_settings(),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    shell:
        "prunebench report --summary {input.summary} --missing {input.missing}"
        " --scores {input.scores} --template {input.template}"
        " --settings {params.settings:q} --out {output.html} > {log} 2>&1"
