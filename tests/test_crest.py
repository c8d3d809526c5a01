"""CREST: the reference mechanism's rules against hand-derived values, and its costs."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunebench.report.analysis.crest import crest_run_table, crest_selections, dataset_baseline
from prunebench.report.render.figures_selection import crest_selection
from prunebench.selection.dynamic.crest import adapted_interval
from prunebench.selection.dynamic.crest import sampler as crest_module
from prunebench.selection.dynamic.crest.coresets import minibatch_coresets
from prunebench.selection.dynamic.crest.pool import CrestPool
from prunebench.selection.dynamic.crest.quadratic import (
    AdaHessianMoments,
    QuadraticModel,
    fit_quadratic,
    flat_parameters,
)
from prunebench.selection.kernels.facility_location import greedy_facility_location
from prunebench.train.budget import plan_steps
from prunebench.train.loop import train_loop
from prunebench.train.outputs import write_selection_log
from prunebench.train.run import make_sampler
from prunebench.train.samplers import SelectionRecord
from prunebench.train.setup import set_up_run

from .conftest import split_job
from .test_dynamic import SMALL_CREST, spec_for

N_DIGITS, B = 1347, 64
S_AT_03 = math.ceil(round(0.3 * N_DIGITS) / B)  # one budget epoch of steps at f = 0.3: 7


def crest_run(digits_dir, fraction=0.3, epochs=2, **options):
    """(sampler, run parts, plan) for a CREST run on digits that has not trained yet."""
    spec = spec_for("crest", epochs=epochs, **{**SMALL_CREST, **options})
    job, ops = split_job(spec, method="crest", fraction=fraction)
    run = set_up_run(job, ops, data_dir=digits_dir, seed=0, threads=None)
    sampler, n_used = make_sampler(job, run, None)
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train,
                      n_used=n_used, batch_size=B, epochs=epochs)
    return sampler, run, plan


def train(sampler, run, plan):
    return train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
                      timers=run.timers, generator=run.augment_generator, log=lambda _: None,
                      progress=False)


# -- the quadratic model: AdaHessian moments -------------------------------------------------
def tiny_model(generator: torch.Generator) -> nn.Module:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    return model


def weighted_loss(model, flat, x, y, w):
    """mean(w * loss) of a float64 train-mode copy of `model` at flat parameters `flat`."""
    ref = copy.deepcopy(model).double().train()
    params, start = {}, 0
    for name, p in ref.named_parameters():
        params[name] = flat[start:start + p.numel()].reshape(p.shape)
        start += p.numel()
    logits = torch.func.functional_call(ref, {**params, **dict(ref.named_buffers())},
                                        (x.double(),))
    return (F.cross_entropy(logits, y, reduction="none") * w.double()).mean()


def direct_adahessian(model, theta, batches, z_generator, state):
    """AdaHessian written out for one selection: the exact Hessian (float64, train mode),
    u = z * (H z), the two EMAs with bias correction and eps, `state` carried over."""
    g_sum = h_sum = 0
    norms, count = [], 0
    for x, y, w in batches:
        def loss(flat, x=x, y=y, w=w):
            return weighted_loss(model, flat, x, y, w)

        g = torch.autograd.functional.jacobian(loss, theta.double())
        hessian = torch.autograd.functional.hessian(loss, theta.double())
        z = (torch.randint(0, 2, (len(theta),), generator=z_generator) * 2 - 1).double()
        u = z * (hessian @ z)
        state["t"] += 1
        state["m"] = 0.9 * state["m"] + 0.1 * g
        state["v"] = 0.999 * state["v"] + 0.001 * u**2
        g_hat = state["m"] / (1 - 0.9 ** state["t"])
        h_hat = state["v"].sqrt() / math.sqrt(1 - 0.999 ** state["t"]) + 1e-4
        g_sum, h_sum = g_sum + len(y) * g_hat, h_sum + len(y) * h_hat
        norms.append(float(h_hat.norm()))
        count += len(y)
    return g_sum / count, h_sum / count, sum(norms) / len(norms)


def test_adahessian_moments_equal_a_direct_implementation_across_two_selections():
    gen = torch.Generator().manual_seed(0)
    model = tiny_model(gen)

    def batch(n):
        return (torch.randn(n, 3, generator=gen), torch.randint(0, 3, (n,), generator=gen),
                torch.rand(n, generator=gen) + 0.5)

    selections = [([batch(5), batch(3)], 7, 1.5), ([batch(4), batch(6), batch(2)], 8, 0.7)]
    moments = AdaHessianMoments()
    n_params = len(flat_parameters(model))
    state = {"m": torch.zeros(n_params, dtype=torch.float64),
             "v": torch.zeros(n_params, dtype=torch.float64), "t": 0}
    for batches, seed, loss0 in selections:
        buffers_before = [b.clone() for b in model.buffers()]
        theta = flat_parameters(model)
        fit = fit_quadratic(model, batches, loss0=loss0, moments=moments, probes=1,
                            generator=torch.Generator().manual_seed(seed), train=True)
        g0, h0, norm = direct_adahessian(model, theta, batches,
                                         torch.Generator().manual_seed(seed), state)
        torch.testing.assert_close(fit.grad0.double(), g0, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(fit.hess0.double(), h0, rtol=1e-4, atol=1e-6)
        assert fit.curvature_norm == pytest.approx(norm, rel=1e-4)
        assert torch.equal(fit.theta0, theta) and fit.loss0 == loss0
        assert (fit.hess0 > 1e-4).all()  # sqrt of a mean square + eps: never signed
        for before, after in zip(buffers_before, model.buffers(), strict=True):
            assert torch.equal(before, after)  # the train-mode fit left the BN statistics
        with torch.no_grad():  # training moves the parameters before the next selection
            for p in model.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
    assert moments.t == 5  # t counts every batch of both selections


def test_hutchinson_is_the_signed_weighted_mean_without_state():
    gen = torch.Generator().manual_seed(1)
    model = tiny_model(gen)
    batches = [(torch.randn(n, 3, generator=gen), torch.randint(0, 3, (n,), generator=gen),
                torch.ones(n)) for n in (4, 6)]
    fit = fit_quadratic(model, batches, loss0=1.0, moments=None, probes=2,
                        generator=torch.Generator().manual_seed(3), train=True)
    z_gen = torch.Generator().manual_seed(3)
    theta = flat_parameters(model)
    expected_h = torch.zeros(len(theta), dtype=torch.float64)
    expected_g = torch.zeros(len(theta), dtype=torch.float64)
    for x, y, w in batches:
        def loss(flat, x=x, y=y, w=w):
            return weighted_loss(model, flat, x, y, w)

        g = torch.autograd.functional.jacobian(loss, theta.double())
        hessian = torch.autograd.functional.hessian(loss, theta.double())
        u = 0
        for _ in range(2):  # two probes, averaged
            z = (torch.randint(0, 2, (len(theta),), generator=z_gen) * 2 - 1).double()
            u = u + z * (hessian @ z) / 2
        expected_g += len(y) * g / 10  # weighted by batch size over 4 + 6 examples
        expected_h += len(y) * u / 10
    torch.testing.assert_close(fit.grad0.double(), expected_g, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(fit.hess0.double(), expected_h, rtol=1e-4, atol=1e-6)
    assert (fit.hess0 < 0).any()  # the signed estimate


# -- the warm-up epoch --------------------------------------------------------------------------
@pytest.mark.parametrize("warmup_lr", ["zero", "schedule"])
def test_warmup_is_one_budget_epoch_of_uniform_batches_then_the_first_selection(digits_dir,
                                                                               warmup_lr):
    sampler, run, plan = crest_run(digits_dir, warmup_lr=warmup_lr)
    initial = flat_parameters(run.model).clone()
    batches, at_selection = [], []
    next_batch, select = sampler.next_batch, sampler.select

    def recording_next_batch(ctx):
        batch = next_batch(ctx)
        batches.append(batch)
        return batch

    def recording_select(ctx, *args):
        at_selection.append((ctx.step, flat_parameters(ctx.model).clone()))
        select(ctx, *args)

    sampler.next_batch, sampler.select = recording_next_batch, recording_select
    train(sampler, run, plan)
    warmup = batches[:S_AT_03]
    seen = torch.cat([b.indices for b in warmup]).tolist()
    # the first S batches are one shuffled pass over all N: distinct, full size, weight 1
    assert all(len(b.indices) == B and b.weights is None for b in warmup)
    assert len(set(seen)) == len(seen) == S_AT_03 * B and max(seen) < N_DIGITS
    assert set(run.data.train_y[seen].tolist()) == set(range(10))
    assert [b.lr_scale for b in warmup] == [0.0 if warmup_lr == "zero" else 1.0] * S_AT_03
    assert all(b.lr_scale == 1.0 and b.weights is not None for b in batches[S_AT_03:])
    assert at_selection[0][0] == S_AT_03 == sampler.records[0].step
    assert sampler.outputs().extra["warmup_steps"] == S_AT_03
    unchanged = torch.equal(at_selection[0][1], initial)
    assert unchanged == (warmup_lr == "zero")  # lr 0: no optimizer step, weights untouched
    assert not torch.equal(flat_parameters(run.model), initial)  # ...and training did move them


def test_without_warmup_the_first_selection_is_at_step_zero(digits_dir):
    sampler, run, plan = crest_run(digits_dir, epochs=1, warmup=False)
    train(sampler, run, plan)
    assert sampler.records[0].step == 0 and sampler.records[0].reason == "initial"
    assert sampler.outputs().extra["warmup_steps"] == 0


# -- the adaptive check interval and number of coresets ---------------------------------------
def test_adapted_interval_by_hand():
    assert adapted_interval(4.0, 2.0, 1.0, 5.0, 100) == (2, 10)
    assert adapted_interval(4.0, 8.0, 1.0, 5.0, 100) == (1, 5)  # curvature grew: every step
    assert adapted_interval(4.0, 0.5, 1.5, 5.0, 30) == (12, 30)  # m capped at S
    assert adapted_interval(3.0, 2.0, 1.0, 2.5, 100) == (2, 5)  # ceil(1.5) = 2


@pytest.mark.parametrize("adaptive", [True, False])
def test_interval_and_m_follow_the_rule_for_scripted_curvature(digits_dir, monkeypatch,
                                                               adaptive):
    norms = iter([6.0, 3.0, 1.0, 12.0, 2.5, 0.5] + [6.0] * 100)

    def scripted_fit(model, batches, *, loss0, **_):
        for _ in batches:  # the batches are still built (augmentation draws happen)
            pass
        theta = flat_parameters(model)
        # predicts -1 everywhere: with tau 0 every check fails
        return QuadraticModel(-1.0, torch.zeros_like(theta), torch.zeros_like(theta), theta,
                              next(norms))

    monkeypatch.setattr(crest_module, "fit_quadratic", scripted_fit)
    sampler, run, plan = crest_run(digits_dir, epochs=4, tau=0.0, check_interval=2,
                                   num_subsets=3, interval_mul=1.5, batch_num_mul=2.0,
                                   adaptive=adaptive)
    train(sampler, run, plan)
    records = sampler.records
    assert len(records) >= 6
    if adaptive:
        # ceil(6 / norm * 1.5), m = min(ceil(interval * 2), S = 7); the first keeps 2 and 3
        intervals = [2, 3, 9, 1, 4, 18]
        ms = [3, 6, 7, 2, 7, 7]
    else:
        intervals, ms = [2] * 6, [3] * 6
    assert [r.columns["check_interval"] for r in records[:6]] == intervals
    # m is set after a selection and used by the next one
    assert [r.columns["num_coresets"] for r in records[:6]] == [3] + ms[:5]
    assert [r.columns["curvature_norm"] for r in records[:6]] == [6.0, 3.0, 1.0, 12.0, 2.5, 0.5]
    gaps = [b.step - a.step for a, b in zip(records, records[1:], strict=False)][:5]
    assert gaps == intervals[:5]  # every check fails, so each gap is the interval in force
    per_subset = 10 * math.ceil(SMALL_CREST["subset_size"] / 10)
    assert all(r.pool_size == N_DIGITS for r in records)
    assert sampler.random_union is not None
    assert len(sampler.random_union) == records[-1].columns["num_coresets"] * per_subset


# -- the learned-example rule -----------------------------------------------------------------
def test_learned_example_rule_on_a_scripted_watch_table():
    labels = torch.tensor([0] * 6 + [1] * 6 + [2] * 6)
    pool = CrestPool(labels, 3, per_class=2, watch=2, thresh=0.5, min_pool=0.5)
    # epoch 1 (slot 0): examples 0-5 of class 0 and 6-9 of class 1
    pool.record(1, torch.arange(10), torch.tensor([.1, .9, .2, .3, .1, .1, .1, .1, .2, .9]))
    # epoch 2 (slot 1): 0 again, now high; 12-14 of class 2 low
    pool.record(2, torch.tensor([0, 12, 13, 14]), torch.tensor([.8, .1, .2, .3]))
    # epoch 3 overwrites slot 0: example 1 (high in epoch 1) is now low
    pool.record(3, torch.tensor([1]), torch.tensor([.05]))
    kept = pool.rule()
    # class 0: 0 (0.8 in slot 1) stays; 1 (slot 0 now 0.05, slot 1 never written) and 2-5
    # are learned -> 1 left <= per_class 2: class 0 keeps its whole current pool
    # class 1: 9 (0.9) and 10, 11 (never recorded) stay -> 3 > 2: the rule applies
    # class 2: 15-17 never recorded stay, 12-14 learned -> 3 > 2: applies
    expected = set(range(6)) | {9, 10, 11} | {15, 16, 17}
    assert set(torch.nonzero(kept).flatten().tolist()) == expected
    assert pool.update() == 18 - 12 and pool.size == 12  # 12 > min_pool * 18 = 9: applied
    # a drawn subset takes ceil(r/C) = 2 per class, only from the pool
    drawn = pool.draw(torch.Generator().manual_seed(0))
    assert torch.bincount(labels[drawn], minlength=3).tolist() == [2, 2, 2]
    assert set(drawn.tolist()) <= expected
    # everything learned now: classes fall back to their pools, so nothing changes
    pool.record(4, torch.arange(18), torch.zeros(18))
    pool.record(5, torch.arange(18), torch.zeros(18))
    assert pool.update() == 0 and pool.size == 12


def test_learned_example_rule_respects_min_pool():
    labels = torch.tensor([0] * 10 + [1] * 10)
    pool = CrestPool(labels, 2, per_class=1, watch=1, thresh=0.5, min_pool=0.5)
    low, high = [0.0], [1.0]
    pool.record(1, torch.arange(20), torch.tensor(low * 5 + high * 5 + low * 6 + high * 4))
    assert int(pool.rule().sum()) == 9  # 5 + 4 keep a high loss ...
    assert pool.update() == 0 and pool.size == 20  # ... but 9 <= 0.5 * 20: not applied
    pool.record(1, torch.arange(20), torch.tensor(low * 5 + high * 5 + low * 4 + high * 6))
    assert pool.update() == 9 and pool.size == 11  # 11 > 10: applied


def test_crest_drops_only_at_selections_of_drop_epochs_and_never_draws_dropped(digits_dir):
    sampler, run, plan = crest_run(digits_dir, epochs=4, drop=True, drop_interval=2,
                                   drop_watch=1, drop_thresh=50.0, min_pool=0.3,
                                   adaptive=False, check_interval=2, tau=0.0)
    pool, gone, violations = sampler.pool, set(), []
    update, draw = pool.update, pool.draw

    def recording_update():
        before = pool.active.clone()
        dropped = update()
        gone.update(torch.nonzero(before & ~pool.active).flatten().tolist())
        return dropped

    def checking_draw(generator):
        picked = draw(generator)
        violations.extend(set(picked.tolist()) & gone)
        return picked

    pool.update, pool.draw = recording_update, checking_draw
    train(sampler, run, plan)
    drops = sampler.outputs().extra["drops"]
    assert drops and {d["epoch"] for d in drops} <= {2, 4}
    selections_in_drop_epochs = [r for r in sampler.records if r.epoch in (2, 4)]
    assert len(drops) == len(selections_in_drop_epochs)  # at every selection of those epochs
    assert gone and not violations
    assert pool.size > 0.3 * N_DIGITS
    counts = torch.bincount(run.data.train_y.cpu()[pool.active], minlength=10)
    assert (counts > math.ceil(120 / 10)).all()


# -- costs: one backward per training step, checks forward only the random subsets -----------
def test_crest_trains_with_one_backward_per_step_outside_selection(digits_dir):
    sampler, run, plan = crest_run(digits_dir)
    calls = {"all": 0, "in_selection": 0}
    run.model.head.register_full_backward_hook(
        lambda *_: calls.__setitem__("all", calls["all"] + 1))
    select = sampler.select

    def counted_select(*args, **kwargs):
        before = calls["all"]
        select(*args, **kwargs)
        calls["in_selection"] += calls["all"] - before

    sampler.select = counted_select
    result = train(sampler, run, plan)
    assert result.steps == plan.total_steps == 2 * S_AT_03
    assert calls["in_selection"] > 0  # the curvature is fitted at selection...
    # ...and every training step, warm-up included, is exactly one backward pass
    assert calls["all"] - calls["in_selection"] == result.steps


def test_crest_check_forwards_only_the_random_subsets(digits_dir):
    sampler, run, plan = crest_run(digits_dir, epochs=3)
    forwarded = {"n": 0}
    run.model.register_forward_pre_hook(
        lambda _module, args: forwarded.__setitem__("n", forwarded["n"] + len(args[0])))
    sizes, check = [], sampler.check

    def counted_check(ctx):
        before = forwarded["n"]
        value = check(ctx)
        sizes.append((forwarded["n"] - before, sampler.records[-1].columns["num_coresets"]))
        return value

    sampler.check = counted_check
    train(sampler, run, plan)
    per_subset = 10 * math.ceil(SMALL_CREST["subset_size"] / 10)
    assert sizes and all(n == m * per_subset for n, m in sizes)
    assert max(n for n, _ in sizes) < N_DIGITS


def test_tau_zero_reselects_at_every_check_and_huge_tau_never(digits_dir):
    for tau in (0.0, 1e9):
        sampler, run, plan = crest_run(digits_dir, epochs=2, tau=tau, adaptive=False,
                                       check_interval=2)
        train(sampler, run, plan)
        out = sampler.outputs().extra
        assert out["checks"] > 0
        assert out["checks_failed"] == (out["checks"] if tau == 0 else 0)
        assert out["selections"] == 1 + out["checks_failed"]


# -- the report's CREST section ---------------------------------------------------------------
def test_report_shows_curvature_interval_and_failed_share(tmp_path):
    def record(step, reason, interval, m, norm):
        return SelectionRecord(step=step, epoch=1 + step // 10, reason=reason, pool_size=50,
                               indices=torch.tensor([step % 40, 1]),
                               weights=torch.ones(2), seconds=0.5,
                               columns={"rel_error": None if reason == "initial" else 0.2,
                                        "check_interval": interval, "num_coresets": m,
                                        "curvature_norm": norm})

    write_selection_log(tmp_path, [record(10, "initial", 1, 5, 4.0),
                                   record(13, "check failed", 2, 10, 2.0),
                                   record(20, "check failed", 4, 20, 1.0)])
    runs = pd.DataFrame([{"method": "crest", "fraction": 0.1, "seed": 0, "checks": 8,
                          "run_dir": str(tmp_path)}])
    scores = {"el2n": torch.arange(50).float().numpy()}
    selections = crest_selections(runs, scores)
    per_run = crest_run_table(selections, dataset_baseline(scores)).iloc[0]
    assert per_run.check_failed == 2 and per_run.checks_failed_share == pytest.approx(2 / 8)
    assert per_run.mean_check_interval == pytest.approx(7 / 3)
    assert (per_run.curvature_first, per_run.curvature_median, per_run.curvature_last) == \
        (4.0, 2.0, 1.0)
    assert per_run.mean_num_coresets == pytest.approx(35 / 3)
    svg = crest_selection(selections, dataset_baseline(scores))
    assert "curvature norm" in svg and "check interval" in svg


def test_minibatch_coresets_equal_the_per_subset_per_class_greedy():
    gen = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 4, (200,), generator=gen)
    subsets = [torch.randperm(200, generator=gen)[:30] for _ in range(3)]  # overlapping
    proxies = torch.randn(90, 4, generator=gen)
    indices, weights, sizes = minibatch_coresets(subsets, proxies, labels, per_class=3)
    expected, raw, start = [], [], 0
    for subset in subsets:
        rows, start = proxies[start:start + len(subset)], start + len(subset)
        for label in range(4):
            members = torch.nonzero(labels[subset] == label).flatten()
            if len(members):
                chosen, counts = greedy_facility_location(rows[members], 3)
                expected.append(subset[members[chosen]])
                raw.append(counts)
    assert torch.equal(indices, torch.cat(expected))
    raw = torch.cat(raw)
    torch.testing.assert_close(weights, raw * len(raw) / raw.sum())  # mean 1 overall
    assert sum(sizes) == len(indices) and len(sizes) == 3


@pytest.mark.parametrize("train_batches", ["union", "per_coreset"])
def test_training_batches_after_a_selection(digits_dir, train_batches):
    sampler, run, plan = crest_run(digits_dir, tau=1e9, train_batches=train_batches)
    batches, next_batch = [], sampler.next_batch
    sampler.next_batch = lambda ctx: batches.append(next_batch(ctx)) or batches[-1]
    train(sampler, run, plan)
    (record,) = sampler.records  # tau = 1e9: the checks never fail
    after = batches[S_AT_03:]
    coreset = 10 * math.ceil(B / 10)  # ceil(B/C) medoids per class: 70 per coreset
    assert len(record.indices) == 2 * coreset
    if train_batches == "per_coreset":  # the two coresets in turn, whole
        for k, batch in enumerate(after):
            part = slice(k % 2 * coreset, (k % 2 + 1) * coreset)
            assert torch.equal(batch.indices.cpu(), record.indices[part])
            assert torch.equal(batch.weights.cpu(), record.weights[part])
    else:  # shuffled passes over the union: 64, 64 and the remaining 12
        assert [len(b.indices) for b in after[:6]] == [64, 64, 12] * 2
        # one pass is the union exactly: every (example, weight) pair once
        pairs = sorted((i, w) for b in after[:3]
                       for i, w in zip(b.indices.tolist(), b.weights.tolist(), strict=True))
        assert pairs == sorted(zip(record.indices.tolist(), record.weights.tolist(),
                                   strict=True))
