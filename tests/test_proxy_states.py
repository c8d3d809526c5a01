"""Proxies trained once: a proxy run saves its model states, a score outside TRAINED_SCORES is
computed from them by its own job, bit for bit the array the run would have computed, and
adding such a score to a finished experiment plans score jobs only, never a proxy run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from prunebench import cli
from prunebench.config import load_schema, validate_config
from prunebench.errors import UserError
from prunebench.jobspec import ProxySettings
from prunebench.methods import SCORES, TRAINED_SCORES, from_state, proxy_array_file, state_file
from prunebench.plan import ExperimentPlan
from prunebench.report.analysis.transfer import spearman, top_overlap
from prunebench.scores.from_state import compute_from_state
from prunebench.scores.proxy import run_proxy

from .conftest import SCHEMA
from .test_pipeline import finished_run, planned, snakemake, write_config

MINI = {
    "experiment": "mini", "device": "cpu",
    "datasets": {"mnist1d": {"model": "mnist1d_cnn", "epochs": 2, "batch_size": 64, "lr": 0.05,
                             "options": {"train_size": 600, "test_size": 200}}},
    "methods": ["el2n", "forgetting"], "fractions": [0.5], "seeds": [0],
    "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1},
}


def plan_of(config: dict) -> ExperimentPlan:
    return ExperimentPlan(validate_config(json.loads(json.dumps(config)), load_schema(SCHEMA)))


def test_the_schema_default_list_is_what_a_proxy_computes_while_training():
    default = load_schema(SCHEMA)["properties"]["proxy"]["properties"]["scores"]["default"]
    assert tuple(default) == TRAINED_SCORES
    # every other score exists at one epoch, so a saved state can give it
    assert all(SCORES[s].at != "run" for s in SCORES if from_state(s))


def test_the_proxy_key_and_spec_ignore_the_listed_scores():
    plan = plan_of(MINI)
    more = plan_of({**MINI, "proxy": {**MINI["proxy"], "scores": ["uncertainty_entropy"]}})
    assert more.proxy_key("mnist1d") == plan.proxy_key("mnist1d")
    assert more.proxy_spec("mnist1d") == plan.proxy_spec("mnist1d")
    assert plan.proxy_spec("mnist1d").proxy.scores == TRAINED_SCORES
    assert more.state_arrays() == {"uncertainty_entropy_e1": "uncertainty_entropy"}
    assert "uncertainty_entropy_e1.cost.json" in more.proxy_metrics()[1]
    assert {state_file(0), state_file(1)} <= set(plan.proxy_files())


def test_a_score_from_the_saved_state_equals_the_one_computed_while_training(
        tmp_path, mnist1d_small_dir):
    plan = plan_of(MINI)
    job, ops = plan.proxy_spec("mnist1d"), plan.operations()
    later = ("uncertainty_entropy", "uncertainty_margin", "embeddings", "input_norm")
    # a run that also computes, while training, the scores the workflow takes from its states
    both = replace(job, proxy=ProxySettings(job.proxy.epochs, job.proxy.score_epoch,
                                            (*TRAINED_SCORES, *later)))
    metrics = run_proxy(both, ops, data_dir=mnist1d_small_dir, seed=0, out_dir=tmp_path,
                        threads=1)
    assert set(metrics["training_s_at_epoch"]) == {"0", "1", "2"}
    k = job.proxy.score_epoch
    for score in ("el2n", "grand", "grand_init", "grand_last", *later):
        state = tmp_path / state_file(0 if SCORES[score].at == "init" else k)
        array, seconds = compute_from_state(job, ops, score=score, data_dir=mnist1d_small_dir,
                                            state=state, threads=1)
        trained = np.load(tmp_path / proxy_array_file(score, k))
        assert array.dtype == trained.dtype and seconds >= 0
        np.testing.assert_array_equal(array, trained, err_msg=score)
    # what accumulates over several epochs (el2n_sum at k = 2) or batches cannot
    at_two = replace(job, proxy=ProxySettings(2, 2, TRAINED_SCORES))
    for accumulated in ("el2n_sum", "forgetting"):
        with pytest.raises((UserError, ValueError), match="cannot come from one saved state"):
            compute_from_state(at_two, ops, score=accumulated, data_dir=mnist1d_small_dir,
                               state=tmp_path / state_file(k))


def test_proxy_score_writes_the_array_and_its_cost(tmp_path, mnist1d_small_dir, capsys,
                                                   monkeypatch):
    plan = plan_of(MINI)
    job, ops = plan.proxy_spec("mnist1d"), plan.operations()
    metrics = run_proxy(job, ops, data_dir=mnist1d_small_dir, seed=1, out_dir=tmp_path,
                        threads=1)
    args = ["proxy-score", "--data", str(mnist1d_small_dir), "--spec", job.to_json(),
            "--ops", ops.to_json(), "--state", str(tmp_path / state_file(1)),
            "--proxy-metrics", str(tmp_path / "metrics.json"), "--threads", "1",
            "--out", str(tmp_path / "u.npy"), "--cost-out", str(tmp_path / "u.cost.json")]
    assert cli.main([*args, "--score", "uncertainty_lc"], delegate=False) == 0
    assert np.load(tmp_path / "u.npy").shape == (400,)
    cost = json.loads((tmp_path / "u.cost.json").read_text())
    assert cost["seed"] == 1 and cost["dataset"] == "mnist1d"
    assert cost["score_cost_s"]["uncertainty_lc"] == pytest.approx(
        metrics["training_s_at_epoch"]["1"] + cost["pass_s"], abs=2e-6)
    # a score the run computes while training is never recomputed from a state
    assert cli.main([*args, "--score", "el2n"], delegate=False) == 1
    assert "TRAINED_SCORES" in capsys.readouterr().err
    # with W&B on, the job is one short run recording what it read and wrote
    monkeypatch.setenv("PRUNEBENCH_OPS", replace(ops, wandb={"mode": "offline"}).to_json())
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert cli.main([*args, "--score", "uncertainty_lc"], delegate=False) == 0
    assert list((tmp_path / "wandb").glob("offline-run-*"))


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mini")
    finished_run(workdir, "mini", MINI)
    return workdir


def test_adding_a_score_to_a_finished_experiment_trains_no_proxy(mini_run):
    assert planned(mini_run, MINI) == {}
    listed = {**MINI, "proxy": {**MINI["proxy"],
                                "scores": [*TRAINED_SCORES, "uncertainty_entropy"]}}
    # 2 proxy seeds: one score job each, then the summary and report that charge them
    assert planned(mini_run, listed) == {"score_proxy": 2, "aggregate": 1, "report": 1,
                                         "all": 1}
    ranked = {**MINI, "methods": [*MINI["methods"], "uncertainty_margin", "moderate"]}
    jobs = planned(mini_run, ranked)
    assert "train_proxy" not in jobs and jobs["score_proxy"] == 4  # margin and embeddings
    assert jobs["select_subset"] == 2 and jobs["train"] == 2


def test_a_proxy_of_its_own_in_a_finished_experiment_trains_only_itself(mini_run):
    config = {**MINI, "methods": [*MINI["methods"], "el2n_small"],
              "variants": {"el2n_small": {"method": "el2n", "proxy": "small"}},
              "proxies": {"small": {"model": "mnist1d_mlp"}}}
    jobs = planned(mini_run, config)
    assert jobs["train_proxy"] == 2 and jobs["mean_scores"] == 1  # the small proxy's, only
    assert jobs["train"] == 1 and jobs["select_subset"] == 1 and "score_proxy" not in jobs


def test_a_small_proxy_runs_end_to_end_into_the_score_transfer_section(mini_run):
    # last in this file: it runs the workflow on the finished mini experiment
    config = {**MINI, "methods": [*MINI["methods"], "el2n_small"],
              "variants": {"el2n_small": {"method": "el2n", "proxy": "small"}},
              "proxies": {"small": {"model": "mnist1d_mlp"}}}
    done = snakemake(mini_run, write_config(mini_run, "transfer", config))
    assert done.returncode == 0, done.stderr[-4000:]
    plan = plan_of(config)
    summary = pd.read_csv(mini_run / "results/mini/summary.csv")
    rows = summary.set_index("method")
    assert rows.loc["el2n_small", "proxy"] == "small" and rows.loc["el2n", "proxy"] == "default"
    # each run is charged its own proxy: the MLP's 2 seeds cost less than the CNN's
    assert 0 < rows.loc["el2n_small", "time_scoring"] < rows.loc["el2n", "time_scoring"]
    tables = mini_run / "results/mini/report/tables/mnist1d"
    agreement = pd.read_csv(tables / "score_agreement.csv")
    assert set(agreement.score) == {"el2n"} and agreement.fraction.tolist() == [0.5]
    a, b = (np.load(mini_run / plan.score_file("mnist1d", "el2n", name))
            for name in ("default", "small"))
    assert agreement.spearman.iloc[0] == pytest.approx(spearman(a, b), abs=1e-5)
    assert agreement.top_overlap.iloc[0] == pytest.approx(top_overlap(a, b, 0.5), abs=1e-5)
    transfer = pd.read_csv(tables / "score_transfer.csv").set_index("method")
    assert transfer.loc["el2n_small", "proxy"] == "small"
    assert transfer.loc["el2n_small", "acc_mean"] == pytest.approx(
        100 * rows.loc["el2n_small", "test_acc"])
    assert "Score transfer" in (mini_run / "results/mini/report/index.html").read_text()
