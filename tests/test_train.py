"""The training engine: step budgets, schedules, sampler passes, determinism, clean failures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from prunebench.errors import UserError
from prunebench.train.budget import full_steps, plan_steps
from prunebench.train.device import resolve_device
from prunebench.train.passes import SubsetSampler
from prunebench.train.run import run_training
from prunebench.train.samplers import StepContext
from prunebench.train.schedule import lr_factor

from .conftest import digits_spec, split_job, write_subset


def test_step_plans_follow_the_protocols():
    assert full_steps(1000, 128, 10) == 80
    full = plan_steps(protocol="budget", kind="reference", n_train=1000, n_used=1000,
                      batch_size=128, epochs=10)
    assert (full.epochs, full.steps_per_epoch, full.total_steps) == (10, 8, 80)
    budget = plan_steps(protocol="budget", kind="static", n_train=1000, n_used=300,
                        batch_size=128, epochs=10)
    assert budget.total_steps == 10 * math.ceil(300 / 128) == 30
    equal = plan_steps(protocol="equal_steps", kind="static", n_train=1000, n_used=300,
                       batch_size=128, epochs=10)
    assert equal.total_steps == 80  # the full run's steps over fewer examples
    dynamic = plan_steps(protocol="equal_steps", kind="dynamic", n_train=1000, n_used=100,
                         batch_size=128, epochs=10)
    assert dynamic.total_steps == 10


def test_schedules_stretch_over_the_run():
    kw = {"total_steps": 100, "warmup_steps": 10}
    assert lr_factor(0, schedule="cosine", **kw) == pytest.approx(0.1)
    assert lr_factor(9, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_factor(10, schedule="cosine", **kw) == pytest.approx(1.0)
    assert lr_factor(55, schedule="cosine", **kw) == pytest.approx(0.5)
    assert lr_factor(100, schedule="cosine", **kw) == pytest.approx(0.0, abs=1e-12)
    step = {"total_steps": 200, "warmup_steps": 0, "schedule": "step", "gamma": 0.1,
            "milestones": (0.5, 0.75)}
    assert [lr_factor(s, **step) for s in (0, 99, 100, 149, 150)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01])


def test_subset_sampler_covers_the_subset_once_per_pass():
    subset = torch.tensor([3, 5, 7, 11, 13, 17, 19])
    sampler = SubsetSampler(subset, 3, torch.Generator().manual_seed(0))
    ctx = StepContext(model=None, data=None, timers=None, epoch=1, step=0)
    first = torch.cat([sampler.next_batch(ctx).indices for _ in range(3)])  # 3 + 3 + 1
    assert sorted(first.tolist()) == subset.tolist()
    second = torch.cat([sampler.next_batch(ctx).indices for _ in range(3)])
    assert sorted(second.tolist()) == subset.tolist()
    assert not torch.equal(first, second)  # reshuffled


def run(tmp_path, digits_dir, name, seed=0, method="full", subset=None, **training):
    spec = digits_spec(**{"epochs": 2, "batch_size": 64, "lr": 0.05, **training})
    return run_training(*split_job(spec, method=method, fraction=1.0), data_dir=digits_dir,
                        seed=seed, out_dir=tmp_path / name, subset_path=subset, threads=1)


def test_same_seed_is_bit_identical_on_cpu(tmp_path, digits_dir):
    a = run(tmp_path, digits_dir, "a", augment={"crop_padding": 1})
    b = run(tmp_path, digits_dir, "b", augment={"crop_padding": 1})
    c = run(tmp_path, digits_dir, "c", seed=1, augment={"crop_padding": 1})
    assert a["test_loss"] == b["test_loss"] and a["test_acc"] == b["test_acc"]
    assert a["test_loss"] != c["test_loss"]
    hist_a = (tmp_path / "a" / "history.csv").read_text().splitlines()
    hist_b = (tmp_path / "b" / "history.csv").read_text().splitlines()
    # every column but the timings is identical
    assert [row.split(",")[:7] for row in hist_a] == [row.split(",")[:7] for row in hist_b]


def test_run_outputs_and_accounting(tmp_path, digits_dir):
    subset = tmp_path / "subset.npy"
    write_subset(subset, np.arange(0, 1347, 3, dtype=np.int64))  # 449 examples
    metrics = run(tmp_path, digits_dir, "s", method="random", subset=subset)
    assert metrics["n_used"] == 449 and metrics["steps_per_epoch"] == math.ceil(449 / 64)
    assert metrics["steps"] == 2 * 8 and metrics["examples_seen"] == 2 * 449
    assert metrics["full_steps"] == 2 * math.ceil(1347 / 64)
    assert metrics["subset_selection_s"] == 0.0125  # the select job's timer, from its record
    assert set(metrics["time"]) >= {"scoring", "selection", "training", "evaluation"}
    assert metrics["time"]["training"] > 0 and metrics["time"]["evaluation"] > 0
    assert metrics["device"] == "cpu" and metrics["gpu_peak_memory_mb"] is None
    saved = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert saved["test_acc"] == metrics["test_acc"]
    header = (tmp_path / "s" / "history.csv").read_text().splitlines()[0].split(",")
    for column in ("epoch", "step", "lr", "train_loss", "test_loss", "test_acc",
                   "examples_seen", "time_scoring", "time_selection", "time_training",
                   "time_evaluation"):
        assert column in header


def test_full_digits_reaches_95_percent(tmp_path, digits_dir):
    spec = digits_spec(epochs=30, batch_size=64, lr=0.05, warmup_epochs=1,
                       augment={"crop_padding": 1})
    metrics = run_training(*split_job(spec, method="full", fraction=1.0), data_dir=digits_dir,
                           seed=0, out_dir=tmp_path / "full", threads=2)
    assert metrics["test_acc"] >= 0.95


def test_divergence_names_epoch_and_lr(tmp_path, digits_dir):
    with pytest.raises(UserError, match=r"epoch 1 at learning rate 1e\+0?6"):
        run(tmp_path, digits_dir, "nan", lr=1e6, momentum=0.0)
    assert not (tmp_path / "nan" / "metrics.json").exists()


def test_bad_subset_file_is_a_clear_error(tmp_path, digits_dir):
    subset = tmp_path / "bad.npy"
    write_subset(subset, np.array([5, 3, 3], dtype=np.int64))
    with pytest.raises(UserError, match="select_subset"):
        run(tmp_path, digits_dir, "bad", method="random", subset=subset)


def test_cuda_requested_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    with pytest.raises(UserError, match="no GPU is visible"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_momentum_reaches_the_optimizer():
    from prunebench.config import TrainSettings
    from prunebench.train.loop import make_optimizer

    settings = TrainSettings.from_dataset_config(digits_spec(momentum=0.8)["training"])
    optimizer = make_optimizer(torch.nn.Linear(2, 2), settings)
    assert optimizer.param_groups[0]["momentum"] == 0.8
    assert optimizer.param_groups[0]["weight_decay"] == 0.0005


def test_equal_steps_gives_a_subset_the_full_step_count(tmp_path, digits_dir):
    subset = tmp_path / "subset.npy"
    write_subset(subset, np.arange(0, 1347, 4, dtype=np.int64))  # 337 examples
    spec = digits_spec(epochs=2, batch_size=64)
    spec["protocol"] = "equal_steps"
    metrics = run_training(*split_job(spec, method="random", fraction=0.25),
                           data_dir=digits_dir, seed=0, out_dir=tmp_path / "eq",
                           subset_path=subset, threads=1)
    assert metrics["steps"] == metrics["full_steps"] == 2 * math.ceil(1347 / 64)
    assert metrics["examples_seen"] > 2 * 337  # several passes over the subset
