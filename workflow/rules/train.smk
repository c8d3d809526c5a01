# Stage 4: train every (dataset, method, fraction, seed) run, `full` included, under the protocol.
# Every run writes the same files; selections.csv and selected.npz are empty for methods that
# make no selection inside training.


rule train:
    input:
        unpack(train_inputs),
    output:
        **{name.replace(".", "_"): f"{RUN}/{name}" for name in paths.RUN_FILES},
    log:
        in_experiment(paths.TRAIN_LOG),
    benchmark:
        in_experiment(paths.TRAIN_BENCHMARK)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        spec=train_spec,
        data=data_dir_of,
        out=run_dir_of,
        subset=subset_flag,
    shell:
        "prunebench train --data {params.data} --spec {params.spec:q}"
        " --seed {wildcards.seed} {params.subset} --out {params.out} --threads {threads}"
        " > {log} 2>&1"
