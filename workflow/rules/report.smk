# Stage 5: one summary.csv row per run, then the HTML report.


localrules:
    aggregate,
    report,


rule aggregate:
    input:
        runs=all_run_metrics(),
        proxies=all_proxy_metrics(),
    output:
        f"{RESULTS}/summary.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    shell:
        "prunebench aggregate --runs {input.runs} --proxies {input.proxies}"
        " --out {output} > {log} 2>&1"


rule report:
    input:
        summary=f"{RESULTS}/summary.csv",
        template=workflow.source_path("../../reports/summary.html.j2"),
    output:
        f"{RESULTS}/report/index.html",
    params:
        settings=report_settings(),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    shell:
        "prunebench report --summary {input.summary} --template {input.template}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"
