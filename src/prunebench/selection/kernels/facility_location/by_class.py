"""CRAIG's per-class problems as one grouped call: the classes as groups, and the answer put
back in the quotas' class order (``craig_select`` in the package's ``__init__`` composes
these with the device's plan)."""

from __future__ import annotations

import torch
from torch import Tensor


def class_counts(labels: Tensor, wanted: dict[int, int]) -> tuple[list[int], list[int]]:
    """For every class id up to the largest, its pick count (0: not picked from) under the
    positive quotas ``wanted`` ({class: count}) and its size."""
    present = torch.unique(labels).tolist()
    largest = max(max(present), max(wanted))
    k = [0] * (largest + 1)
    for label, quota in wanted.items():
        k[label] = quota
    return k, torch.bincount(labels, minlength=largest + 1).tolist()


def in_quota_order(indices: Tensor, weights: Tensor, wanted: dict[int, int], k: list[int],
                   sizes: list[int]) -> tuple[Tensor, Tensor]:
    """The grouped call's answer (ascending class id) in ``wanted``'s class order."""
    picks = {c: min(k[c], sizes[c]) for c in range(len(k)) if k[c] and sizes[c]}
    starts, total = {}, 0
    for c in sorted(picks):
        starts[c] = total
        total += picks[c]
    order = torch.cat([torch.arange(starts[c], starts[c] + picks[c], device=indices.device)
                       for c in wanted if c in picks])
    return indices[order], weights[order]
