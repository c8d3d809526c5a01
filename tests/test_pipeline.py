"""End to end: the real Snakemake DAG on a tiny config, then the promises about re-runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import ROOT

TINY = {
    "experiment": "tiny",
    "protocol": "budget",
    "device": "cpu",
    "datasets": {"mnist1d": {
        "model": "mnist1d_cnn", "epochs": 3, "batch_size": 64, "lr": 0.05,
        "augment": {"crop_padding": 1}, "options": {"train_size": 600, "test_size": 200},
    }},
    "methods": ["random", "el2n", "grand", "forgetting", "ccs", "random_epoch", "crest", "craig",
                "infobatch"],
    "dynamic": {"crest": {"subset_size": 60, "num_subsets": 2, "check_interval": 2,
                          "drop_interval": 1, "drop_watch": 1}},
    "fractions": [0.5],
    "seeds": [0, 1],
    "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1},
}


def snakemake(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(bindir / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(configfile), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    configfile = workdir / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(TINY))
    done = snakemake(workdir, configfile)
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir, configfile


def test_every_output_exists_and_is_sound(tiny_run):
    workdir, _ = tiny_run
    results = workdir / "results" / "tiny"
    summary = pd.read_csv(results / "summary.csv")
    # full and infobatch (own budget) at fraction 1, 8 methods x 1 fraction, all x 2 seeds
    assert len(summary) == 2 * (2 + 8)
    assert set(summary.method) == {"full", *TINY["methods"]}
    assert summary.test_acc.between(0, 1).all()
    for phase in ("scoring", "selection", "training", "evaluation", "total"):
        assert summary[f"time_{phase}"].notna().all()
    static = summary[summary.method.isin(["el2n", "grand", "forgetting", "ccs"])]
    assert (static.time_scoring > 0).all() and (static.time_selection > 0).all()
    assert (summary[summary.method == "full"].time_scoring == 0).all()
    assert (summary[summary.method == "random"].n_used == 300).all()
    assert (summary[summary.method == "full"].steps == 3 * 10).all()  # 3 epochs of 600/64
    assert (summary[summary.method == "el2n"].steps == 3 * 5).all()  # 300 examples: 5 steps
    for method in ("random_epoch", "crest", "craig"):  # dynamic: f x the full steps
        rows = summary[summary.method == method]
        assert (rows.steps == 3 * 5).all() and (rows.time_scoring == 0).all(), method
    assert (summary[summary.method == "infobatch"].steps <= 3 * 10).all()
    crest_run = results / "runs/mnist1d/mnist1d_cnn/crest/f0.5/seed0"
    selections = pd.read_csv(crest_run / "selections.csv")
    assert selections.reason.iloc[0] == "initial" and (selections.pool_size <= 600).all()
    crest_metrics = json.loads((crest_run / "metrics.json").read_text())
    assert crest_metrics["time"]["selection/hessian"] > 0
    assert crest_metrics["counts"]["forward_examples"] > crest_metrics["examples_seen"]

    for seed in (0, 1):
        proxy = results / "proxy" / "mnist1d" / "mnist1d_cnn" / f"seed{seed}"
        for name in ("el2n_e1", "el2n_sum_e1", "grand_e1", "grand_e0", "grand_last_e1",
                     "forgetting"):
            array = np.load(proxy / f"{name}.npy")
            assert array.shape == (600,) and array.dtype == np.float32
        assert json.loads((proxy / "metrics.json").read_text())["score_cost_s"]["el2n"] > 0
    for score in ("el2n", "grand", "forgetting"):
        mean = np.load(results / "scores" / "mnist1d" / "mnist1d_cnn" / f"{score}.npy")
        assert mean.shape == (600,)
    subset = np.load(results / "subsets/mnist1d/mnist1d_cnn/el2n/f0.5/seed0.npy")
    el2n = np.load(results / "scores/mnist1d/mnist1d_cnn/el2n.npy")
    assert subset.dtype == np.int64 and len(subset) == 300 and np.all(np.diff(subset) > 0)
    # class-balanced top: within each class, every kept example scores >= every dropped one
    labels = np.load(workdir / "results/data/mnist1d/train_y.npy")
    kept = np.zeros(600, bool)
    kept[subset] = True
    for c in range(10):
        in_class = labels == c
        assert el2n[kept & in_class].min() >= el2n[~kept & in_class].max()
    html = (results / "report" / "index.html").read_text()
    assert "Protocol: budget" in html and "forgetting" in html
    for rule in ("train", "train_proxy", "select_subset", "prepare_dataset"):
        assert any((workdir / "logs").rglob("*.log")), rule
    assert (results / "benchmarks" / "train").is_dir()


def test_rerun_schedules_nothing(tiny_run):
    workdir, configfile = tiny_run
    again = snakemake(workdir, configfile, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_adding_a_fraction_or_method_retrains_no_proxy(tiny_run):
    workdir, _ = tiny_run
    more = {**TINY, "fractions": [0.5, 0.7], "methods": [*TINY["methods"], "grand_last"]}
    configfile = workdir / "more.yaml"
    configfile.write_text(yaml.safe_dump(more))
    plan = snakemake(workdir, configfile, "-n")
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = plan.stdout + plan.stderr
    assert "rule train:" in text and "rule select_subset:" in text
    assert "rule train_proxy:" not in text


def test_bad_config_stops_with_one_line(tmp_path):
    bad = {**TINY, "methods": ["random", "nope"]}
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(bad))
    result = snakemake(tmp_path, configfile, "-n")
    assert result.returncode != 0
    assert "config key 'methods[1]': 'nope' is not allowed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("configfile", sorted((ROOT / "experiments").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_experiment_files_plan_without_error(tmp_path, configfile):
    plan = snakemake(tmp_path, configfile, "-n", "--quiet", "rules")
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert "train" in plan.stdout
