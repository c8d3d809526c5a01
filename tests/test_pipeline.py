"""End to end: the real Snakemake DAG on the tiny config (.test/config.yaml), then the promises
about the cache: operational settings re-run nothing, a science key re-runs exactly what it
affects, experiments never clobber each other, proxies are shared, paths cannot lie."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from prunebench import paths
from prunebench.config import load_schema, validate_config
from prunebench.plan import ExperimentPlan, Run

from .conftest import ROOT, SCHEMA

TINY = yaml.safe_load((ROOT / ".test" / "config.yaml").read_text())


def plan_of(config: dict) -> ExperimentPlan:
    return ExperimentPlan(validate_config(copy.deepcopy(config), load_schema(SCHEMA)))


def snakemake(workdir: Path, configfile: Path, *args: str) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    cmd = [str(bindir / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(configfile), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


def write_config(workdir: Path, name: str, config: dict) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def finished_run(workdir: Path, name: str, config: dict) -> Path:
    """Run `config` to the end in `workdir` (a failure shows Snakemake's stderr); its file."""
    configfile = write_config(workdir, name, config)
    done = snakemake(workdir, configfile)
    assert done.returncode == 0, done.stderr[-4000:]
    return configfile


def planned(workdir: Path, config: dict, name: str = "plan") -> dict[str, int]:
    """rule -> number of jobs `snakemake -n` plans for `config` on the existing results."""
    result = snakemake(workdir, write_config(workdir, name, config), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text[text.index("Job stats:"):].split("total")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def digest_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    return workdir, finished_run(workdir, "tiny", TINY)


def test_every_output_exists_and_is_sound(tiny_run):
    workdir, _ = tiny_run
    plan = plan_of(TINY)
    results = workdir / "results" / "tiny"
    summary = pd.read_csv(results / "summary.csv")
    methods = TINY["methods"]
    # per dataset: full and infobatch (own budget) at fraction 1, the rest at 0.5; 2 seeds
    assert len(summary) == len(TINY["datasets"]) * 2 * (1 + len(methods))
    assert set(summary.method) == {"full", *methods}
    assert summary.test_acc.between(0, 1).all()
    for phase in ("scoring", "selection", "training", "evaluation", "total"):
        assert summary[f"time_{phase}"].notna().all()
    mnist = summary[summary.dataset == "mnist1d"]
    static = mnist[mnist.method.isin(["el2n", "grand", "forgetting", "ccs", "ccs_b05"])]
    assert (static.time_scoring > 0).all() and (static.time_selection > 0).all()
    assert (mnist[mnist.method == "full"].time_scoring == 0).all()
    assert (mnist[mnist.method == "random"].n_used == 300).all()
    assert (mnist[mnist.method == "full"].steps == 3 * 10).all()  # 3 epochs of 600/64
    assert (mnist[mnist.method == "el2n"].steps == 3 * 5).all()  # 300 examples: 5 steps
    for method in ("random_epoch", "crest", "craig"):  # dynamic: f x the full steps
        rows = mnist[mnist.method == method]
        assert (rows.steps == 3 * 5).all() and (rows.time_scoring == 0).all(), method
    assert (mnist[mnist.method == "infobatch"].steps <= 3 * 10).all()
    # a variant runs its method under its own name
    variant = mnist[mnist.method == "ccs_b05"]
    assert (variant.base_method == "ccs").all() and len(variant) == 2
    crest_run = Path(workdir, plan.run_dir(Run("mnist1d", "crest", 0.5, 0)))
    selections = pd.read_csv(crest_run / "selections.csv")
    assert selections.reason.iloc[0] == "initial" and (selections.pool_size <= 600).all()
    crest_metrics = json.loads((crest_run / "metrics.json").read_text())
    assert crest_metrics["time"]["selection/hessian"] > 0
    assert crest_metrics["counts"]["forward_examples"] > crest_metrics["examples_seen"]
    # every run declares the same files; methods without selections leave them empty
    full_run = Path(workdir, plan.run_dir(Run("mnist1d", "full", 1.0, 0)))
    assert pd.read_csv(full_run / "selections.csv").empty

    for seed in (0, 1):
        proxy = Path(workdir, plan.proxy_dir("mnist1d", seed))
        for name in ("el2n_e1", "el2n_sum_e1", "grand_e1", "grand_init_e0", "grand_last_e1",
                     "forgetting"):
            array = np.load(proxy / f"{name}.npy")
            assert array.shape == (600,) and array.dtype == np.float32
        assert json.loads((proxy / "metrics.json").read_text())["score_cost_s"]["el2n"] > 0
    for score in ("el2n", "grand", "forgetting"):
        assert np.load(Path(workdir, plan.score_file("mnist1d", score))).shape == (600,)
    subset = np.load(Path(workdir, plan.subset_file(Run("mnist1d", "el2n", 0.5, 0))))
    el2n = np.load(Path(workdir, plan.score_file("mnist1d", "el2n")))
    assert subset.dtype == np.int64 and len(subset) == 300 and np.all(np.diff(subset) > 0)
    # class-balanced top: within each class, every kept example scores >= every dropped one
    labels = np.load(Path(workdir, plan.data_dir("mnist1d"), "train_y.npy"))
    kept = np.zeros(600, bool)
    kept[subset] = True
    for c in range(10):
        in_class = labels == c
        assert el2n[kept & in_class].min() >= el2n[~kept & in_class].max()
    html = (results / "report" / "index.html").read_text()
    assert "Protocol: budget" in html and "forgetting" in html and "ccs_b05" in html
    assert any((workdir / "logs").rglob("*.log"))
    for run in plan.runs():  # every training job's Snakemake timer, where paths says it is
        tsv = Path(workdir, paths.train_benchmark(plan.experiment, run.dataset, run.method,
                                                  run.fraction, run.seed))
        assert float(pd.read_csv(tsv, sep="\t")["s"].iloc[0]) > 0


def test_rerun_schedules_nothing(tiny_run):
    workdir, configfile = tiny_run
    again = snakemake(workdir, configfile, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize("change", [
    {"wandb": {"mode": "offline", "tags": ["ablation"]}},
    {"checkpoint_every": 1},
    {"speed": {"channels_last": False, "compile": True}},
    {"speed": {"reproducible_math": False}},
    {"device": "cpu"},
    {"proxy": {**TINY["proxy"], "grand_chunk": 7}},
], ids=["wandb", "checkpoint_every", "speed", "math", "device", "grand_chunk"])
def test_operational_settings_plan_nothing(tiny_run, change):
    workdir, _ = tiny_run
    assert planned(workdir, {**TINY, **change}) == {}


def test_a_science_key_plans_exactly_the_jobs_it_affects(tiny_run):
    workdir, _ = tiny_run
    lr = copy.deepcopy(TINY)
    lr["datasets"]["digits"]["lr"] = 0.02
    jobs = planned(workdir, lr)
    # digits only: its proxies (2 seeds), their mean scores, every digits subset and run
    runs_per_dataset = 2 * (1 + len(TINY["methods"]))
    assert jobs["train_proxy"] == 2 and jobs["train"] == runs_per_dataset
    assert set(jobs) <= {"train_proxy", "mean_scores", "select_subset", "train", "aggregate",
                         "report", "all"}
    tau = copy.deepcopy(TINY)
    tau["options"]["crest"]["tau"] = 0.5
    jobs = planned(workdir, tau)
    assert jobs.pop("train") == len(TINY["datasets"]) * 2  # the CREST runs, nothing else
    assert set(jobs) == {"aggregate", "report", "all"}


def test_paths_that_lie_are_refused(tiny_run):
    workdir, configfile = tiny_run
    for target in ("results/tiny/runs/mnist1d/resnet18/random/f0.5/seed0/metrics.json",
                   "results/tiny/runs/mnist1d/random/f0.7/seed0/metrics.json",
                   "results/tiny/runs/cifar10/random/f0.5/seed0/metrics.json"):
        result = snakemake(workdir, configfile, "-n", target)
        assert result.returncode != 0, target
        assert f"No rule to produce {target}" in result.stdout + result.stderr


def test_experiments_share_proxies_and_never_clobber_each_other(tiny_run):
    workdir, configfile = tiny_run
    before = digest_tree(workdir / "results" / "tiny")
    # a second experiment whose data options differ, run for real
    other = copy.deepcopy(TINY)
    other.update(experiment="other", methods=["random"], seeds=[0])
    other["datasets"] = {"mnist1d": {**TINY["datasets"]["mnist1d"],
                                     "options": {"train_size": 500, "test_size": 200}}}
    done = snakemake(workdir, write_config(workdir, "other", other))
    assert done.returncode == 0, done.stderr[-3000:]
    assert plan_of(other).data_dir("mnist1d") != plan_of(TINY).data_dir("mnist1d")
    assert planned(workdir, TINY) == {}  # the first experiment is still up to date...
    assert digest_tree(workdir / "results" / "tiny") == before  # ...and byte for byte intact

    # a third that differs only in methods and fractions: no proxy trained, scoring charged
    third = copy.deepcopy(TINY)
    third.update(experiment="third", methods=["el2n"], fractions=[0.125], seeds=[0])
    jobs = planned(workdir, third, "third")
    assert "train_proxy" not in jobs and "mean_scores" not in jobs and jobs["train"] == 4
    done = snakemake(workdir, write_config(workdir, "third", third))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = pd.read_csv(workdir / "results" / "third" / "summary.csv")
    first = pd.read_csv(workdir / "results" / "tiny" / "summary.csv")
    el2n = summary[(summary.method == "el2n") & (summary.dataset == "mnist1d")]
    charged = first[(first.method == "el2n") & (first.dataset == "mnist1d")].time_scoring
    assert el2n.time_scoring.iloc[0] == pytest.approx(charged.iloc[0])  # the same proxies
    assert (el2n.proxies_trained_for == "tiny").all()  # trained by the first, reused here
    html = (workdir / "results" / "third" / "report" / "index.html").read_text()
    assert "including proxy runs trained for experiment tiny and reused here" in html
    run = plan_of(third).run_dir(Run("mnist1d", "el2n", 0.125, 0))
    metrics = json.loads(Path(workdir, run, "metrics.json").read_text())
    assert metrics["fraction"] == 0.125 and run.endswith("/f0.125/seed0")


def test_bad_config_stops_with_one_line(tmp_path):
    bad = {**TINY, "methods": ["random", "nope"]}
    result = snakemake(tmp_path, write_config(tmp_path, "bad", bad), "-n")
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
