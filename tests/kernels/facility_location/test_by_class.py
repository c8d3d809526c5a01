"""craig_select: CRAIG's per-class facility location in one call, as the sampler's loop gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunebench.selection.kernels.facility_location import craig_select, greedy_facility_location
from prunebench.selection.quotas import class_quotas

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def craig_loop(proxies: torch.Tensor, labels: torch.Tensor, quotas: dict[int, int]):
    """CraigSampler.start_epoch's loop (indices and cluster sizes before normalisation)."""
    labels_np = labels.cpu().numpy()
    parts, weights = [], []
    for label, quota in quotas.items():
        if quota == 0:
            continue
        members = torch.from_numpy(np.flatnonzero(labels_np == label)).to(proxies.device)
        chosen, counts = greedy_facility_location(proxies[members], quota)
        parts.append(members[chosen])
        weights.append(counts.float())
    return torch.cat(parts), torch.cat(weights)


def error_vectors(seed: int, sizes: list[int], classes: int, grid: bool = False):
    """Proxies softmax(z) - onehot(y) of classes of the given sizes, rows shuffled; `grid`
    rounds the logits to a coarse grid, so many proxies coincide (exact ties)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    labels = labels[torch.randperm(len(labels), generator=gen)]
    logits = 2.0 * torch.randn(len(labels), classes, generator=gen)
    if grid:
        logits = logits.round()
    onehot = torch.nn.functional.one_hot(labels, classes).float()
    return torch.softmax(logits, 1) - onehot, labels


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("seed", "sizes", "fraction", "grid"), [
    (0, [40, 40, 40, 40], 0.2, False),          # balanced: one stacked batch
    (1, [30, 55, 12, 70, 3], 0.25, False),       # unequal classes
    (2, [600, 520, 45], 0.1, False),             # larger than the CPU's dense limit: lazy path
    (3, [80, 80, 61, 90], 0.3, True),            # duplicates and exact ties
    (4, [25, 25, 25], 1.0, True),                # quota = class size
    (5, [700, 513, 650, 900], 0.1, True),        # several lazy classes together, ties
    (6, [1000, 990, 1010, 600, 530], 0.1, False)])
def test_same_picks_and_weights_as_the_per_class_loop(device, seed, sizes, fraction, grid):
    proxies, labels = error_vectors(seed, sizes, classes=len(sizes), grid=grid)
    quotas = class_quotas(labels.numpy(), round(fraction * len(labels)))
    expected = craig_loop(proxies, labels, quotas)
    indices, weights = craig_select(proxies.to(device), labels.to(device), quotas)
    assert indices.device.type == device and weights.dtype == torch.float32
    assert indices.cpu().tolist() == expected[0].tolist()
    assert weights.cpu().tolist() == expected[1].tolist()
    assert weights.sum().item() == sum(s for c, s in enumerate(sizes) if quotas[c] > 0)


def test_quota_order_zero_quotas_and_classes_without_members():
    proxies, labels = error_vectors(5, [20, 30, 25], classes=4)
    quotas = {2: 4, 0: 3, 1: 0, 3: 2}  # class 3 has no members; class 1 is skipped
    expected = craig_loop(proxies, labels, {c: q for c, q in quotas.items() if c != 3})
    indices, weights = craig_select(proxies, labels, quotas)
    assert indices.tolist() == expected[0].tolist()
    assert weights.tolist() == expected[1].tolist()
    assert craig_select(proxies, labels, {0: 0})[0].numel() == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_dense_and_chunked_plans_agree_with_the_loop():
    proxies, labels = error_vectors(6, [700, 700, 650], classes=3)
    quotas = class_quotas(labels.numpy(), 200)
    expected = craig_loop(proxies, labels, quotas)
    for dense_bytes in (1, 1 << 30):  # chunked (lazy) and all dense
        indices, weights = craig_select(proxies.cuda(), labels.cuda(), quotas,
                                        dense_bytes=dense_bytes)
        assert indices.cpu().tolist() == expected[0].tolist()
        assert weights.cpu().tolist() == expected[1].tolist()
