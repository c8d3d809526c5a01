# Stage 1: build each dataset once in the prepared format (results/data/<dataset>/).


localrules:
    prepare_dataset,


rule prepare_dataset:
    output:
        multiext(f"{DATA}/", *PREPARED_FILES),
    params:
        options=dataset_options,
        out=DATA,
    conda:
        CONDA_ENV
    log:
        "logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    shell:
        "prunebench prepare --dataset {wildcards.dataset} --options {params.options:q}"
        " --out {params.out} > {log} 2>&1"
