"""End to end with label noise: a tiny noisy MNIST-1D entry (named apart from its loader)
through the real Snakemake DAG; the el2n subset's noisy share, each score's AUROC and precision
at k, and the dynamic run's per-selection shares appear in summary.csv, selections.csv and the
report, equal to what the prepared mask and the score files give."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from prunebench.report.analysis.label_noise import precision_at_k

from .test_pipeline import finished_run, plan_of, planned

NOISY = {
    "experiment": "tiny_noise", "protocol": "budget", "device": "cpu",
    "datasets": {"mnist1d_noise30": {
        "loader": "mnist1d", "model": "mnist1d_cnn", "epochs": 2, "batch_size": 64, "lr": 0.05,
        "options": {"train_size": 400, "test_size": 100,
                    "label_noise": {"rate": 0.3, "kind": "symmetric", "seed": 1}}}},
    "methods": ["random", "el2n", "rs2"],
    "fractions": [0.5], "seeds": [0],
    "proxy": {"seeds": 1, "epochs": 2, "score_epoch": 1, "scores": ["el2n", "forgetting"]},
}
DATASET = "mnist1d_noise30"


@pytest.fixture(scope="module")
def noisy_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("noisy")
    finished_run(workdir, "noisy", NOISY)
    return workdir, plan_of(NOISY)


def test_summary_holds_noisy_shares_and_the_scores_detection(noisy_run):
    workdir, plan = noisy_run
    data = workdir / plan.data_dir(DATASET)
    assert plan.data_dir(DATASET).split("/")[-1].startswith("mnist1d-")  # keyed by the loader
    mask = np.load(data / "train_noisy.npy")
    meta = json.loads((data / "meta.json").read_text())
    assert meta["label_noise"]["flips"] == mask.sum() == sum(
        int(round(0.3 * n)) for n in np.bincount(np.load(data / "train_y_clean.npy")))
    summary = pd.read_csv(workdir / "results" / "tiny_noise" / "summary.csv")
    assert set(summary.dataset) == {DATASET}
    assert (summary.label_noise_rate == 0.3).all()
    full = summary[summary.method == "full"].iloc[0]
    assert full.noisy_share == pytest.approx(mask.mean(), abs=1e-6)

    el2n = summary[summary.method == "el2n"].iloc[0]
    subset = np.load(workdir / plan.subset_file(
        next(r for r in plan.runs() if r.method == "el2n")))
    assert el2n.noisy_share == pytest.approx(mask[subset].mean(), abs=1e-6)
    scores = np.load(workdir / plan.score_file(DATASET, "el2n"))
    assert el2n.score_auroc == pytest.approx(roc_auc_score(mask, scores), abs=1e-6)
    assert el2n.score_precision_at_k == pytest.approx(precision_at_k(scores, mask), abs=1e-6)
    assert np.isnan(summary[summary.method == "random"].score_auroc.iloc[0])


def test_dynamic_selections_record_their_noisy_share(noisy_run):
    workdir, plan = noisy_run
    mask = np.load(workdir / plan.data_dir(DATASET) / "train_noisy.npy")
    run = next(r for r in plan.runs() if r.method == "rs2")
    folder = workdir / plan.run_dir(run)
    log = pd.read_csv(folder / "selections.csv")
    picked = np.load(folder / "selected.npz")
    assert len(log) >= 1
    for s, share in enumerate(log.noisy_share):
        chosen = picked["indices"][picked["offsets"][s]:picked["offsets"][s + 1]]
        assert share == pytest.approx(mask[chosen].mean(), abs=1e-5)
    metrics = json.loads((folder / "metrics.json").read_text())
    # every example trained on, weighted by how often: between the selections' shares
    assert log.noisy_share.min() - 1e-6 <= metrics["noisy_share"] <= log.noisy_share.max() + 1e-6


def test_report_has_the_label_noise_section_and_a_rerun_plans_nothing(noisy_run):
    workdir, plan = noisy_run
    report = workdir / "results" / "tiny_noise" / "report"
    detection = pd.read_csv(report / "tables" / DATASET / "label_noise_detection.csv")
    assert set(detection.score) == {"el2n", "forgetting"}
    summary = pd.read_csv(workdir / "results" / "tiny_noise" / "summary.csv")
    el2n = summary[summary.method == "el2n"].iloc[0]
    assert detection.set_index("score").auroc["el2n"] == pytest.approx(el2n.score_auroc,
                                                                       abs=1e-5)
    kept = pd.read_csv(report / "tables" / DATASET / "label_noise_kept.csv")
    assert kept.method.tolist()[:3] == ["full", "random", "el2n"]
    html = (report / "index.html").read_text()
    assert "Label noise" in html
    says = f"{DATASET} has 30% of its training labels flipped"
    headline = html[html.index(f'id="{DATASET}-says-text"'):]
    assert says in headline[:headline.index("</ul>")]  # in the dataset's headline
    assert f'id="{DATASET}-noise-says">{says}' in html  # and atop its Label noise section
    assert planned(workdir, NOISY) == {}


def test_export_and_the_wandb_dataset_carry_the_clean_label_and_the_mask(noisy_run,
                                                                       monkeypatch):
    from prunebench.export_scores import export_table
    from prunebench.tracking import _dataset_metadata, dataset_artifact

    workdir, plan = noisy_run
    monkeypatch.chdir(workdir)
    data = workdir / plan.data_dir(DATASET)
    table, missing = export_table(plan, DATASET)
    frame = table.to_pandas()
    assert np.array_equal(frame.clean_label, np.load(data / "train_y_clean.npy"))
    assert np.array_equal(frame.noisy, np.load(data / "train_noisy.npy"))
    assert np.array_equal(frame.label, np.load(data / "train_y.npy"))
    assert (frame.label != frame.clean_label).sum() == frame.noisy.sum() > 0
    meta = json.loads(table.schema.metadata[b"prunebench"])
    assert meta["label_noise"]["rate"] == 0.3 and meta["loader"] == "mnist1d"
    artifact = dataset_artifact(plan.data_dir(DATASET))
    names = {name.rsplit("/", 1)[-1] for name in artifact.references}
    assert {"train_y_clean.npy", "train_noisy.npy", "train_y.npy"} <= names
    assert _dataset_metadata(artifact.references)["label_noise"]["flips"] == frame.noisy.sum()
