# Stage 1: build each dataset once in the prepared format (results/data/<dataset>/).
# Real sources (cifar10, cifar100, tinyimagenet, snli) read their raw files from
# resources/<dataset>/ under the working directory, downloading them there when absent. A local
# rule: on a cluster it runs where the workflow runs (the login node, which has network).


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
