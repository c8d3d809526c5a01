"""Dynamic samplers: InfoBatch's pruning, CRAIG, random_epoch, and every sampler's run outputs
(CREST's own rules and costs: test_crest.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from prunebench.config import load_schema, validate_config
from prunebench.selection.dynamic.infobatch import InfoBatchSampler
from prunebench.train.budget import plan_steps
from prunebench.train.loop import train_loop
from prunebench.train.run import make_sampler, run_training
from prunebench.train.samplers import SamplerSetup, StepContext
from prunebench.train.setup import set_up_run

from .conftest import SCHEMA, digits_spec, split_job

# CREST at the reference's defaults but small: 12 per class in each of 2 random subsets
SMALL_CREST = {"subset_size": 120, "num_subsets": 2}


def dynamic_options(sampler: str, **overrides) -> dict:
    config = validate_config({
        "experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}}, "methods": ["crest"],
        "fractions": [0.5], "seeds": [0], "options": {sampler: overrides},
    }, load_schema(SCHEMA))
    return config["options"][sampler]


def spec_for(method: str, epochs: int = 3, **options) -> dict:
    sampler = {"crest": "crest", "craig": "craig", "infobatch": "infobatch"}.get(method)
    spec = digits_spec(epochs=epochs, batch_size=64, lr=0.05)
    spec["options"] = dynamic_options(sampler, **options) if sampler else {}
    return spec


def train_with(digits_dir, method: str, fraction: float, spec: dict, seed: int = 0):
    """Run the real loop with the method's sampler; returns (sampler, loop result, run parts)."""
    job, ops = split_job(spec, method=method, fraction=fraction)
    run = set_up_run(job, ops, data_dir=digits_dir, seed=seed, threads=None)
    sampler, n_used = make_sampler(job, run, None)
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train,
                      n_used=n_used, batch_size=run.settings.batch_size,
                      epochs=run.settings.epochs)
    result = train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
                        timers=run.timers, generator=run.augment_generator, log=lambda _: None,
                        progress=False)
    return sampler, result, run


class _Ctx:
    def __init__(self, epoch):
        self.epoch, self.step, self.model, self.data, self.timers = epoch, 0, None, None, None


def test_infobatch_prunes_only_below_mean_and_rescales():
    n, ratio = 1000, 0.5
    setup = SamplerSetup(labels=torch.zeros(n, dtype=torch.long), num_classes=1, fraction=1.0,
                         batch_size=100, eval_batch_size=100, epochs=8,
                         generator=torch.Generator().manual_seed(0),
                         options=InfoBatchSampler.Options(prune_ratio=ratio, anneal=0.875))
    sampler = InfoBatchSampler(setup)
    sampler.start_epoch(_Ctx(1))
    assert len(sampler.passes.indices) == n  # nothing known yet: all kept
    losses = torch.rand(n, generator=torch.Generator().manual_seed(1))
    sampler.observe(torch.arange(n), losses)
    sampler.start_epoch(_Ctx(2))
    kept, weights = sampler.passes.indices, sampler.passes.weights
    below = losses < losses.mean()
    skipped = torch.ones(n, dtype=torch.bool)
    skipped[kept] = False
    assert skipped.any() and not (skipped & ~below).any()  # only below-mean examples skipped
    assert abs(skipped.sum().item() / below.sum().item() - ratio) < 0.1
    expected = torch.where(below[kept], 1 / (1 - ratio), 1.0)
    assert torch.allclose(weights, expected)
    assert sampler.epoch_steps(2, 10) == math.ceil(len(kept) / 100)
    sampler.start_epoch(_Ctx(8))  # the final 1/8 of the epochs: all data, weight 1
    assert len(sampler.passes.indices) == n and (sampler.passes.weights == 1).all()


def test_craig_picks_class_quotas_with_mean_one_weights(digits_dir):
    spec = spec_for("craig", epochs=2)
    sampler, result, run = train_with(digits_dir, "craig", 0.2, spec)
    records = sampler.outputs().selections
    assert len(records) == 2  # one selection per epoch
    labels = run.data.train_y.cpu().numpy()
    for record in records:
        idx = record.indices.numpy()
        assert len(idx) == round(0.2 * len(labels)) and len(set(idx)) == len(idx)
        assert record.weights.mean().item() == pytest.approx(1.0, rel=1e-5)
        share = np.bincount(labels[idx], minlength=10) / len(idx)
        assert np.abs(share - np.bincount(labels, minlength=10) / len(labels)).max() < 0.02


def test_random_epoch_draws_a_fresh_subset_each_epoch(digits_dir):
    spec = spec_for("random_epoch", epochs=1)
    job, ops = split_job(spec, method="random_epoch", fraction=0.25)
    run = set_up_run(job, ops, data_dir=digits_dir, seed=0, threads=None)
    sampler, n_used = make_sampler(job, run, None)
    firsts = []
    for epoch in (1, 2):
        ctx = StepContext(run.model, run.data, run.timers, epoch, 0)
        sampler.start_epoch(ctx)
        seen = torch.cat([sampler.next_batch(ctx).indices for _ in range(math.ceil(n_used / 64))])
        assert len(seen) == n_used == len(set(seen.tolist()))
        firsts.append(set(seen.tolist()))
    assert firsts[0] != firsts[1]


@pytest.mark.parametrize("method", ["crest", "random_epoch", "craig", "infobatch"])
def test_run_training_writes_dynamic_outputs(tmp_path, digits_dir, method):
    options = SMALL_CREST if method == "crest" else {}
    fraction = 1.0 if method == "infobatch" else 0.3
    job = split_job(spec_for(method, epochs=2, **options), method=method, fraction=fraction)
    metrics = run_training(*job, data_dir=digits_dir, seed=0, out_dir=tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())["test_acc"] == metrics["test_acc"]
    assert metrics["kind"] == "dynamic"
    counts = metrics["counts"]
    assert counts["forward_examples"] >= counts["backward_examples"] >= metrics["examples_seen"]
    if method == "infobatch":
        assert metrics["steps"] <= metrics["full_steps"]
    else:
        assert metrics["steps"] == 2 * math.ceil(round(0.3 * 1347) / 64)
    if method in ("crest", "craig"):
        log = pd.read_csv(tmp_path / "selections.csv")
        # the generic columns, then the method's own: CREST's four, none for CRAIG
        own = ["rel_error", "check_interval", "num_coresets", "curvature_norm"]
        assert list(log.columns) == ["step", "epoch", "reason", "pool_size", "n_selected",
                                     "selection_s", *(own if method == "crest" else [])]
        assert log.reason.iloc[0] == "initial"
        if method == "crest":  # filled at every selection (rel_error: only after a check)
            assert log[own[1:]].notna().all().all() and pd.isna(log.rel_error.iloc[0])
        picked = np.load(tmp_path / "selected.npz")
        assert len(picked["steps"]) == len(log) == len(picked["offsets"]) - 1
        assert picked["offsets"][-1] == len(picked["indices"]) == len(picked["weights"])
        assert metrics["time"]["selection/facility_location"] > 0
    if method == "crest":
        assert metrics["time"]["selection/hessian"] > 0
        assert counts["selection_backward_examples"] > 0
        assert metrics["sampler"]["warmup_steps"] == math.ceil(round(0.3 * 1347) / 64)
