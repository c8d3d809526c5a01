# Stage 2: proxy runs (full-data training that saves per-example scores and its model states),
# scores computed later from those states, then seed means.
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


# A score of proxy.scores outside TRAINED_SCORES (prunebench.methods), from the model state a
# proxy run saved: adding one to an experiment runs this per proxy run and trains nothing.
rule score_proxy:
    input:
        data=proxy_prepared_inputs,
        state=proxy_state_input,
        metrics=f"{paths.PROXY}/metrics.json",
    output:
        array=f"{paths.PROXY}/{{array}}.npy",
        cost=f"{paths.PROXY}/{{array}}.cost.json",
    log:
        paths.PROXY_SCORE_LOG,
    benchmark:
        paths.PROXY_SCORE_BENCHMARK
    wildcard_constraints:
        array=STATE_ARRAYS,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        spec=proxy_spec,
        data=proxy_data_dir,
        score=state_score,
    shell:
        "prunebench proxy-score --data {params.data} --spec {params.spec:q}"
        " --score {params.score} --state {input.state} --proxy-metrics {input.metrics}"
        " --out {output.array} --cost-out {output.cost} --threads {threads} > {log} 2>&1"


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
