# Stage 3: static selection, scores (or embeddings) -> sorted subset indices + a JSON record
# with its timing, which the train job reads (a declared input) and charges to the run.


rule select_subset:
    input:
        unpack(subset_inputs),
    output:
        indices=f"{SUBSET}.npy",
        record=f"{SUBSET}.json",
    log:
        f"{LOGS}/select_subset/{{dataset}}/{{method}}/f{{fraction}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/select_subset/{{dataset}}/{{method}}/f{{fraction}}/seed{{seed}}.tsv"
    conda:
        CONDA_ENV
    params:
        spec=select_spec,
        values=values_flag,
    shell:
        "prunebench select --labels {input.labels} {params.values} --spec {params.spec:q}"
        " --seed {wildcards.seed} --out {output.indices} > {log} 2>&1"
