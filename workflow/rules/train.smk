# Stage 4: train every (dataset, method, fraction, seed) run, `full` included, under the protocol.


rule train:
    input:
        unpack(train_inputs),
    output:
        metrics=f"{RUN}/metrics.json",
        history=f"{RUN}/history.csv",
    params:
        spec=train_spec,
        data=DATA,
        out=RUN,
        subset=subset_flag,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}.tsv"
    shell:
        "prunebench train --data {params.data} --spec {params.spec:q} --method {wildcards.method}"
        " --fraction {wildcards.fraction} --seed {wildcards.seed} {params.subset}"
        " --out {params.out} --threads {threads} > {log} 2>&1"
