"""`prunebench export`: one row per training example, every column equal to the file it came
from, provenance in the file's metadata, readable by pandas and Hugging Face `datasets`; CIFAR
and SNLI rows carry the dataset's own example order."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prunebench import __version__, paths
from prunebench.data import cifar as cifar_module
from prunebench.data import prepare_dataset
from prunebench.data.prepared import read_meta
from prunebench.export_scores import read_export_metadata, source_index
from prunebench.plan import Run

from . import dataset_fixtures as fx
from .conftest import SCHEMA
from .reuse_workflow import CONFIG, CONFIG_FILE, workflow_dir
from .test_pipeline import plan_of
from .test_tracking import BIN


@pytest.fixture(scope="module")
def reuse_workflow(tmp_path_factory) -> Path:
    return workflow_dir(tmp_path_factory)


def prunebench(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "prunebench"), *args, "--schema", str(SCHEMA)],
                          cwd=workdir, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(reuse_workflow):
    done = prunebench(reuse_workflow, "export", CONFIG_FILE)
    assert done.returncode == 0, done.stderr
    path = reuse_workflow / paths.export_file("lineage", "mnist1d")
    return reuse_workflow, path, done.stdout


def test_one_row_per_training_example_in_the_prepared_order(exported):
    workdir, path, stdout = exported
    plan = plan_of(CONFIG)
    labels = np.load(workdir / plan.data_dir("mnist1d") / "train_y.npy")
    table = pd.read_parquet(path)
    assert len(table) == len(labels) == 300
    assert table["index"].tolist() == list(range(300))
    assert np.array_equal(table["label"].to_numpy(), labels)
    assert "source_index" not in table  # MNIST-1D is generated: no source order to join on
    assert "mnist1d: 300 examples, 5 score columns, 2 subset columns" in stdout
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary left


def test_every_score_column_equals_its_npy(exported):
    workdir, path, _ = exported
    plan = plan_of(CONFIG)
    table = pd.read_parquet(path)
    expected = {f"{score}_seed{seed}": f"{plan.proxy_dir('mnist1d', seed)}/{name}"
                for score, name in (("el2n", "el2n_e1.npy"), ("forgetting", "forgetting.npy"))
                for seed in (0, 1)}
    expected["el2n_mean"] = plan.score_file("mnist1d", "el2n")
    # forgetting has no mean file: no configured method ranks by it, so none was computed
    subsets = {c for c in table.columns if c.startswith(("in_", "selected_"))}
    assert {c for c in table.columns if "_seed" in c or c.endswith("_mean")} - subsets == \
        set(expected)
    for column, file in expected.items():
        array = np.load(workdir / file)
        assert table[column].dtype == array.dtype and np.array_equal(table[column], array), column
    assert np.isinf(table["forgetting_seed0"]).any()  # never-learned examples stay +inf


def test_subset_membership_and_dynamic_selection_counts(exported):
    workdir, path, _ = exported
    plan = plan_of(CONFIG)
    table = pd.read_parquet(path)
    subset = np.load(workdir / plan.subset_file(Run("mnist1d", "el2n", 0.5, 0)))
    member = table["in_el2n_f0.5_seed0"].to_numpy()
    assert member.dtype == bool and np.flatnonzero(member).tolist() == subset.tolist()
    selected = np.load(workdir / plan.run_dir(Run("mnist1d", "rs2", 0.5, 0)) / "selected.npz")
    counts = table["selected_rs2_f0.5_seed0"].to_numpy()
    assert counts.sum() == len(selected["indices"]) > 0 and len(selected["steps"]) == 2
    assert np.array_equal(counts, np.bincount(selected["indices"], minlength=300))
    # random_epoch logs no selections: no column, rather than a column of zeros
    assert "selected_random_epoch_f0.5_seed0" not in table


def test_metadata_records_the_provenance(exported):
    workdir, path, _ = exported
    plan = plan_of(CONFIG)
    meta = read_export_metadata(path)
    data_dir = workdir / plan.data_dir("mnist1d")
    assert meta["prepared_sha256"] == {
        name: hashlib.sha256((data_dir / name).read_bytes()).hexdigest()
        for name in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy")}
    assert meta["dataset"] == "mnist1d" and meta["n_train"] == 300
    assert meta["preparation_options"]["train_size"] == 300
    assert meta["proxy_recipe"] == json.loads(plan.proxy_spec("mnist1d").to_json())
    assert meta["proxy_digest"] == plan.proxy_key("mnist1d") and meta["proxy_seeds"] == [0, 1]
    assert meta["prunebench_version"] == __version__
    assert meta["git_commit"] is None or len(meta["git_commit"]) == 40
    for column, source in meta["columns"].items():
        digest = hashlib.sha256((workdir / source["file"]).read_bytes()).hexdigest()
        assert source["sha256"] == digest, column


def test_round_trip_through_hugging_face_datasets(exported, tmp_path):
    from datasets import Dataset

    _, path, _ = exported
    table = pd.read_parquet(path)
    dataset = Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "hf"))
    assert dataset.num_rows == len(table) and dataset.column_names == list(table.columns)
    back = tmp_path / "back.parquet"
    dataset.to_parquet(str(back))
    pd.testing.assert_frame_equal(pd.read_parquet(back), table)


def test_an_unknown_dataset_is_one_line(reuse_workflow):
    done = prunebench(reuse_workflow, "export", CONFIG_FILE, "--dataset", "cifar10")
    assert done.returncode == 1
    assert done.stderr.strip() == ("prunebench export: error: lineage.yaml has no dataset "
                                   "'cifar10'; it has: mnist1d")


def test_snli_rows_map_back_to_the_source_order(tmp_path):
    resources = tmp_path / "resources" / "snli"
    records = fx.write_snli_jsonl(resources, n_train=40)["train"]
    options = {"tokenizer": "wordpiece", "max_length": 16, "vocab_size": 150, "limit_train": 25}
    prepare_dataset("snli", options, tmp_path / "out", resources)
    meta = read_meta(tmp_path / "out")
    labels = np.load(tmp_path / "out" / "train_y.npy")
    rows = source_index("snli", meta)
    assert len(rows) == 25 and np.all(np.diff(rows) > 0)
    assert rows[-1] > 24  # unlabelled rows were skipped, so the order shifted
    gold = ["entailment", "neutral", "contradiction"]
    for i, row in enumerate(rows):
        assert records[row]["gold_label"] == gold[labels[i]]
    assert all(records[r]["gold_label"] == "-" for r in meta["train_source_rows"]["dropped"])


def test_cifar_rows_are_the_dataset_order(tmp_path, monkeypatch):
    resources = tmp_path / "resources"
    written = fx.write_cifar(resources, "cifar10")
    layout = fx.fixture_layout("cifar10", resources)
    monkeypatch.setattr(cifar_module, "cifar_layout", lambda name: layout)
    prepare_dataset("cifar10", {"download": False}, tmp_path / "out", resources)
    meta = read_meta(tmp_path / "out")
    rows = source_index("cifar10", meta)
    train_x = np.load(tmp_path / "out" / "train_x.npy")
    assert np.array_equal(train_x[rows], written["train_x"])  # batch 1 first, file order
    del meta["train_source_rows"]  # prepared before meta.json recorded it: order by construction
    assert source_index("cifar10", meta).tolist() == list(range(len(written["train_y"])))
    assert json.dumps(meta)  # still plain JSON
