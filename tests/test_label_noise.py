"""Label noise: the flips (exact counts, maps, determinism), the prepared folder and its key,
the noisy shares a run records, each score's detection (AUROC against sklearn, precision at k)
and the config's one-line refusals."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from prunebench import paths
from prunebench.config import load_schema, validate_config
from prunebench.data import load_prepared, prepare_dataset
from prunebench.data.prepared import load_label_noise
from prunebench.label_noise import flip_labels, noisy_share
from prunebench.plan import ExperimentPlan
from prunebench.report.analysis.label_noise import (
    auroc,
    detection_table,
    kept_table,
    noise_headline,
    precision_at_k,
)
from prunebench.train.noise import VisitCounts, run_noise_metrics
from prunebench.train.samplers import SelectionRecord

from .conftest import SCHEMA
from .test_cli import assert_one_line_error, prunebench


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


def balanced_labels(per_class=(50, 37, 20, 9), seed=0) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(per_class)]).astype(np.int64)
    return np.random.default_rng(seed).permutation(labels)


# -- the flips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["symmetric", "pairflip"])
def test_exactly_round_rate_times_class_size_flip_per_class(kind):
    clean = balanced_labels()
    flipped = flip_labels(clean, 4, rate=0.3, kind=kind, seed=7)
    for c, n_c in enumerate((50, 37, 20, 9)):
        expected = int(round(0.3 * n_c))  # 15, 11, 6, 3
        assert flipped.noisy[clean == c].sum() == expected
        assert flipped.flips_per_class[c] == expected
    assert np.array_equal(flipped.noisy, flipped.labels != clean)


def test_symmetric_never_keeps_the_clean_label_and_reaches_every_other_class():
    clean = np.repeat(np.arange(5), 400)
    flipped = flip_labels(clean, 5, rate=0.5, kind="symmetric", seed=3)
    changed = flipped.noisy
    assert changed.sum() == 5 * 200
    assert np.all(flipped.labels[changed] != clean[changed])
    for c in range(5):
        new = set(flipped.labels[changed & (clean == c)].tolist())
        assert new == set(range(5)) - {c}  # uniform over the 4 others: all appear in 200 draws


def test_pairflip_maps_c_to_c_plus_one_mod_C():
    clean = balanced_labels()
    flipped = flip_labels(clean, 4, rate=0.4, kind="pairflip", seed=1)
    assert np.array_equal(flipped.labels[flipped.noisy], (clean[flipped.noisy] + 1) % 4)
    assert np.array_equal(flipped.labels[~flipped.noisy], clean[~flipped.noisy])


def test_flips_depend_on_their_seed_only():
    clean = balanced_labels()
    first = flip_labels(clean, 4, rate=0.2, seed=5)
    np.random.seed(123)  # global NumPy and torch seeds (a training seed) change nothing
    torch.manual_seed(123)
    again = flip_labels(clean, 4, rate=0.2, seed=5)
    other = flip_labels(clean, 4, rate=0.2, seed=6)
    assert np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.noisy, again.noisy)
    assert not np.array_equal(first.noisy, other.noisy)
    assert flip_labels(clean, 4, rate=0.0).noisy.sum() == 0


# -- the prepared folder ---------------------------------------------------------------------------
def test_prepared_with_noise_keeps_test_labels_and_records_the_flips(tmp_path):
    clean = prepare_dataset("digits", {}, tmp_path / "clean")
    noise = {"rate": 0.25, "kind": "pairflip", "seed": 2}
    meta = prepare_dataset("digits", {"label_noise": noise}, tmp_path / "noisy")
    a, b = load_prepared(tmp_path / "clean"), load_prepared(tmp_path / "noisy")
    assert np.array_equal(a.test_y, b.test_y) and np.array_equal(a.test_x, b.test_x)
    assert np.array_equal(a.train_x, b.train_x)
    extra = load_label_noise(tmp_path / "noisy")
    assert np.array_equal(extra["train_y_clean"], a.train_y)
    assert extra["train_noisy"].dtype == np.bool_
    assert np.array_equal(extra["train_noisy"], b.train_y != a.train_y)
    per_class = [int(round(0.25 * n)) for n in np.bincount(a.train_y)]
    on_disk = json.loads((tmp_path / "noisy" / "meta.json").read_text())
    assert on_disk["label_noise"] == {**noise, "flips": sum(per_class),
                                      "flips_per_class": per_class} == meta["label_noise"]
    assert {"train_y_clean.npy", "train_noisy.npy"} <= set(on_disk["files"])
    assert "label_noise" not in clean and load_label_noise(tmp_path / "clean") is None
    assert not (tmp_path / "clean" / "train_noisy.npy").exists()


def test_label_noise_gets_its_own_key_and_an_absent_one_moves_none(schema):
    def plan(datasets):
        config = {"experiment": "t", "datasets": datasets, "methods": ["random"],
                  "fractions": [0.5], "seeds": [0]}
        return ExperimentPlan(validate_config(config, schema))

    # today's keys (the quickstart's prepared folders)
    assert paths.data_key("digits", {}) == "digits-44136fa3"
    base = {"model": "mnist1d_cnn", "options": {"train_size": 600, "test_size": 200}}
    noisy = copy.deepcopy(base)
    noisy["options"]["label_noise"] = {"rate": 0.2}
    spelled = copy.deepcopy(base)
    spelled["options"]["label_noise"] = {"rate": 0.2, "kind": "symmetric", "seed": 0}
    p = plan({"mnist1d": base, "mnist1d_noise20": {**noisy, "loader": "mnist1d"},
              "mnist1d_same": {**spelled, "loader": "mnist1d"},
              "mnist1d_copy": {**base, "loader": "mnist1d"}})
    assert p.data_key("mnist1d") == "mnist1d-cc4aeff2"  # .test/config.yaml's, unchanged
    assert p.data_key("mnist1d_copy") == p.data_key("mnist1d")
    assert p.proxy_key("mnist1d_copy") == p.proxy_key("mnist1d")  # `loader` is not recipe
    assert p.data_key("mnist1d_noise20") != p.data_key("mnist1d")
    assert p.data_key("mnist1d_noise20") == p.data_key("mnist1d_same")  # defaults filled
    assert p.label_noise("mnist1d_noise20") == {"rate": 0.2, "kind": "symmetric", "seed": 0}
    assert p.noisy_datasets() == ["mnist1d_noise20", "mnist1d_same"]
    assert p.prepared_files("mnist1d")[-1].endswith("meta.json")
    assert p.prepared_files("mnist1d_noise20")[-2:] == [
        f"{p.data_dir('mnist1d_noise20')}/train_y_clean.npy",
        f"{p.data_dir('mnist1d_noise20')}/train_noisy.npy"]
    assert p.runs()[0].dataset == "mnist1d" and {r.dataset for r in p.runs()} == {
        "mnist1d", "mnist1d_noise20", "mnist1d_same", "mnist1d_copy"}


# -- what each run kept ------------------------------------------------------------------------
def test_noisy_share_of_a_subset_and_weighted_by_visits():
    noisy = np.array([1, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    assert noisy_share(noisy) == 2 / 8  # full: the rate
    assert noisy_share(noisy, np.array([0, 1, 2, 3])) == 0.5
    assert noisy_share(noisy, np.array([1, 2])) == 0.0
    # example 0 (flipped) trained on 3 times, 1 and 2 once each: 3 of 5 visits
    assert noisy_share(noisy, counts=np.array([3, 1, 1, 0, 0, 0, 0, 0])) == 3 / 5
    assert np.isnan(noisy_share(noisy, counts=np.zeros(8)))


def test_visit_counts_and_selection_shares_of_a_dynamic_run():
    noisy = np.array([1, 0, 0, 1, 0, 0], dtype=bool)
    visits = VisitCounts(6, torch.device("cpu"))
    for batch in ([0, 1, 2], [0, 3], [0, 4]):
        visits.on_batch(torch.tensor(batch), torch.zeros(len(batch), 2), torch.zeros(len(batch)))
    assert visits.counts.tolist() == [3, 1, 1, 1, 1, 0]
    restored = VisitCounts(6, torch.device("cpu"))
    restored.load_state_dict(visits.state_dict())
    assert restored.counts.tolist() == [3, 1, 1, 1, 1, 0]
    records = [SelectionRecord(step=0, epoch=1, reason="initial", pool_size=6,
                               indices=torch.tensor([0, 3, 5]), weights=torch.ones(3),
                               seconds=0.0),
               SelectionRecord(step=4, epoch=2, reason="epoch start", pool_size=6,
                               indices=torch.tensor([1, 2]), weights=torch.ones(2),
                               seconds=0.0)]
    settings = {"rate": 0.3, "kind": "symmetric", "seed": 0, "flips": 2}
    fields = run_noise_metrics(noisy, settings, indices=None, counts=visits, selections=records)
    assert fields == {"label_noise": settings, "noisy_share": (3 + 1) / 7}
    assert [r.columns["noisy_share"] for r in records] == [2 / 3, 0.0]
    static = run_noise_metrics(noisy, settings, indices=np.array([0, 1]), counts=None,
                               selections=[])
    assert static["noisy_share"] == 0.5


# -- detection ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_auroc_equals_sklearn_ties_included(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    noisy = rng.random(n) < 0.3
    noisy[:2] = [True, False]
    scores = rng.integers(0, 6, n).astype(float) if seed % 2 else rng.normal(size=n) + noisy
    assert auroc(scores, noisy) == pytest.approx(roc_auc_score(noisy, scores), abs=1e-12)


def test_never_learned_examples_rank_highest():
    scores = np.array([0.0, 2.0, np.inf, 1.0, np.inf])
    noisy = np.array([0, 0, 1, 0, 1], dtype=bool)
    assert auroc(scores, noisy) == 1.0
    finite = np.where(np.isinf(scores), 1e9, scores)
    assert auroc(scores, noisy) == roc_auc_score(noisy, finite)
    assert np.isnan(auroc(scores, np.zeros(5, dtype=bool)))


def test_precision_at_k_is_the_flipped_share_of_the_k_highest():
    noisy = np.array([0, 0, 1, 1, 0], dtype=bool)  # k = 2
    assert precision_at_k(np.array([3.0, 1, 2, np.inf, 0]), noisy) == 0.5  # top: 3 (inf), 0
    assert precision_at_k(np.array([0.0, 1, 5, 4, 2]), noisy) == 1.0
    # a tie at the cut goes to the lower index: scores 2, 2 at indices 1 and 2
    assert precision_at_k(np.array([0.0, 2, 2, 3, 0]), noisy) == 0.5
    table = detection_table({"a": np.array([0.0, 1, 5, 4, 2]), "b": np.zeros(5)}, noisy)
    assert table.score.tolist() == ["a", "b"] and table.k.tolist() == [2, 2]
    assert table.auroc.tolist() == [1.0, 0.5]


def test_kept_table_and_headline_on_hand_built_runs():
    runs = pd.DataFrame([
        {"method": "full", "fraction": 1.0, "seed": 0, "noisy_share": 0.3, "test_acc": 0.8},
        {"method": "random", "fraction": 0.5, "seed": 0, "noisy_share": 0.32, "test_acc": 0.7},
        {"method": "random", "fraction": 0.5, "seed": 1, "noisy_share": 0.28, "test_acc": 0.72},
        {"method": "el2n", "fraction": 0.5, "seed": 0, "noisy_share": 0.6, "test_acc": 0.5},
        {"method": "ccs", "fraction": 0.5, "seed": 0, "noisy_share": 0.1, "test_acc": 0.75},
    ])
    kept = kept_table(runs, ["random", "el2n", "ccs"])
    assert kept.method.tolist() == ["full", "random", "el2n", "ccs"]
    random = kept[kept.method == "random"].iloc[0]
    assert random.noisy_share == pytest.approx(0.30) and random.n == 2
    assert random.acc_vs_full == pytest.approx(0.71 - 0.8)
    detection = pd.DataFrame([{"score": "el2n", "auroc": 0.9, "precision_at_k": 0.75, "k": 40,
                               "n_train": 100}])
    says = noise_headline("mnist1d_noise30", 0.3, detection, kept)
    assert says == ("mnist1d_noise30 has 30% of its training labels flipped; el2n finds them "
                    "best (AUROC 0.900, 75% of its top 40 are flipped); ccs at f = 0.5 kept "
                    "the least noise (10.0% against random's 30.0%).")


# -- the config ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, needle", [
    ({"mnist1d": {"model": "mnist1d_cnn", "options": {"trian_size": 500}}},
     "datasets.mnist1d.options: Additional properties are not allowed ('trian_size'"),
    ({"mnist1d": {"model": "mnist1d_cnn", "options": {"label_noise": {"rate": 1.0}}}},
     "'datasets.mnist1d.options.label_noise.rate': 1.0"),
    ({"mnist1d": {"model": "mnist1d_cnn", "options": {"label_noise": {"rate": -0.1}}}},
     "'datasets.mnist1d.options.label_noise.rate': -0.1"),
    ({"mnist1d": {"model": "mnist1d_cnn",
                  "options": {"label_noise": {"rate": 0.2, "kind": "asymmetric"}}}},
     "'datasets.mnist1d.options.label_noise.kind': 'asymmetric' is not allowed"),
    ({"noisy": {"model": "mnist1d_cnn", "loader": "mnist2d"}},
     "'datasets.noisy.loader': 'mnist2d' is not allowed"),
    ({"mnist2d": {"model": "mnist1d_cnn"}}, "'datasets.mnist2d': 'mnist2d' is not a dataset "
                                            "loader"),
])
def test_check_config_refuses_bad_dataset_options_in_one_line(tmp_path, dataset, needle):
    config = {"experiment": "t", "datasets": dataset, "methods": ["random"],
              "fractions": [0.5], "seeds": [0]}
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(config))
    assert_one_line_error(prunebench("check-config", str(path), "--schema", str(SCHEMA)),
                          needle, str(path))


def test_entries_sharing_data_share_proxy_runs_and_their_params(schema):
    def plan(datasets):
        config = {"experiment": "t", "datasets": datasets, "methods": ["el2n"],
                  "fractions": [0.5], "seeds": [0]}
        return ExperimentPlan(validate_config(config, schema))

    base = {"model": "mnist1d_cnn", "options": {"train_size": 600, "test_size": 200}}
    alone = plan({"mnist1d": base})
    both = plan({"mnist1d": base, "mnist1d_copy": {**base, "loader": "mnist1d"}})
    assert both.proxy_dir("mnist1d_copy", 0) == alone.proxy_dir("mnist1d", 0)
    # the proxy job's params are the same whichever entry asks (no re-run between experiments)
    assert both.proxy_spec("mnist1d_copy").to_json() == alone.proxy_spec("mnist1d").to_json()
    assert {e["dataset"] for e in both.expected() if e["what"] == "proxy"} == {
        "mnist1d", "mnist1d_copy"}


def test_a_shared_proxy_run_is_charged_to_every_entry_that_uses_it(tmp_path):
    from prunebench.report.read.aggregate import scoring_costs

    proxy = tmp_path / "metrics.json"
    proxy.write_text(json.dumps({"dataset": "mnist1d", "seed": 0, "trained_for": "a",
                                 "score_cost_s": {"el2n": 2.5}}))
    costs = scoring_costs([proxy, proxy], ["mnist1d", "mnist1d_copy"])
    assert costs[("mnist1d", "el2n")] == costs[("mnist1d_copy", "el2n")] == 2.5
    assert scoring_costs([proxy]) == {("mnist1d", "el2n"): 2.5,
                                      ("mnist1d", "__trained_for__"): {"a"}}
