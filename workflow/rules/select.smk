# Stage 3: static selection, scores -> sorted subset indices (+ a JSON record with its timing).


rule select_subset:
    input:
        labels=f"{DATA}/train_y.npy",
        scores=subset_score_input,
    output:
        indices=f"{SUBSET}.npy",
        record=f"{SUBSET}.json",
    params:
        selector=selector_of,
        options=selector_options_json,
        scores=scores_flag,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/select_subset/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}.log",
    benchmark:
        f"{BENCH}/select_subset/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}.tsv"
    shell:
        "prunebench select --labels {input.labels} {params.scores} --selector {params.selector}"
        " --fraction {wildcards.fraction} --seed {wildcards.seed}"
        " --options {params.options:q} --out {output.indices} > {log} 2>&1"
