"""The GPU benchmark scripts run where no GPU is, at toy sizes: a lent GPU machine's minutes
must not go on a script that broke when the code under it changed (gpu_training.py once
passed apply_speed a dict after it took a Speed). No timing is asserted, only that each script
runs its path and reports what it measured; and the random datasets the GPU grids run on are
read back by our own readers at their real shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prunebench.data import prepare_dataset
from prunebench.data.prepared import load_prepared

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from random_datasets import layout_patch, minilm_shaped, write_random  # noqa: E402


def run_script(*args: str, timeout: int = 600) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize("dataset,shape,classes", [
    ("cifar100", (3, 32, 32), 100), ("tinyimagenet", (3, 64, 64), 200)])
def test_random_image_datasets_read_back_at_their_real_shapes(tmp_path, dataset, shape,
                                                               classes):
    resources = tmp_path / "resources"
    write_random(dataset, resources, n_train=400, n_test=50)
    with layout_patch(dataset, resources):
        prepare_dataset(dataset, {}, tmp_path / "prepared", resources)
    data = load_prepared(tmp_path / "prepared")
    assert data.train_x.shape == (400, *shape) and data.test_x.shape == (50, *shape)
    assert data.train_x.dtype == np.uint8 and data.train_x.std() > 10  # not blank
    assert data.train_y.max() < classes and len(data.meta["classes"]) == classes


def test_random_snli_and_the_minilm_shaped_encoder(tmp_path):
    from prunebench.models import build_model

    write_random("snli", tmp_path / "resources", n_train=90, n_test=30)
    folder = minilm_shaped(tmp_path / "minilm")
    options = {"tokenizer": str(folder), "max_length": 64}
    prepare_dataset("snli", options, tmp_path / "prepared", tmp_path / "resources")
    data = load_prepared(tmp_path / "prepared")
    assert data.train_x.shape == (90, 3, 64) and data.test_x.shape == (30, 3, 64)
    model = build_model("hf_pretrained", data.train_x.shape[1:], 3, meta=data.meta)
    parameters = sum(p.numel() for p in model.parameters())
    assert 22_000_000 < parameters < 23_500_000  # MiniLM-L6-H384's size: the same compute


def test_gpu_training_script_runs_on_the_cpu():
    out = run_script("benchmarks/gpu_training.py", "--models", "resnet20", "--variants", "fp32",
                     "--steps", "1", "--score-examples", "32")
    assert "resnet20  fp32" in out and "EL2N ex/s" in out


def test_gpu_dag_and_the_crest_probe_run_on_the_cpu(tmp_path):
    workdir = tmp_path / "dag"
    out = run_script("benchmarks/gpu_dag.py", "--device", "cpu", "--n-train", "1000",
                     "--n-test", "100", "--epochs", "4", "--methods", "full", "craig", "crest",
                     "--concurrency", "1", "--jobs", "1", "--concurrency-epochs", "1",
                     "--workdir", str(workdir), "--slots", "2")
    figures = json.loads((workdir / "gpu_dag.json").read_text())
    jobs = {row["method"]: row for row in figures["jobs"]}
    assert set(jobs) == {"full", "craig", "crest"} and "| craig | 0.1 | 0 |" in out
    assert jobs["full"]["selection_efficiency"] is None  # full makes no selection
    assert jobs["craig"]["selection_efficiency"] > 0 and jobs["craig"]["selections"] == 4
    assert figures["concurrency"][0]["jobs"] == 1
    probe = run_script("benchmarks/crest_first_selection.py", "--workdir", str(workdir),
                       "--epochs", "4")
    rows = json.loads((workdir / "crest_first_selection.json").read_text())
    assert set(rows) == {"jobs", "no-autotune", "warm"} and "| warm |" in probe
    assert all(row["selections"] >= 1 and row["first_s"] > 0 for row in rows.values())
