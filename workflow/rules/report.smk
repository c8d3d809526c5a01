# Stage 5: one summary.csv row per run (missing.csv lists absent ones), then the HTML report
# with its figures and tables, each registered for `snakemake --report report.html`.
# Both commands derive every path from the experiment's science settings (prunebench.plan),
# and every file they read is a declared input here. The DAG requires every run; to report on
# what exists after `snakemake --keep-going`, run `prunebench aggregate --config <config>
# --allow-missing` and `prunebench report --config <config>`.
from prunebench.config import science_settings
from prunebench.report.render.layout import report_files


localrules:
    aggregate,
    report,


REPORT = paths.report_dir(EXPERIMENT)
CAPTIONS = "../../reports/captions"
SETTINGS = json.dumps(science_settings(config), sort_keys=True)


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


rule aggregate:
    input:
        runs=all_run_files("metrics.json"),
        proxies=PLAN.proxy_metrics(),
        data_meta=[f"{PLAN.data_dir(d)}/meta.json" for d in PLAN.datasets],
        label_noise=PLAN.noise_inputs(),
    output:
        summary=report(
            paths.summary_file(EXPERIMENT),
            caption=f"{CAPTIONS}/summary.rst",
            category="Summary",
            labels={"table": "every run"},
        ),
        missing=paths.missing_file(EXPERIMENT),
    log:
        in_experiment(paths.AGGREGATE_LOG),
    benchmark:
        in_experiment(paths.AGGREGATE_BENCHMARK)
    conda:
        CONDA_ENV
    params:
        settings=SETTINGS,
    shell:
        "prunebench aggregate --settings {params.settings:q} > {log} 2>&1"


rule report:
    input:
        summary=paths.summary_file(EXPERIMENT),
        missing=paths.missing_file(EXPERIMENT),
        histories=all_run_files("history.csv"),
        selections=all_run_files("selections.csv"),
        selected=all_run_files("selected.npz"),
        scores=PLAN.score_files(),
        labels=[f"{PLAN.data_dir(d)}/train_y.npy" for d in PLAN.datasets],
        label_noise=PLAN.noise_inputs(),
        template=workflow.source_path("../../reports/summary.html.j2"),
    output:
        **REPORT_FILES,
        html=report(
            f"{REPORT}/index.html",
            caption=f"{CAPTIONS}/index.rst",
            category="Summary",
            labels={"table": "prunebench report (self-contained page)"},
        ),
    log:
        in_experiment(paths.REPORT_LOG),
    benchmark:
        in_experiment(paths.REPORT_BENCHMARK)
    conda:
        CONDA_ENV
    params:
        settings=SETTINGS,
    shell:
        "prunebench report --settings {params.settings:q} --template {input.template}"
        " > {log} 2>&1"
