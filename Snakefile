# prunebench: prepare -> score (proxy runs) -> select -> train -> aggregate -> report.
# Wiring only: the science is in config.yaml, the code in src/prunebench (the `prunebench` CLI).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"


# After common.smk has validated the config: online W&B logging needs the key in every job.
if config["wandb"]["mode"] == "online":

    envvars:
        "WANDB_API_KEY",


include: "workflow/rules/data.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        paths.summary_file(EXPERIMENT),
        f"{paths.report_dir(EXPERIMENT)}/index.html",
