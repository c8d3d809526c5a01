"""Checkpoint and resume: a killed job restarted with the same settings ends exactly as an
uninterrupted one (CPU), and leaves no checkpoint behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from prunebench.config import load_schema, validate_config
from prunebench.plan import ExperimentPlan
from prunebench.scores.proxy import run_proxy
from prunebench.train import checkpoint as checkpoint_module
from prunebench.train.run import run_training

from .conftest import SCHEMA, digits_spec, job_flags, split_job
from .test_dynamic import SMALL_CREST, dynamic_options

CURVES = ["epoch", "step", "lr", "train_loss", "test_loss", "test_acc", "examples_seen"]


def train_command(data_dir: Path, out: Path, spec: dict) -> list[str]:
    return [str(Path(sys.executable).parent / "prunebench"), "train", "--data", str(data_dir),
            *job_flags(spec), "--seed", "3",
            "--out", str(out), "--threads", "1"]


def test_sigkill_then_restart_matches_an_uninterrupted_run(tmp_path, digits_dir):
    spec = {**digits_spec(epochs=25, batch_size=32, lr=0.05), "checkpoint_every": 1}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run(train_command(digits_dir, whole, spec), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    job = subprocess.Popen(train_command(digits_dir, killed, spec), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.pt").exists() and job.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    time.sleep(0.3)  # let it get a few epochs further, then kill it mid-training
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL
    assert not (killed / "metrics.json").exists(), "the job finished before it was killed"

    again = subprocess.run(train_command(digits_dir, killed, spec), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stdout
    first = json.loads((whole / "metrics.json").read_text())
    second = json.loads((killed / "metrics.json").read_text())
    for key in ("test_acc", "test_loss", "train_loss", "steps", "examples_seen"):
        assert first[key] == second[key], key
    pd.testing.assert_frame_equal(pd.read_csv(whole / "history.csv")[CURVES],
                                  pd.read_csv(killed / "history.csv")[CURVES])
    assert not (killed / "checkpoint.pt").exists() and not (whole / "checkpoint.pt").exists()


class Interrupted(Exception):
    pass


def interrupt_after_saving(monkeypatch, at_epoch: int) -> None:
    """Make the job die right after its checkpoint at `at_epoch` is on disk."""
    save = checkpoint_module.Checkpoint.save

    def save_then_die(self, epoch, parts):
        save(self, epoch, parts)
        if epoch == at_epoch:
            raise Interrupted

    monkeypatch.setattr(checkpoint_module.Checkpoint, "save", save_then_die)


def test_crest_resumes_its_sampler_state(tmp_path, digits_dir, monkeypatch):
    spec = {**digits_spec(epochs=4, batch_size=64), "checkpoint_every": 1,
            "options": dynamic_options("crest", **{**SMALL_CREST, "drop": True,
                                                           "drop_interval": 1})}
    job = split_job(spec, method="crest", fraction=0.3)
    kw = {"data_dir": digits_dir, "seed": 1}
    whole = run_training(*job, out_dir=tmp_path / "whole", **kw)
    with monkeypatch.context() as patch:
        interrupt_after_saving(patch, at_epoch=2)
        with pytest.raises(Interrupted):
            run_training(*job, out_dir=tmp_path / "resumed", **kw)
    resumed = run_training(*job, out_dir=tmp_path / "resumed", **kw)
    assert resumed["test_acc"] == whole["test_acc"]
    assert resumed["sampler"] == whole["sampler"]
    assert resumed["counts"] == whole["counts"]
    a = pd.read_csv(tmp_path / "whole" / "selections.csv")
    b = pd.read_csv(tmp_path / "resumed" / "selections.csv")
    pd.testing.assert_frame_equal(a.drop(columns="selection_s"), b.drop(columns="selection_s"))


def test_proxy_resumes_its_score_recorder(tmp_path, mnist1d_small_dir, monkeypatch):
    config = validate_config({
        "experiment": "t", "datasets": {"mnist1d": {"model": "mnist1d_cnn", "epochs": 6}},
        "methods": ["el2n"], "fractions": [0.5], "seeds": [0], "device": "cpu",
        "proxy": {"seeds": 1, "epochs": 3, "score_epoch": 2,
                  "scores": ["el2n", "el2n_sum", "grand_init", "grand_last", "forgetting"]},
    }, load_schema(SCHEMA))
    plan = ExperimentPlan(config)
    job, ops = plan.proxy_spec("mnist1d"), replace(plan.operations(), checkpoint_every=1)
    with monkeypatch.context() as patch:
        interrupt_after_saving(patch, at_epoch=1)
        with pytest.raises(Interrupted):
            run_proxy(job, ops, data_dir=mnist1d_small_dir, seed=0, out_dir=tmp_path / "b")
    assert (tmp_path / "b" / "checkpoint.pt").exists()
    for output in (tmp_path / "b").glob("state_e*.pt"):  # Snakemake removes a failed job's
        output.unlink()                                   # outputs; its checkpoint stays
    resumed = run_proxy(job, ops, data_dir=mnist1d_small_dir, seed=0, out_dir=tmp_path / "b")
    assert not (tmp_path / "b" / "checkpoint.pt").exists()
    whole = run_proxy(job, ops, data_dir=mnist1d_small_dir, seed=0, out_dir=tmp_path / "a")
    assert resumed["test_acc"] == whole["test_acc"]
    for name in sorted(p.name for p in (tmp_path / "a").glob("*.npy")):
        np.testing.assert_array_equal(np.load(tmp_path / "a" / name),
                                      np.load(tmp_path / "b" / name))
    # the model states later scores come from survive the resume (epoch 0 was taken before it)
    for name in ("state_e0.pt", "state_e2.pt"):
        whole_state, resumed_state = (torch.load(tmp_path / run / name, weights_only=True)
                                      for run in ("a", "b"))
        assert whole_state.keys() == resumed_state.keys()
        for key, value in whole_state.items():
            torch.testing.assert_close(resumed_state[key], value, rtol=0, atol=0)


def test_checkpoint_from_other_settings_is_ignored(tmp_path, digits_dir, monkeypatch):
    spec = {**digits_spec(epochs=3), "checkpoint_every": 1}
    kw = {"data_dir": digits_dir, "seed": 0, "out_dir": tmp_path}
    with monkeypatch.context() as patch:
        interrupt_after_saving(patch, at_epoch=1)
        with pytest.raises(Interrupted):
            run_training(*split_job(spec), **kw)
    assert (tmp_path / "checkpoint.pt").exists()
    changed = split_job({**spec, "training": {**spec["training"], "lr": 0.01}})
    metrics = run_training(*changed, **kw)
    fresh = run_training(*changed, **{**kw, "out_dir": tmp_path / "fresh"})
    assert metrics["test_acc"] == fresh["test_acc"]
    assert not (tmp_path / "checkpoint.pt").exists()
