"""Dynamic samplers: CREST's costs and rules, InfoBatch's pruning, CRAIG, random_epoch."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from prunebench.config import load_schema, validate_config
from prunebench.selection.dynamic import SamplerSetup
from prunebench.selection.dynamic.crest_pool import LearnedPool
from prunebench.selection.dynamic.infobatch import InfoBatchSampler
from prunebench.train.budget import plan_steps
from prunebench.train.loop import train_loop
from prunebench.train.run import make_sampler, run_training
from prunebench.train.samplers import StepContext
from prunebench.train.setup import set_up_run

from .conftest import SCHEMA, digits_spec

SMALL_CREST = {"subset_size": 120, "num_subsets": 2, "check_interval": 2, "drop": False}


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
    run = set_up_run(data_dir=digits_dir, spec=spec, seed=seed, threads=None)
    sampler, n_used = make_sampler(method, run, spec, fraction, None)
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train,
                      n_used=n_used, batch_size=run.settings.batch_size,
                      epochs=run.settings.epochs)
    result = train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
                        timers=run.timers, generator=run.augment_generator, log=lambda _: None,
                        progress=False)
    return sampler, result, run


def test_crest_trains_with_one_backward_per_step_outside_selection(digits_dir):
    spec = spec_for("crest", epochs=2, **SMALL_CREST)
    run = set_up_run(data_dir=digits_dir, spec=spec, seed=0, threads=None)
    sampler, n_used = make_sampler("crest", run, spec, 0.3, None)
    backward_calls = {"all": 0, "in_selection": 0}
    run.model.head.register_full_backward_hook(
        lambda *_: backward_calls.__setitem__("all", backward_calls["all"] + 1))
    select = sampler.select

    def counted_select(*args, **kwargs):
        before = backward_calls["all"]
        select(*args, **kwargs)
        backward_calls["in_selection"] += backward_calls["all"] - before

    sampler.select = counted_select
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train, n_used=n_used,
                      batch_size=64, epochs=2)
    result = train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
                        timers=run.timers, generator=run.augment_generator, log=lambda _: None,
                        progress=False)
    assert result.steps == plan.total_steps == 2 * math.ceil(round(0.3 * 1347) / 64)
    assert backward_calls["in_selection"] > 0  # the Hessian estimate happens at selection...
    # ...and every training step is exactly one backward pass, no double backward
    assert backward_calls["all"] - backward_calls["in_selection"] == result.steps


def test_crest_check_forwards_only_the_random_subsets(digits_dir):
    spec = spec_for("crest", epochs=2, **SMALL_CREST)
    run = set_up_run(data_dir=digits_dir, spec=spec, seed=0, threads=None)
    sampler, n_used = make_sampler("crest", run, spec, 0.3, None)
    forwarded = {"n": 0}
    run.model.register_forward_pre_hook(
        lambda _module, args: forwarded.__setitem__("n", forwarded["n"] + len(args[0])))
    sizes = []
    check = sampler.check

    def counted_check(ctx):
        before = forwarded["n"]
        value = check(ctx)
        sizes.append(forwarded["n"] - before)
        return value

    sampler.check = counted_check
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train, n_used=n_used,
                      batch_size=64, epochs=2)
    train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
               timers=run.timers, generator=run.augment_generator, log=lambda _: None,
               progress=False)
    subsets = SMALL_CREST["num_subsets"] * SMALL_CREST["subset_size"]
    assert sizes and all(size == subsets for size in sizes)
    assert subsets < run.data.n_train


def test_smaller_tau_never_reselects_less_and_zero_reselects_at_every_check(digits_dir):
    failed = {}
    for tau in (0.0, 0.02, 0.2, 1e9):
        spec = spec_for("crest", epochs=3, **{**SMALL_CREST, "tau": tau})
        sampler, _, _ = train_with(digits_dir, "crest", 0.5, spec)
        out = sampler.outputs()
        failed[tau] = sum(r.reason == "check failed" for r in out.selections)
        if tau == 0.0:
            assert out.extra["checks"] > 0
            assert failed[tau] == out.extra["checks"]
    counts = [failed[t] for t in sorted(failed)]
    assert counts == sorted(counts, reverse=True), failed
    assert failed[1e9] == 0


def test_learned_pool_respects_floors_and_orders_by_loss():
    labels = torch.tensor([0] * 10 + [1] * 10)
    pool = LearnedPool(labels, watch=2, thresh=0.5, class_floor=0.3, min_pool=0.5)
    losses = torch.linspace(0.0, 0.4, 20)  # everything learned, class 0 the most
    pool.record(torch.arange(20), losses)
    assert len(pool.drop()) == 0  # one observation is not enough with watch=2
    pool.record(torch.arange(20), losses)
    dropped = pool.drop()
    assert pool.size == 10  # min_pool = half of 20
    per_class = torch.bincount(labels[pool.active], minlength=2)
    assert (per_class >= 3).all()  # class floor: 30% of 10
    assert set(dropped.tolist()) == set(range(7)) | {10, 11, 12}  # lowest losses first


def test_crest_drop_keeps_floors_and_never_draws_dropped_examples(digits_dir):
    spec = spec_for("crest", epochs=4, **{**SMALL_CREST, "drop": True, "drop_interval": 1,
                                          "drop_watch": 1, "drop_thresh": 50.0,
                                          "class_floor": 0.4, "min_pool": 0.6})
    run = set_up_run(data_dir=digits_dir, spec=spec, seed=0, threads=None)
    sampler, n_used = make_sampler("crest", run, spec, 0.3, None)
    pool, dropped_so_far, violations, sizes = sampler.pool, set(), [], []
    drop, draw = pool.drop, pool.draw

    def recording_drop():
        out = drop()
        dropped_so_far.update(out.tolist())
        sizes.append(pool.size)
        return out

    def checking_draw(size, generator):
        picked = draw(size, generator)
        violations.extend(set(picked.tolist()) & dropped_so_far)
        return picked

    pool.drop, pool.draw = recording_drop, checking_draw
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train, n_used=n_used,
                      batch_size=64, epochs=4)
    train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
               timers=run.timers, generator=run.augment_generator, log=lambda _: None,
               progress=False)
    n = run.data.n_train
    assert dropped_so_far, "the aggressive drop rule should have dropped something"
    assert not violations
    assert min(sizes) >= math.ceil(0.6 * n)
    labels = run.data.train_y.cpu()
    floors = torch.ceil(torch.bincount(labels).double() * 0.4).long()
    assert (torch.bincount(labels[pool.active], minlength=len(floors)) >= floors).all()


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
    run = set_up_run(data_dir=digits_dir, spec=spec, seed=0, threads=None)
    sampler, n_used = make_sampler("random_epoch", run, spec, 0.25, None)
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
    metrics = run_training(data_dir=digits_dir, spec=spec_for(method, epochs=2, **options),
                           method=method, fraction=fraction, seed=0, out_dir=tmp_path)
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
        assert list(log.columns) == ["step", "epoch", "reason", "rel_error", "pool_size",
                                     "n_selected", "selection_s"]
        assert log.reason.iloc[0] == "initial"
        picked = np.load(tmp_path / "selected.npz")
        assert len(picked["steps"]) == len(log) == len(picked["offsets"]) - 1
        assert picked["offsets"][-1] == len(picked["indices"]) == len(picked["weights"])
        assert metrics["time"]["selection/facility_location"] > 0
    if method == "crest":
        assert metrics["time"]["selection/hessian"] > 0
        assert counts["selection_backward_examples"] > 0
