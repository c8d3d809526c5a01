"""GradMatch's selections from OMP answers: the classes' members, every class's OMP in one
batched solver (a GPU's path), and the random fill of a short answer, drawn from the sampler's
generator in the same order (class by class), with the counts the sampler keeps
(`omp_picked`, `random_filled`). The package's `__init__` chooses the solver per device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .batched import StackedLastLayer, batched_nonnegative_omp
from .common import OmpResult


@dataclass
class GradMatchSelection:
    indices: Tensor  # int64 training positions, class by class (or batch by batch)
    weights: Tensor  # float32 raw OMP weights, 1.0 for random fill
    omp_picked: int  # atoms OMP kept
    random_filled: int  # atoms added at random to fill a quota


def class_members(labels: Tensor, quotas: dict[int, int]
                  ) -> tuple[list[tuple[int, int]], list[Tensor]]:
    """The classes with a positive quota (in `quotas`' order) and each one's CPU positions."""
    labels_np = labels.cpu().numpy()
    classes = [(label, quota) for label, quota in quotas.items() if quota > 0]
    return classes, [torch.from_numpy(np.flatnonzero(labels_np == label)) for label, _ in classes]


def filled_selection(classes: list[tuple[int, int]], members: list[Tensor],
                     results: list[OmpResult], generator: torch.Generator
                     ) -> GradMatchSelection:
    """Every class's OMP answer filled at random to its quota, concatenated class by class."""
    parts, weights, picked_total, filled_total = [], [], 0, 0
    for (_, quota), m, result in zip(classes, members, results, strict=True):
        picked, w, filled = fill_at_random(result.indices.cpu(), result.weights.cpu(), len(m),
                                           quota, generator)
        picked_total += len(result.indices)
        filled_total += filled
        parts.append(m[picked])
        weights.append(w)
    if not parts:
        return GradMatchSelection(torch.zeros(0, dtype=torch.long), torch.zeros(0), 0, 0)
    return GradMatchSelection(torch.cat(parts), torch.cat(weights).float(), picked_total,
                              filled_total)


def stacked_omps(errors: Tensor, features: Tensor, classes: list[tuple[int, int]],
                 members: list[Tensor], lam: float, tol: float, class_row_only: bool, *,
                 per_problem_products: bool = False) -> list[OmpResult]:
    """Every class's OMP in one batched solver (a GPU's path; tests run it on a CPU too)."""
    device = errors.device
    sizes = [len(m) for m in members]
    width = max(sizes, default=0)
    index = torch.zeros(len(classes), width, dtype=torch.long)
    for g, m in enumerate(members):
        index[g, :len(m)] = m
    index = index.to(device)
    real = (torch.arange(width, device=device).unsqueeze(0)
            < torch.tensor(sizes, device=device).unsqueeze(1)).unsqueeze(2)
    e = errors[index] * real
    if class_row_only:
        label_t = torch.tensor([label for label, _ in classes], device=device)
        e = torch.gather(e, 2, label_t.view(-1, 1, 1).expand(-1, width, 1))
    h = features[index] * real
    return batched_nonnegative_omp(StackedLastLayer(e, h), sizes,
                                   [quota for _, quota in classes], lam, tol,
                                   per_problem_products=per_problem_products)


def select_batches(solve: Callable[[Tensor, int], OmpResult], batch_rows: Tensor,
                   batches: list[Tensor], n_budget: int, batch_size: int,
                   generator: torch.Generator) -> GradMatchSelection:
    """GradMatchPB: `solve(batch_rows, budget)` (OMP over the mini-batches' mean gradients, one
    row per batch of `batches`) for ceil(n_budget / batch_size) batches, each batch's weight
    given to all its members, random batches filling."""
    wanted = min(len(batches), math.ceil(n_budget / batch_size))
    result = solve(batch_rows, wanted)
    picked, w, filled = fill_at_random(result.indices.cpu(), result.weights.cpu(), len(batches),
                                       wanted, generator)
    members = [batches[int(i)] for i in picked]
    sizes = torch.tensor([len(m) for m in members], dtype=torch.long)
    return GradMatchSelection(torch.cat(members), torch.repeat_interleave(w, sizes).float(),
                              len(result.indices), filled)


def fill_at_random(picked: Tensor, weights: Tensor, pool: int, quota: int,
                   generator: torch.Generator) -> tuple[Tensor, Tensor, int]:
    """OMP's picks plus random unpicked positions of range(pool) at weight 1 up to quota, and
    how many were filled."""
    missing = quota - len(picked)
    if missing <= 0:
        return picked, weights.double(), 0
    free = torch.ones(pool, dtype=torch.bool)
    free[picked] = False
    candidates = torch.nonzero(free).flatten()
    extra = candidates[torch.randperm(len(candidates), generator=generator)][:missing]
    return (torch.cat([picked, extra]),
            torch.cat([weights.double(), torch.ones(len(extra), dtype=torch.float64)]),
            len(extra))
