"""Proxies of their own (Data Diet's transfer claim; Selection via Proxy): a proxy with another
model or recipe is another proxy (its own store key), the default one keeps the key it always
had, a variant scores with a named proxy, and each run is charged its own proxy's cost."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from prunebench import cli
from prunebench.config import load_schema, read_config_file, science_settings, validate_config
from prunebench.plan import ExperimentPlan
from prunebench.report.read.aggregate import build_summary

from .conftest import ROOT, SCHEMA

# The proxy keys and folders of the quickstart and the tiny test config as the code before
# proxies of their own computed them (main at 279b077): a change here re-trains every finished
# experiment's proxies.
BEFORE = {
    "config.yaml": {
        "digits": "results/proxy/digits-44136fa3/digits_cnn/7cf4d6ad/seed0",
        "mnist1d": "results/proxy/mnist1d-314d800e/mnist1d_cnn/37987fc5/seed0"},
    ".test/config.yaml": {
        "mnist1d": "results/proxy/mnist1d-cc4aeff2/mnist1d_cnn/e6508080/seed0",
        "digits": "results/proxy/digits-44136fa3/digits_cnn/40858fc9/seed0"},
}


def transfer_config() -> dict:
    return {
        "experiment": "transfer", "device": "cpu",
        "datasets": {"mnist1d": {"model": "mnist1d_cnn", "epochs": 3, "batch_size": 64,
                                 "lr": 0.05, "options": {"train_size": 600, "test_size": 200}}},
        "methods": ["el2n", "el2n_small", "kcenter"],
        "variants": {"el2n_small": {"method": "el2n", "proxy": "small"}},
        "proxies": {"small": {"model": "mnist1d_mlp", "lr": 0.2}},
        "fractions": [0.5], "seeds": [0],
        "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1},
    }


def plan_of(config: dict) -> ExperimentPlan:
    return ExperimentPlan(validate_config(copy.deepcopy(config), load_schema(SCHEMA)))


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_the_default_proxy_keeps_the_key_it_always_had(name):
    config = read_config_file(ROOT / name, SCHEMA)
    plan = ExperimentPlan(config)
    assert {d: plan.proxy_dir(d, 0) for d in plan.datasets} == BEFORE[name]
    assert plan.proxy_names() == ["default"]
    # no named proxies: the science the aggregate and report jobs receive is unchanged too
    assert "proxies" not in science_settings(config)


def test_a_proxy_with_another_model_gets_its_own_key_and_recipe():
    config = transfer_config()
    default = plan_of(config)
    config["proxy"]["model"] = "mnist1d_mlp"
    small = plan_of(config)
    assert small.proxy_key("mnist1d") != default.proxy_key("mnist1d")
    assert small.proxy_dir("mnist1d", 0).split("/")[3] == "mnist1d_mlp"
    assert default.proxy_dir("mnist1d", 0).split("/")[3] == "mnist1d_cnn"
    spec = small.proxy_spec("mnist1d")
    assert spec.training.model == "mnist1d_mlp"
    assert (spec.training.lr, spec.training.batch_size) == (0.05, 64)  # the dataset's recipe
    assert spec.proxy == default.proxy_spec("mnist1d").proxy  # epochs, k and scores alike
    # the target trains its own model whatever the proxy
    assert small.train_spec("mnist1d", "el2n", 0.5).training.model == "mnist1d_cnn"
    # a recipe key alone is another proxy too; naming the dataset's own values is the same one
    config["proxy"] = {**transfer_config()["proxy"], "lr": 0.2}
    assert plan_of(config).proxy_key("mnist1d") not in {default.proxy_key("mnist1d"),
                                                        small.proxy_key("mnist1d")}
    config["proxy"] = {**transfer_config()["proxy"], "model": "mnist1d_cnn", "lr": 0.05}
    assert plan_of(config).proxy_key("mnist1d") == default.proxy_key("mnist1d")


def test_a_variant_scores_with_its_named_proxy():
    plan = plan_of(transfer_config())
    assert plan.proxy_names() == ["default", "small"]
    spec = plan.proxy_spec("mnist1d", "small")
    assert (spec.training.model, spec.training.lr) == ("mnist1d_mlp", 0.2)
    assert plan.proxy_key("mnist1d", "small") != plan.proxy_key("mnist1d")
    assert plan.selection_values("mnist1d", "el2n") == plan.score_file("mnist1d", "el2n")
    small = plan.score_file("mnist1d", "el2n", "small")
    assert "/mnist1d_mlp/" in small and plan.selection_values("mnist1d", "el2n_small") == small
    assert plan.produced_scores("small") == ["el2n"] and small in plan.score_files()
    # kcenter reads the default proxy's embeddings
    assert plan.selection_values("mnist1d", "kcenter").startswith(plan.proxy_dir("mnist1d", 0))
    # 2 seeds of each proxy: metrics.json, and the cost of kcenter's embeddings (from the state)
    assert len(plan.proxy_metrics()) == 8
    assert {row["model"] for row in plan.expected() if row["what"] == "proxy"} == {
        "mnist1d_cnn", "mnist1d_mlp"}


def test_a_proxy_used_by_no_method_is_not_trained():
    config = transfer_config()
    config["methods"] = ["el2n"]
    assert plan_of(config).proxy_names() == ["default"]
    config["methods"] = ["el2n_small", "random"]
    plan = plan_of(config)
    assert plan.proxy_names() == ["small"]
    assert all("/mnist1d_mlp/" in path for path in plan.proxy_metrics())


@pytest.mark.parametrize("change, needle", [
    (lambda c: c["proxy"].update(model="mnist1d_transformer"), "'proxy.model'"),
    (lambda c: c["proxies"]["small"].update(model="vgg"), "'proxies.small.model'"),
    (lambda c: c["variants"]["el2n_small"].update(proxy="tiny"),
     "'variants.el2n_small.proxy': 'tiny' is not a proxy of this config"),
    (lambda c: c["variants"].update(r2={"method": "random", "proxy": "small"}),
     "'variants.r2.proxy': method 'random' reads no proxy scores"),
    (lambda c: c["proxies"]["small"].update(epochs=0), "'proxies.small.epochs'"),
    (lambda c: c["proxy"].update(score_epoch=2, epochs=3) or c["proxies"]["small"].update(
        epochs=1), "'proxies.small.epochs': 1 is before the score epoch"),
    (lambda c: c["proxies"].update(default={"model": "mnist1d_mlp"}), "'proxies.default'"),
])
def test_check_config_stops_a_bad_proxy_in_one_line_naming_the_key(tmp_path, capsys, change,
                                                                   needle):
    config = transfer_config()
    change(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli.main(["check-config", str(path), "--schema", str(SCHEMA)],
                    delegate=False) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], lines


def test_each_run_is_charged_its_own_proxys_cost(tmp_path):
    def write(path, payload):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))
        return path

    proxies = {name: [write(tmp_path / name / f"seed{s}/metrics.json",
                            {"dataset": "mnist1d", "seed": s, "trained_for": "transfer",
                             "score_cost_s": {"el2n": cost}}) for s in (0, 1)]
               for name, cost in (("default", 4.0), ("small", 0.5))}
    runs = [write(tmp_path / "runs" / method / "metrics.json", {
        "dataset": "mnist1d", "method": method, "base_method": "el2n", "kind": "static",
        "fraction": 0.5, "seed": 0, "score": "el2n", "subset_selection_s": 0.0,
        "time": {"scoring": 0.0, "selection": 0.0, "training": 1.0, "evaluation": 0.0}})
        for method in ("el2n", "el2n_small")]
    summary, _ = build_summary(runs, proxies,
                               method_proxies={"el2n": "default", "el2n_small": "small"})
    scoring = dict(zip(summary.method, summary.time_scoring, strict=True))
    assert scoring == {"el2n": pytest.approx(8.0), "el2n_small": pytest.approx(1.0)}
    assert dict(zip(summary.method, summary.proxy, strict=True)) == {
        "el2n": "default", "el2n_small": "small"}


def test_spearman_equals_scipy_and_ranks_inf_hardest():
    from scipy.stats import spearmanr

    from prunebench.report.analysis.transfer import spearman

    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    b = a + rng.normal(scale=0.5, size=50)
    b[:5] = b[5]  # ties share their average rank
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    # forgetting's never-learned (+inf) rank above every finite score
    assert spearman(np.array([0.0, 1.0, 2.0, np.inf]), np.arange(4.0)) == pytest.approx(1.0)
    assert np.isnan(spearman(np.ones(4), np.arange(4.0)))  # a constant vector has no ranks


def test_top_overlap_on_hand_built_scores():
    from prunebench.report.analysis.transfer import score_agreement, top_indices, top_overlap

    a = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    b = np.array([9.0, 0.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 8.0])  # 1 and 9 swapped
    assert top_indices(a, 3).tolist() == [0, 1, 2]
    assert top_indices(np.array([1.0, 2.0, 2.0, np.inf]), 3).tolist() == [3, 1, 2]  # ties: index
    assert top_overlap(a, b, 0.3) == pytest.approx(2 / 3)  # {0,1,2} and {0,9,2}
    assert top_overlap(a, b, 0.5) == pytest.approx(4 / 5)
    assert top_overlap(a, a, 0.5) == 1.0 and top_overlap(a, -a, 0.5) == 0.0
    frame = score_agreement({"default": {"el2n": a, "grand": a},
                             "small": {"el2n": b}}, [0.3, 0.5])
    assert frame[["score", "proxy_a", "proxy_b", "fraction"]].values.tolist() == [
        ["el2n", "default", "small", 0.3], ["el2n", "default", "small", 0.5]]
    assert frame.top_overlap.tolist() == pytest.approx([2 / 3, 4 / 5])


def test_the_report_declares_score_transfer_only_for_two_proxies():
    from prunebench.report.render.layout import report_files

    def names(config):
        return {f.name for f in report_files(validate_config(config, load_schema(SCHEMA)))}

    assert {"score_agreement", "score_transfer"} <= names(transfer_config())
    one = transfer_config()
    one["methods"] = ["el2n", "kcenter"]
    assert not {"score_agreement", "score_transfer"} & names(one)


def test_the_store_keeps_a_named_proxys_runs_and_scores():
    from prunebench.store import needed

    plan = plan_of(transfer_config())
    kept = needed(plan)
    for seed in (0, 1):
        assert plan.proxy_dir("mnist1d", seed, "small") in kept
        assert plan.proxy_dir("mnist1d", seed) in kept
    assert plan.score_file("mnist1d", "el2n", "small") in kept
