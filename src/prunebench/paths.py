"""Every results path, in one place: the workflow (`workflow/rules/common.smk`) and the report
import this module, and nothing parses a path back to recover a value.

A result's identity is its science, so the layout keys each stage by what shapes it:
- prepared data by the dataset and a digest of its preparation options (two experiments with
  other options never write the same folder; two with the same options share it);
- proxy runs and mean scores by (prepared data, model, a digest of the training recipe and the
  proxy settings, seed), not by experiment, so experiments share them;
- subsets, runs and the summary by experiment, dataset, method (or variant), fraction, seed.

Templates keep `{name}` fields for Snakemake wildcards; `fill()` formats some of them and
leaves the rest. Torch-free, snakemake-free.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .methods import TRAINED_SCORES
from .ops import OPERATIONAL_DATA_OPTIONS, PROXY_SECTION, operational_keys

RESULTS = "results"
PREPARED_FILES = ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "meta.json")
# beside them when the dataset has the label_noise option (declared only then, so prepared
# data without label noise keeps the outputs it always had)
LABEL_NOISE_FILES = ("train_y_clean.npy", "train_noisy.npy")

DATA = f"{RESULTS}/data/{{data}}"
PROXY = f"{RESULTS}/proxy/{{data}}/{{model}}/{{proxy}}/seed{{seed}}"
SCORE = f"{RESULTS}/scores/{{data}}/{{model}}/{{proxy}}/seeds{{proxy_seeds}}/{{score}}.npy"
EXPERIMENT = f"{RESULTS}/{{experiment}}"
SUBSET = f"{EXPERIMENT}/subsets/{{dataset}}/{{method}}/f{{fraction}}/seed{{seed}}"
RUN = f"{EXPERIMENT}/runs/{{dataset}}/{{method}}/f{{fraction}}/seed{{seed}}"
SUMMARY = f"{EXPERIMENT}/summary.csv"
MISSING_NAME = "missing.csv"  # beside the summary it goes with
MISSING = f"{EXPERIMENT}/{MISSING_NAME}"
REPORT = f"{EXPERIMENT}/report"
# `prunebench plan`: each job's predicted seconds (and actual, once it ran); the report reads it
PLAN_NAME = "plan.csv"  # beside the summary
PLAN_FILE = f"{EXPERIMENT}/{PLAN_NAME}"

# Each job's log and Snakemake benchmark (its wall time as Snakemake measured it). Jobs of the
# shared stores (prepared data, proxies, mean scores) log outside any experiment.
LOGS = "logs/{experiment}"
SHARED_LOGS = "logs"
BENCHMARKS = f"{EXPERIMENT}/benchmarks"
SHARED_BENCHMARKS = f"{RESULTS}/benchmarks"
_RUN_PATH = "{dataset}/{method}/f{fraction}/seed{seed}"
_PROXY_PATH = "{data}/{model}/{proxy}/seed{seed}"
_SCORE_PATH = "{data}/{model}/{proxy}/seeds{proxy_seeds}/{score}"
PROXY_SCORE_LOG = f"{SHARED_LOGS}/score_proxy/{_PROXY_PATH}/{{array}}.log"
PROXY_SCORE_BENCHMARK = f"{SHARED_BENCHMARKS}/score_proxy/{_PROXY_PATH}/{{array}}.tsv"
PREPARE_LOG = f"{SHARED_LOGS}/prepare_dataset/{{data}}.log"
PREPARE_BENCHMARK = f"{SHARED_BENCHMARKS}/prepare_dataset/{{data}}.tsv"
PROXY_LOG = f"{SHARED_LOGS}/train_proxy/{_PROXY_PATH}.log"
PROXY_BENCHMARK = f"{SHARED_BENCHMARKS}/train_proxy/{_PROXY_PATH}.tsv"
MEAN_SCORES_LOG = f"{SHARED_LOGS}/mean_scores/{_SCORE_PATH}.log"
MEAN_SCORES_BENCHMARK = f"{SHARED_BENCHMARKS}/mean_scores/{_SCORE_PATH}.tsv"
SELECT_LOG = f"{LOGS}/select_subset/{_RUN_PATH}.log"
SELECT_BENCHMARK = f"{BENCHMARKS}/select_subset/{_RUN_PATH}.tsv"
TRAIN_LOG = f"{LOGS}/train/{_RUN_PATH}.log"
TRAIN_BENCHMARK = f"{BENCHMARKS}/train/{_RUN_PATH}.tsv"
AGGREGATE_LOG = f"{LOGS}/aggregate.log"
AGGREGATE_BENCHMARK = f"{BENCHMARKS}/aggregate.tsv"
REPORT_LOG = f"{LOGS}/report.log"
REPORT_BENCHMARK = f"{BENCHMARKS}/report.tsv"

# Files every training run writes (selections.csv and selected.npz are empty for methods that
# make no selections inside training, so every run declares the same outputs).
RUN_FILES = ("metrics.json", "history.csv", "selections.csv", "selected.npz")
MAX_FRACTION_DECIMALS = 4


def fill(template: str, **values) -> str:
    """Format the named fields of `template`, leaving the others as `{name}` wildcards."""
    def replace(match: re.Match) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return re.sub(r"\{(\w+)\}", replace, template)


def digest(obj, length: int = 8) -> str:
    """A short, stable digest of a JSON-serialisable object (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fraction_label(value: float) -> str:
    """The fraction as paths write it (0.3 -> '0.3', 1.0 -> '1'); exact for the at most
    MAX_FRACTION_DECIMALS decimals the config allows."""
    return f"{float(value):.{MAX_FRACTION_DECIMALS}f}".rstrip("0").rstrip(".")


def data_options(options: dict) -> dict:
    """The preparation options that shape the data (operational ones removed)."""
    return {k: v for k, v in sorted(options.items()) if k not in OPERATIONAL_DATA_OPTIONS}


def data_key(loader: str, options: dict) -> str:
    """'mnist1d-1a2b3c4d': the prepared folder's name, keyed by what shapes the data (the
    loader, not the dataset entry's name: entries with the same loader and options share it)."""
    return f"{loader}-{digest(data_options(options))}"


def recipe(section: dict) -> dict:
    """A dataset section's training recipe: everything but the preparation options and the
    loader (both in the data key already)."""
    return {k: v for k, v in sorted(section.items()) if k not in ("options", "loader")}


# Keys a proxy may set to train with a recipe of its own (absent: the dataset's). `epochs` is
# not one: in a proxy section it is how many epochs the proxy trains, on the schedule of the
# recipe's epochs.
PROXY_RECIPE_KEYS = ("model", "batch_size", "lr", "momentum", "nesterov", "weight_decay",
                     "schedule", "warmup_epochs", "milestones", "gamma", "augment",
                     "eval_batch_size")


def proxy_recipe(section: dict, proxy: dict) -> dict:
    """The recipe a proxy trains with: the dataset's, overridden by the proxy's own keys."""
    own = {k: v for k, v in proxy.items() if k in PROXY_RECIPE_KEYS}
    return dict(sorted({**recipe(section), **own}.items()))


def proxy_science(proxy: dict) -> dict:
    """The proxy settings a proxy run's numbers depend on besides its recipe (not the number of
    seeds: each seed is its own run, and the mean's folder names how many it averages).
    `scores` is what the run computes while it trains, always TRAINED_SCORES: the config's
    list only says which arrays an experiment wants, and those outside TRAINED_SCORES come from
    the run's saved states, so adding one keeps the run (and its key)."""
    science = {k: v for k, v in sorted(proxy.items())
               if k not in operational_keys(PROXY_SECTION) and k != "seeds"
               and k not in PROXY_RECIPE_KEYS}
    science["scores"] = list(TRAINED_SCORES)
    return science


def proxy_key(section: dict, proxy: dict) -> str:
    """Digest of what a proxy run's numbers depend on besides its data, model and seed: its
    recipe (the dataset's unless the proxy sets its own keys, so a proxy without any keeps the
    key it always had) and its settings."""
    return digest({"recipe": proxy_recipe(section, proxy), "proxy": proxy_science(proxy)})


def state_cost_file(array_stem: str) -> str:
    """The cost record beside an array computed from a proxy run's saved state."""
    return f"{array_stem}.cost.json"


def run_dir(experiment: str, dataset: str, method: str, fraction: float, seed: int) -> str:
    return fill(RUN, experiment=experiment, dataset=dataset, method=method,
                fraction=fraction_label(fraction), seed=seed)


def train_benchmark(experiment: str, dataset: str, method: str, fraction: float,
                    seed: int) -> str:
    """The Snakemake benchmark TSV of a training job (its wall time as Snakemake measured it)."""
    return fill(TRAIN_BENCHMARK, experiment=experiment, dataset=dataset, method=method,
                fraction=fraction_label(fraction), seed=seed)


def subset_file(experiment: str, dataset: str, method: str, fraction: float, seed: int,
                suffix: str = ".npy") -> str:
    return fill(SUBSET, experiment=experiment, dataset=dataset, method=method,
                fraction=fraction_label(fraction), seed=seed) + suffix


def summary_file(experiment: str) -> str:
    return fill(SUMMARY, experiment=experiment)


def missing_file(experiment: str) -> str:
    return fill(MISSING, experiment=experiment)


def missing_beside(summary) -> str:
    """The missing.csv that goes with a summary.csv: in the same folder."""
    return str(Path(summary).with_name(MISSING_NAME))


def plan_file(experiment: str) -> str:
    return fill(PLAN_FILE, experiment=experiment)


def report_dir(experiment: str) -> str:
    return fill(REPORT, experiment=experiment)


# `prunebench export`: one Parquet file per dataset, per-example scores and subsets
EXPORT = f"{EXPERIMENT}/export/{{dataset}}.parquet"


def export_file(experiment: str, dataset: str) -> str:
    return fill(EXPORT, experiment=experiment, dataset=dataset)
