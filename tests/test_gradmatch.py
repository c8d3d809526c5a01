"""GradMatch: last-layer gradient vectors, per-class OMP selection, GradMatchPB, the loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from prunebench.selection.dynamic.forwards import features_and_logits
from prunebench.selection.dynamic.last_layer import batch_mean_gradients
from prunebench.selection.kernels.omp.reference import LastLayerGradients, nonnegative_omp
from prunebench.selection.quotas import class_quotas
from prunebench.train.run import run_training
from prunebench.train.samplers import StepContext
from prunebench.train.setup import set_up_run

from .conftest import digits_spec, split_job
from .test_dynamic import train_with

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def gradmatch_spec(epochs: int = 2, **options) -> dict:
    spec = digits_spec(epochs=epochs, batch_size=64, lr=0.05)
    spec["options"] = options
    return spec


def test_vectors_equal_autograd_last_layer_gradients(digits_dir):
    run = set_up_run(*split_job(gradmatch_spec()), data_dir=digits_dir, seed=0, threads=None)
    model, data = run.model, run.data
    with torch.no_grad():  # move away from the initialisation so every entry is non-trivial
        model.head.bias.add_(torch.linspace(-0.5, 0.5, data.num_classes))
    indices = torch.tensor([0, 5, 17, 300, 901])
    features, logits = features_and_logits(model, data, indices, batch_size=2)
    vectors = LastLayerGradients.from_logits(logits, data.train_y[indices], features)
    model.eval()  # GradMatch's vectors are eval-mode, un-augmented gradients
    expected = []
    for x, y in data.eval_batches("train", 1, indices):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        expected.append(torch.cat([model.head.bias.grad, model.head.weight.grad.flatten()]))
    expected = torch.stack(expected)
    dense = vectors.dense()
    assert dense.shape == (5, data.num_classes * (features.shape[1] + 1))
    torch.testing.assert_close(dense, expected, atol=1e-5, rtol=1e-4)
    # the factored inner products are those of the explicit vectors
    torch.testing.assert_close(vectors.columns(torch.tensor([1, 3])), dense @ dense[[1, 3]].T,
                               atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(vectors.products(), dense @ dense.sum(0), atol=1e-4, rtol=1e-4)
    assert vectors.target_sq_norm() == pytest.approx(float(dense.sum(0).pow(2).sum()), rel=1e-5)
    # CORDS's PerClassPerGradient: class c's bias entry and weight row only
    c, width = 3, features.shape[1]
    row = vectors.restrict_to_class_row(c).dense()
    weight_row = dense[:, data.num_classes + c * width: data.num_classes + (c + 1) * width]
    torch.testing.assert_close(row, torch.cat([dense[:, c:c + 1], weight_row], 1))


def test_batch_vectors_are_means_of_member_vectors():
    gen = torch.Generator().manual_seed(0)
    errors, features = torch.randn(10, 3, generator=gen), torch.randn(10, 4, generator=gen)
    batches = [torch.tensor([0, 4, 7]), torch.tensor([1, 2]), torch.tensor([9])]
    rows = batch_mean_gradients(errors, features, batches)
    dense = LastLayerGradients(errors, features).dense()
    torch.testing.assert_close(rows, torch.stack([dense[b].mean(0) for b in batches]))


def test_per_class_selection_is_omp_on_each_class(digits_dir):
    sampler, _, run = train_with(digits_dir, "gradmatch", 0.3, gradmatch_spec(epochs=2))
    records = sampler.outputs().selections
    assert [r.epoch for r in records] == [1, 2]  # interval 1: every epoch
    labels = run.data.train_y.cpu().numpy()
    quotas = class_quotas(labels, round(0.3 * len(labels)))
    for record in records:
        idx = record.indices.numpy()
        assert len(set(idx.tolist())) == len(idx) == sum(quotas.values())
        assert (np.bincount(labels[idx], minlength=10) == [quotas[c] for c in range(10)]).all()
        assert (record.weights > 0).all()
    # one more selection on the trained model, compared class by class with OMP run directly
    model = run.model
    everything = torch.arange(len(labels))
    ctx = StepContext(model, run.data, run.timers, epoch=3, step=0)
    sampler.start_epoch(ctx)
    last = sampler.outputs().selections[-1]
    features, logits = features_and_logits(model, run.data, everything, 256)
    grads = LastLayerGradients.from_logits(logits, run.data.train_y, features)
    for label in (0, 7):  # on a CPU the sampler's OMP is float64 (kernels/omp/compiled.py)
        members = np.flatnonzero(labels == label)
        result = nonnegative_omp(LastLayerGradients(grads.errors[members].double(),
                                                    grads.features[members].double()),
                                 quotas[label], lam=0.5, tol=1e-100)
        mine = np.isin(last.indices.numpy(), members)
        assert last.indices.numpy()[mine][:len(result.indices)].tolist() == \
            members[result.indices.numpy()].tolist()
        # the compiled solver sums in another order: weights agree to float64 rounding
        # (stored as float32)
        torch.testing.assert_close(last.weights[mine][:len(result.indices)],
                                   result.weights.float(), atol=0, rtol=1e-6)


def test_batches_are_weighted_so_the_loss_is_sum_wl_over_sum_w(digits_dir):
    sampler, _, run = train_with(digits_dir, "gradmatch", 0.3, gradmatch_spec(epochs=1))
    record = sampler.outputs().selections[0]
    raw = dict(zip(record.indices.tolist(), record.weights.tolist(), strict=True))
    ctx = None
    for _ in range(3):
        batch = sampler.next_batch(ctx)
        w = batch.weights.cpu()
        assert w.mean().item() == pytest.approx(1.0, rel=1e-5)
        original = torch.tensor([raw[i] for i in batch.indices.tolist()])
        losses = torch.rand(len(w))
        # the loop's mean(w * l) is CORDS's sum(w l) / sum(w) with the raw OMP weights
        assert (w * losses).mean().item() == pytest.approx(
            (original * losses).sum().item() / original.sum().item(), rel=1e-5)


def test_early_stop_fills_the_class_quota_with_weight_one(digits_dir):
    spec = gradmatch_spec(epochs=1, tol=0.9)  # stop as soon as the residual is below 90%
    sampler, _, run = train_with(digits_dir, "gradmatch", 0.3, spec)
    out = sampler.outputs()
    record = out.selections[0]
    labels = run.data.train_y.cpu().numpy()
    quotas = class_quotas(labels, round(0.3 * len(labels)))
    assert out.extra["random_filled"] > 0
    assert out.extra["omp_picked"] + out.extra["random_filled"] == len(record.indices)
    assert (np.bincount(labels[record.indices.numpy()], minlength=10)
            == [quotas[c] for c in range(10)]).all()
    assert (record.weights == 1).sum() >= out.extra["random_filled"]


def test_per_batch_selects_whole_fixed_batches(digits_dir):
    spec = gradmatch_spec(epochs=2, per_batch=True)
    sampler, _, run = train_with(digits_dir, "gradmatch", 0.3, spec)
    batches = {tuple(sorted(b.tolist())): b for b in sampler.batches}
    n = run.data.n_train
    assert sorted(i for b in sampler.batches for i in b.tolist()) == list(range(n))
    wanted = math.ceil(round(0.3 * n) / 64)
    for record in sampler.outputs().selections:
        idx, w = record.indices.tolist(), record.weights
        members, start = [], 0
        while start < len(idx):  # selections are whole batches, one after another
            size = next(len(b) for key, b in batches.items() if idx[start] in key)
            chunk = tuple(sorted(idx[start:start + size]))
            assert chunk in batches
            assert torch.all(w[start:start + size] == w[start])
            members.append(chunk)
            start += size
        assert len(members) == wanted == len(set(members))
    # the partition is fixed for the run and drawn from the seed
    again, _, _ = train_with(digits_dir, "gradmatch", 0.3, spec)
    assert [b.tolist() for b in again.batches] == [b.tolist() for b in sampler.batches]


def test_deterministic_for_a_seed(digits_dir):
    spec = gradmatch_spec(epochs=2)
    first, _, _ = train_with(digits_dir, "gradmatch", 0.2, spec, seed=1)
    second, _, _ = train_with(digits_dir, "gradmatch", 0.2, spec, seed=1)
    for a, b in zip(first.outputs().selections, second.outputs().selections, strict=True):
        assert a.indices.tolist() == b.indices.tolist()
        torch.testing.assert_close(a.weights, b.weights)


@pytest.mark.parametrize("options", [{}, {"per_batch": True, "lam": 0.0}])
def test_run_training_logs_and_times_the_selections(tmp_path, digits_dir, options):
    job = split_job(gradmatch_spec(epochs=2, **options), method="gradmatch", fraction=0.3)
    metrics = run_training(*job, data_dir=digits_dir, seed=0, out_dir=tmp_path)
    assert metrics["steps"] == 2 * math.ceil(round(0.3 * 1347) / 64)
    assert metrics["time"]["selection/omp"] > 0 and metrics["time"]["selection/gradients"] > 0
    assert metrics["counts"]["selection_forward_examples"] == 2 * 1347
    log = (tmp_path / "selections.csv").read_text().splitlines()
    assert len(log) == 3 and log[1].split(",")[2] == "initial"
    picked = np.load(tmp_path / "selected.npz")
    assert picked["offsets"][-1] == len(picked["indices"]) == len(picked["weights"])
