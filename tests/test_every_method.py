"""Every registered method, and every variant config.yaml names, run end to end and checked.

The list of methods is read from `prunebench.methods.METHODS` when the tests are collected, so a
method added there is run here without editing this file. One Snakemake run (a session fixture)
trains all of them on scikit-learn's digits (one seed, one fraction, two short epochs, one proxy
seed); each method then gets its own test that reads that run's outputs, found through the
plan (`prunebench.plan` / `prunebench.paths`), never through the CLI's job format.

Checked per run: metrics.json (the run's name, finite test accuracy above chance),
history.csv (one row per epoch); a static method's subset (round(f*N) sorted unique indices
in range, per-class quotas when class-balanced); a dynamic method's selection log
(selections.csv's generic columns first, selected.npz consistent with it row by row).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from prunebench.config import load_schema, validate_config
from prunebench.methods import METHODS, SCORES, base_method, method_options, method_score
from prunebench.plan import ExperimentPlan, Run

from .conftest import ROOT, SCHEMA
from .test_pipeline import snakemake, write_config

VARIANTS = yaml.safe_load((ROOT / "config.yaml").read_text()).get("variants", {})
NAMES = [*METHODS, *VARIANTS]
DATASET, FRACTION, SEED = "digits", 0.5, 0
N_TRAIN, EPOCHS, CLASSES = 1347, 2, 10  # scikit-learn's digits: 1,347 train, 450 test
GENERIC_COLUMNS = ["step", "epoch", "reason", "pool_size", "n_selected", "selection_s"]
# Chance is 10%. Two epochs at f = 0.5 reach 52-70% for every method here (measured), CREST
# 26% (its first budget epoch is the warm-up at lr 0); full and InfoBatch ~94%.
ABOVE_CHANCE = 0.2

# Small settings for the methods whose defaults are sized for real datasets.
SMALL_OPTIONS = {
    "crest": {"subset_size": 60, "num_subsets": 2, "check_interval": 2},
}


def registered(name: str, config: dict):
    """The METHODS entry a method or variant runs."""
    return METHODS[base_method(name, config)]


def needed_scores(config: dict) -> list[str]:
    """Every proxy array the methods read, in SCORES order. Listed explicitly, so the config
    works whether or not the plan adds the scores the methods need by itself."""
    needed = {method_score(name, config) for name in config["methods"]}
    if any(registered(name, config).embeddings for name in config["methods"]):
        needed.add("embeddings")
    return [score for score in SCORES if score in needed]


def tiny_config() -> dict:
    config = {
        "experiment": "every_method", "protocol": "budget", "device": "cpu",
        "datasets": {DATASET: {"model": "digits_cnn", "epochs": EPOCHS, "batch_size": 64,
                               "lr": 0.05}},
        "methods": NAMES, "fractions": [FRACTION], "seeds": [SEED],
        "proxy": {"seeds": 1, "epochs": 2, "score_epoch": 1},
        "options": {name: dict(options) for name, options in SMALL_OPTIONS.items()
                    if name in METHODS},
        "variants": copy.deepcopy(VARIANTS),
    }
    config["proxy"]["scores"] = needed_scores(config)
    return config


def validated(config: dict) -> dict:
    return validate_config(copy.deepcopy(config), load_schema(SCHEMA))


@pytest.fixture(scope="session")
def every_method_run(tmp_path_factory):
    """(workdir, validated config, plan) after one Snakemake run of every method's training."""
    config = tiny_config()
    plan = ExperimentPlan(validated(config))
    workdir = tmp_path_factory.mktemp("every_method")
    targets = [f"{plan.run_dir(run)}/metrics.json" for run in plan.runs()]
    done = snakemake(workdir, write_config(workdir, "every_method", config), *targets)
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir, plan.config, plan


def runs_of(plan: ExperimentPlan, name: str) -> list[Run]:
    runs = [run for run in plan.runs() if run.method == name]
    assert runs, f"the plan schedules no run of {name}"
    return runs


def test_the_tiny_config_lists_every_method_and_variant():
    config = validated(tiny_config())
    assert config["methods"] == list(METHODS) + list(VARIANTS)
    for name in config["methods"]:  # every score a method needs is computed
        score = method_score(name, config)
        assert score is None or score in config["proxy"]["scores"], name


@pytest.mark.parametrize("name", NAMES)
def test_method_runs_end_to_end(every_method_run, name):
    workdir, config, plan = every_method_run
    spec = registered(name, config)
    for run in runs_of(plan, name):
        out = Path(workdir, plan.run_dir(run))
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["method"] == name and metrics["fraction"] == run.fraction
        accuracy = metrics["test_acc"]
        assert math.isfinite(accuracy) and 0 <= accuracy <= 1
        assert accuracy > ABOVE_CHANCE, f"{name}: test accuracy {accuracy}"
        history = pd.read_csv(out / "history.csv")
        assert len(history) == EPOCHS
        if spec.kind == "static":
            check_subset(workdir, plan, config, run)
        if spec.kind == "dynamic":
            check_selection_log(out, metrics)


def check_subset(workdir: Path, plan: ExperimentPlan, config: dict, run: Run) -> None:
    subset = np.load(Path(workdir, plan.subset_file(run)))
    labels = np.load(Path(workdir, plan.data_dir(run.dataset), "train_y.npy"))
    assert len(labels) == N_TRAIN
    assert subset.dtype == np.int64 and len(subset) == round(run.fraction * N_TRAIN)
    assert np.all(np.diff(subset) > 0) and subset[0] >= 0 and subset[-1] < N_TRAIN
    if method_options(run.method, config).get("class_balanced", True):
        kept = np.bincount(labels[subset], minlength=CLASSES)
        share = run.fraction * np.bincount(labels, minlength=CLASSES)
        assert np.all(np.abs(kept - share) < 1), (kept, share)


def check_selection_log(out: Path, metrics: dict) -> None:
    log = pd.read_csv(out / "selections.csv")
    saved = np.load(out / "selected.npz")
    assert set(GENERIC_COLUMNS) <= set(log.columns)
    assert len(saved["steps"]) == len(log) and len(saved["offsets"]) == len(log) + 1
    if len(log):
        assert np.array_equal(saved["steps"], log.step.to_numpy())
        assert np.array_equal(np.diff(saved["offsets"]), log.n_selected.to_numpy())
        assert saved["offsets"][-1] == len(saved["indices"]) == len(saved["weights"])
        indices, weights = saved["indices"], saved["weights"]
        assert indices.min() >= 0 and indices.max() < N_TRAIN
        assert np.isfinite(weights).all() and (weights >= 0).all()
        assert (log.pool_size <= N_TRAIN).all() and (log.n_selected <= log.pool_size).all()
        assert log.step.is_monotonic_increasing and (log.step < metrics["steps"]).all()
        assert log.epoch.between(1, EPOCHS).all() and (log.selection_s >= 0).all()
        assert log.reason.notna().all()
    # the shared contract: the generic columns first, in this order, then the method's own
    assert list(log.columns[:len(GENERIC_COLUMNS)]) == GENERIC_COLUMNS
