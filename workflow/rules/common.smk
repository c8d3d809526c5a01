# Config validation, wildcard constraints and the input/param functions every rule uses.
import json
import sys

from prunebench.config import load_schema, validate_config
from prunebench.errors import UserError
from prunebench.methods import (
    METHODS,
    method_fractions,
    method_score,
    proxy_array_file,
    sampler_options,
    selector_options,
)

try:
    _validated = validate_config(
        config, load_schema(workflow.source_path("../schemas/config.schema.yaml"))
    )
except UserError as _error:
    sys.exit(f"prunebench: {_error}")
config.clear()
config.update(_validated)

EXPERIMENT = config["experiment"]
RESULTS = f"results/{EXPERIMENT}"
LOGS = f"logs/{EXPERIMENT}"
BENCH = f"{RESULTS}/benchmarks"
PROXY = f"{RESULTS}/proxy/{{dataset}}/{{model}}/seed{{seed}}"
RUN = f"{RESULTS}/runs/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}"
SUBSET = f"{RESULTS}/subsets/{{dataset}}/{{model}}/{{method}}/f{{fraction}}/seed{{seed}}"
CONDA_ENV = "../../envs/prunebench.yaml"
DATA = "results/data/{dataset}"
PREPARED_FILES = ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json"]
PROXY_FILES = [
    proxy_array_file(score, config["proxy"]["score_epoch"]) for score in config["proxy"]["scores"]
]


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model="[A-Za-z0-9_]+",
    method="[A-Za-z0-9_]+",
    fraction="[0-9.]+",
    seed="[0-9]+",
    score="[A-Za-z0-9_]+",


def fmt_fraction(value):
    """The fraction as it appears in paths: 0.3 -> '0.3', 1.0 -> '1'."""
    return f"{float(value):g}"


def _as_json(obj):
    return json.dumps(obj, sort_keys=True)


def training_section(dataset):
    return {k: v for k, v in config["datasets"][dataset].items() if k != "options"}


def dataset_options(wildcards):
    return _as_json(config["datasets"][wildcards.dataset]["options"])


def prepared_inputs(wildcards):
    return [f"results/data/{wildcards.dataset}/{name}" for name in PREPARED_FILES]


def proxy_spec(wildcards):
    return _as_json({
        "experiment": EXPERIMENT, "dataset": wildcards.dataset, "device": config["device"],
        "training": training_section(wildcards.dataset), "proxy": config["proxy"],
        "checkpoint_every": config["checkpoint_every"], "wandb": config["wandb"],
        "speed": config["speed"],
    })


def train_spec(wildcards):
    return _as_json({
        "experiment": EXPERIMENT, "dataset": wildcards.dataset, "device": config["device"],
        "protocol": config["protocol"], "training": training_section(wildcards.dataset),
        "sampler_options": sampler_options(wildcards.method, config),
        "checkpoint_every": config["checkpoint_every"], "wandb": config["wandb"],
        "speed": config["speed"],
    })


def score_file(dataset, model, score):
    return f"{RESULTS}/scores/{dataset}/{model}/{score}.npy"


def proxy_score_inputs(wildcards):
    name = proxy_array_file(wildcards.score, config["proxy"]["score_epoch"])
    return expand(
        f"{RESULTS}/proxy/{wildcards.dataset}/{wildcards.model}/seed{{seed}}/{name}",
        seed=range(config["proxy"]["seeds"]),
    )


def subset_score_input(wildcards):
    score = method_score(wildcards.method, config)
    return [score_file(wildcards.dataset, wildcards.model, score)] if score else []


def selector_of(wildcards):
    return METHODS[wildcards.method]["selector"]


def selector_options_json(wildcards):
    return _as_json(selector_options(wildcards.method, config))


def scores_flag(wildcards, input):
    return f"--scores {input.scores}" if input.scores else ""


def train_inputs(wildcards):
    inputs = {"data": prepared_inputs(wildcards)}
    if METHODS[wildcards.method]["kind"] == "static":
        inputs["subset"] = f"{SUBSET}.npy".format(**wildcards)
    return inputs


def subset_flag(wildcards, input):
    if "subset" not in input.keys():
        return ""
    score = method_score(wildcards.method, config)
    return f"--subset {input.subset}" + (f" --score {score}" if score else "")


def run_fractions(method):
    return method_fractions(method, config["fractions"])


def all_run_metrics():
    return [
        f"{RUN}/metrics.json".format(
            dataset=dataset, model=section["model"], method=method,
            fraction=fmt_fraction(fraction), seed=seed,
        )
        for dataset, section in config["datasets"].items()
        for method in config["methods"]
        for fraction in run_fractions(method)
        for seed in config["seeds"]
    ]


def all_proxy_metrics():
    if not any(method_score(m, config) for m in config["methods"]):
        return []
    return [
        f"{PROXY}/metrics.json".format(dataset=dataset, model=section["model"], seed=seed)
        for dataset, section in config["datasets"].items()
        for seed in range(config["proxy"]["seeds"])
    ]


def report_settings():
    return _as_json(config)
