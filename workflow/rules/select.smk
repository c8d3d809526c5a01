# Stage 3: static selection, scores (or embeddings) -> sorted subset indices + a JSON record
# with its timing, which the train job reads (a declared input) and charges to the run.


rule select_subset:
    input:
        unpack(subset_inputs),
    output:
        indices=f"{SUBSET}.npy",
        record=f"{SUBSET}.json",
    log:
        in_experiment(paths.SELECT_LOG),
    benchmark:
        in_experiment(paths.SELECT_BENCHMARK)
    conda:
        CONDA_ENV
    params:
        spec=select_spec,
        values=values_flag,
    shell:
        "prunebench select --labels {input.labels} {params.values} --spec {params.spec:q}"
        " --seed {wildcards.seed} --out {output.indices} > {log} 2>&1"
