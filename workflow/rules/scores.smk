# Stage 2: proxy runs (full-data training that saves per-example scores), then seed means.
# Both live in a store shared by every experiment, keyed by (prepared data, model, a digest of
# the training recipe and proxy settings, seed): an experiment that differs only in methods,
# fractions or seeds trains no proxy; each experiment's summary is still charged their cost.


rule train_proxy:
    input:
        proxy_prepared_inputs,
    output:
        expand(f"{paths.PROXY}/{{file}}", file=PLAN.proxy_files(), allow_missing=True),
    log:
        paths.PROXY_LOG,
    benchmark:
        paths.PROXY_BENCHMARK
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=proxy_mem_mb,
        runtime=proxy_runtime,
    params:
        spec=proxy_spec,
        data=proxy_data_dir,
        out=proxy_out,
    shell:
        "prunebench proxy --data {params.data} --spec {params.spec:q}"
        " --seed {wildcards.seed} --out {params.out} --threads {threads} > {log} 2>&1"


rule mean_scores:
    input:
        proxy_score_inputs,
    output:
        paths.SCORE,
    log:
        paths.MEAN_SCORES_LOG,
    benchmark:
        paths.MEAN_SCORES_BENCHMARK
    conda:
        CONDA_ENV
    shell:
        "prunebench mean-scores --inputs {input} --out {output} > {log} 2>&1"
