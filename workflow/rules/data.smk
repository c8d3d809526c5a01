# Stage 1: build each dataset once in the prepared format, in a folder named by the dataset and
# a digest of its preparation options (results/data/<dataset>-<digest>/), so experiments with
# other options never overwrite it. Real sources (cifar10, cifar100, tinyimagenet, snli) read
# their raw files from resources/<dataset>/, downloading them there when absent. A local rule:
# on a cluster it runs where the workflow runs (the login node, which has network).
# A dataset with the label_noise option is built by prepare_noisy_dataset: the same command,
# with the clean labels and the mask of flipped ones declared beside the arrays.


localrules:
    prepare_dataset,
    prepare_noisy_dataset,


rule prepare_dataset:
    output:
        multiext(f"{paths.DATA}/", *paths.PREPARED_FILES),
    log:
        paths.PREPARE_LOG,
    benchmark:
        paths.PREPARE_BENCHMARK
    wildcard_constraints:
        data=data_keys(noisy=False),
    conda:
        CONDA_ENV
    params:
        dataset=data_name,
        options=data_options,
    shell:
        "prunebench prepare --dataset {params.dataset} --options {params.options:q}"
        f" --out {paths.fill(paths.DATA, data='{wildcards.data}')} > {{log}} 2>&1"


use rule prepare_dataset as prepare_noisy_dataset with:
    output:
        multiext(f"{paths.DATA}/", *paths.PREPARED_FILES, *paths.LABEL_NOISE_FILES),
    wildcard_constraints:
        data=data_keys(noisy=True),
