# Stage 2: proxy runs (full-data training that saves per-example scores), then seed means.


rule train_proxy:
    input:
        prepared_inputs,
    output:
        arrays=expand(f"{PROXY}/{{file}}", file=PROXY_FILES, allow_missing=True),
        metrics=f"{PROXY}/metrics.json",
        history=f"{PROXY}/history.csv",
    params:
        spec=proxy_spec,
        data=DATA,
        out=PROXY,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train_proxy/{{dataset}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train_proxy/{{dataset}}/{{model}}/seed{{seed}}.tsv"
    shell:
        "prunebench proxy --data {params.data} --spec {params.spec:q} --seed {wildcards.seed}"
        " --out {params.out} --threads {threads} > {log} 2>&1"


rule mean_scores:
    input:
        proxy_score_inputs,
    output:
        f"{RESULTS}/scores/{{dataset}}/{{model}}/{{score}}.npy",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/mean_scores/{{dataset}}/{{model}}/{{score}}.log",
    benchmark:
        f"{BENCH}/mean_scores/{{dataset}}/{{model}}/{{score}}.tsv"
    shell:
        "prunebench mean-scores --inputs {input} --out {output} > {log} 2>&1"
