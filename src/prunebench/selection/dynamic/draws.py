"""Random draws of dynamic samplers, all from the sampler's CPU generator."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..quotas import class_quotas


def stratified_draw(pool: Tensor, labels: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """`size` distinct indices from `pool` (CPU int64), per-class quotas proportional to the
    pool's class sizes (largest remainder); the whole pool when it is smaller than `size`."""
    if size >= len(pool):
        return pool[torch.randperm(len(pool), generator=generator)]
    pool_labels = labels[pool].numpy()
    quotas = class_quotas(pool_labels, size)
    picked = []
    for label, quota in quotas.items():
        members = pool[torch.from_numpy(np.flatnonzero(pool_labels == label))]
        picked.append(members[torch.randperm(len(members), generator=generator)[:quota]])
    return torch.cat(picked)


def uniform_draw(n: int, size: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator)[:size]
