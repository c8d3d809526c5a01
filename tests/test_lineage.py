"""W&B artifacts and lineage: a small real workflow run offline, read back from the offline
run files (no network: the workflow runs in a network namespace of its own when the test runs
as root). Each job's run records which artifacts it used and which it logged; the graph must be
data -> proxy runs -> scores -> mean-scores run -> scores -> select run -> subset -> training run
-> run -> report run, with one version (digest) per artifact name."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from prunebench import paths
from prunebench.tracking import artifact_name

from .reuse_workflow import CONFIG, workflow_dir
from .test_pipeline import plan_of
from .test_tracking import read_run, wandb_records


@pytest.fixture(scope="module")
def reuse_workflow(tmp_path_factory) -> Path:
    return workflow_dir(tmp_path_factory)

def artifacts_of(run_file: Path) -> dict:
    """used / logged artifacts of one offline run: name -> (type, digest, manifest entries)."""
    used, logged = {}, {}
    for record in wandb_records(run_file):
        if record.WhichOneof("record_type") == "artifact":
            art = record.artifact
            entries = {e.path: e for e in art.manifest.contents}
            target = used if art.use_after_commit else logged
            target[art.name] = (art.type, art.digest, entries)
    return {"used": used, "logged": logged}


@pytest.fixture(scope="module")
def offline_workflow(reuse_workflow):
    runs = []
    for run_file in sorted((reuse_workflow / "results").rglob("offline-run-*/run-*.wandb")):
        runs.append({**read_run(run_file), **artifacts_of(run_file), "file": run_file})
    return reuse_workflow, runs


def test_every_job_records_what_it_used_and_logged(offline_workflow):
    workdir, runs = offline_workflow
    plan = plan_of(CONFIG)
    by_type = defaultdict(list)
    for run in runs:
        by_type[run["job_type"]].append(run)
        assert run["exit_code"] == 0
    # one run per job: 2 proxy seeds, 1 mean (el2n: the score a method ranks by), 1 subset,
    # 4 trainings (full, el2n, random_epoch, rs2), 1 report
    assert {k: len(v) for k, v in by_type.items()} == {
        "proxy": 2, "mean-scores": 1, "select": 1, "train": 4, "report": 1}

    def name(path) -> str:  # artifact names are store paths, seen from the workflow directory
        return _relative_name(workdir, path)

    data = name(plan.data_dir("mnist1d"))
    for seed, run in enumerate(sorted(by_type["proxy"], key=lambda r: r["config"]["seed"])):
        assert run["config"]["seed"] == seed
        assert set(run["used"]) == {data} and run["used"][data][0] == "dataset"
        proxy = plan.proxy_dir("mnist1d", seed)
        # every array the run computes while it trains (TRAINED_SCORES), not only the two the
        # config lists: a score added later reads the same run
        arrays = [f for f in plan.proxy_files() if f.endswith(".npy")]
        assert {"el2n_e1.npy", "forgetting.npy"} <= set(arrays)
        assert set(run["logged"]) == {name(f"{proxy}/{array}") for array in arrays}
        assert {kind for kind, _, _ in run["logged"].values()} == {"scores"}

    el2n = name(plan.score_file("mnist1d", "el2n"))
    (mean,) = [r for r in by_type["mean-scores"] if el2n in r["logged"]]
    assert set(mean["used"]) == {name(f"{plan.proxy_dir('mnist1d', s)}/el2n_e1.npy")
                                 for s in (0, 1)}

    from prunebench.plan import Run

    el2n_run = Run("mnist1d", "el2n", 0.5, 0)
    subset = name(plan.subset_file(el2n_run))
    (select,) = by_type["select"]
    assert set(select["used"]) == {data, el2n} and set(select["logged"]) == {subset}
    assert select["logged"][subset][0] == "subset"

    trains = {r["config"]["variant"]: r for r in by_type["train"]}
    assert set(trains["el2n"]["used"]) == {data, subset}
    assert set(trains["random_epoch"]["used"]) == {data}  # dynamic: no subset
    for run in trains.values():
        (logged,) = run["logged"].values()
        assert logged[0] == "run" and set(logged[2]) == set(paths.RUN_FILES)

    (report,) = by_type["report"]
    assert set(report["used"]) == {name(plan.run_dir(r)) for r in plan.runs()}
    assert all(kind != "run" for kind, _, _ in report["logged"].values())


def test_a_use_and_its_log_are_one_version(offline_workflow):
    """The job that reads an artifact rebuilds it from the same files: the same digest, so W&B
    resolves the use to the version the producing job logged."""
    _, runs = offline_workflow
    logged = {n: a for run in runs for n, a in run["logged"].items() if a[0] != "run_table"}
    for run in runs:
        for artifact, (kind, digest, _) in run["used"].items():
            if kind == "dataset":
                continue  # prepared data has no producing run: it is referenced, not logged
            assert artifact in logged, (run["job_type"], artifact)
            assert logged[artifact][1] == digest, artifact


def test_data_is_referenced_with_checksums_and_outputs_are_staged(offline_workflow):
    workdir, runs = offline_workflow
    plan = plan_of(CONFIG)
    data_dir = Path(workdir, plan.data_dir("mnist1d"))
    meta = json.loads((data_dir / "meta.json").read_text())
    (train,) = [r for r in runs if r["job_type"] == "train" and r["config"]["variant"] == "el2n"]
    (dataset,) = [a for a in train["used"].values() if a[0] == "dataset"]
    entries = dataset[2]
    assert set(entries) == set(paths.PREPARED_FILES)
    for file_name, entry in entries.items():
        assert entry.ref == (data_dir / file_name).resolve().as_uri()  # a reference...
        assert not entry.local_path  # ...never copied
    record = next(rec.artifact for rec in wandb_records(train["file"])
                  if rec.WhichOneof("record_type") == "artifact" and rec.artifact.type == "dataset")
    assert json.loads(record.metadata)["sha256"] == {k: v["sha256"]
                                                     for k, v in meta["files"].items()}
    # a logged artifact's files are staged for `wandb sync` with their manifest
    (run_artifact,) = train["logged"].values()
    for entry in run_artifact[2].values():
        assert Path(entry.local_path).is_file() and entry.digest


def test_runs_carry_the_dashboard_keys(offline_workflow):
    _, runs = offline_workflow
    for run in runs:
        if run["job_type"] == "train":
            config = run["config"]
            assert {"dataset", "method", "variant", "fraction", "seed", "protocol"} <= set(config)
            assert config["dataset"] == "mnist1d" and config["protocol"] == "budget"


def test_the_report_run_logs_the_summary_table(offline_workflow):
    workdir, runs = offline_workflow
    (report,) = [r for r in runs if r["job_type"] == "report"]
    assert report["config"]["experiment"] == "lineage"
    summary = pd.read_csv(Path(workdir, paths.summary_file("lineage")))
    logged = {k: v for row in report["history"] for k, v in row.items()}
    assert logged["summary._type"] == "table-file" and logged["summary.nrows"] == len(summary)
    table = json.loads((report["file"].parent / "files" / logged["summary.path"]).read_text())
    assert table["columns"] == list(summary.columns)
    assert [row[table["columns"].index("test_acc")] for row in table["data"]] == \
        summary.test_acc.tolist()
    figures = {k.rsplit(".", 1)[0] for k in logged if k.startswith("figures/mnist1d/")}
    assert "figures/mnist1d/accuracy_vs_fraction" in figures
    for key in figures:
        assert logged[f"{key}._type"] == "html-file"
        html = (report["file"].parent / "files" / logged[f"{key}.path"]).read_text()
        assert "<svg" in html


def _relative_name(workdir: Path, path: str) -> str:
    import os

    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        return artifact_name(path)
    finally:
        os.chdir(cwd)


def test_artifact_names_are_store_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert artifact_name("results/data/mnist1d-1a2b3c4d") == "data.mnist1d-1a2b3c4d"
    assert artifact_name(tmp_path / "results/proxy/d/m/p/seed0/el2n_e1.npy") == \
        "proxy.d.m.p.seed0.el2n_e1.npy"  # absolute or relative: one name
    assert artifact_name("results/a b/c+d.npy") == "a_b.c_d.npy"  # only what W&B allows
    long = "results/" + "/".join(["abcdefghij"] * 20)
    assert len(artifact_name(long)) <= 128
    assert artifact_name(long) != artifact_name(long + "k")


def test_dashboard_keys_name_method_and_variant():
    from prunebench.tracking import dashboard_keys

    spec = {"dataset": "cifar10", "method": "ccs_b05", "base_method": "ccs", "fraction": 0.3,
            "seed": 2, "protocol": "budget", "training": {"epochs": 200}}
    assert dashboard_keys(spec) == {"dataset": "cifar10", "method": "ccs", "variant": "ccs_b05",
                                    "fraction": 0.3, "seed": 2, "protocol": "budget"}
    assert dashboard_keys({"dataset": "d", "seed": 0}) == {"dataset": "d", "seed": 0}
