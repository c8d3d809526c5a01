"""CREST's active pool: which examples may still be drawn, and the rule that drops learned ones.

Losses are recorded whenever an example is scored inside a random subset (at a selection or a
check). An example is *learned* when its last `watch` recorded losses are all below `thresh`.
A drop removes learned examples from the pool, most-learned first (lowest worst recent loss),
but never shrinks a class below `class_floor` of its size nor the pool below `min_pool` of N.
Dropped examples are never drawn again. Everything here lives on the CPU (N small integers).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .common import stratified_draw


class LearnedPool:
    def __init__(self, labels: Tensor, *, watch: int, thresh: float, class_floor: float,
                 min_pool: float):
        self.labels = labels.cpu().long()
        n = len(self.labels)
        self.watch, self.thresh = watch, thresh
        self.active = torch.ones(n, dtype=torch.bool)
        self.recent = torch.full((n, watch), float("inf"))  # ring buffer of recorded losses
        self.observed = torch.zeros(n, dtype=torch.long)
        self.class_sizes = torch.bincount(self.labels)
        self.class_min = torch.ceil(self.class_sizes.double() * class_floor).long()
        self.pool_min = math.ceil(n * min_pool)
        self.dropped_total = 0

    @property
    def size(self) -> int:
        return int(self.active.sum())

    def members(self) -> Tensor:
        return torch.nonzero(self.active).flatten()

    def draw(self, size: int, generator: torch.Generator) -> Tensor:
        """A class-stratified random subset of the active pool (CPU int64)."""
        return stratified_draw(self.members(), self.labels, size, generator)

    def record(self, indices: Tensor, losses: Tensor) -> None:
        """Remember the losses just computed for `indices` (duplicates: one observation)."""
        indices = indices.cpu()
        losses = losses.detach().float().cpu()
        unique, first = _first_occurrence(indices)
        slot = self.observed[unique] % self.watch
        self.recent[unique, slot] = losses[first]
        self.observed[unique] += 1

    def learned(self) -> Tensor:
        """Boolean mask of active examples whose last `watch` losses are all below thresh."""
        enough = self.observed >= self.watch
        return self.active & enough & (self.recent < self.thresh).all(dim=1)

    def drop(self) -> Tensor:
        """Remove learned examples within the floors; returns the dropped indices."""
        candidates = torch.nonzero(self.learned()).flatten()
        if len(candidates) == 0:
            return candidates
        worst = self.recent[candidates].max(dim=1).values
        # most learned first; stable sort keeps ties in index order
        candidates = candidates[torch.sort(worst, stable=True).indices]
        active_per_class = torch.bincount(self.labels[self.active],
                                          minlength=len(self.class_sizes))
        room_per_class = (active_per_class - self.class_min).clamp(min=0)
        room_total = max(self.size - self.pool_min, 0)
        # per-class room: keep the first room_c candidates of each class (in learnedness order)
        cand_labels = self.labels[candidates]
        rank_in_class = torch.zeros(len(candidates), dtype=torch.long)
        for label in torch.unique(cand_labels):
            where = torch.nonzero(cand_labels == label).flatten()
            rank_in_class[where] = torch.arange(len(where))
        allowed = candidates[rank_in_class < room_per_class[cand_labels]][:room_total]
        self.active[allowed] = False
        self.dropped_total += len(allowed)
        return allowed

    def state_dict(self) -> dict:
        return {"active": self.active.clone(), "recent": self.recent.clone(),
                "observed": self.observed.clone(), "dropped_total": self.dropped_total}

    def load_state_dict(self, state: dict) -> None:
        self.active, self.recent = state["active"], state["recent"]
        self.observed, self.dropped_total = state["observed"], state["dropped_total"]


def _first_occurrence(indices: Tensor) -> tuple[Tensor, Tensor]:
    """Unique values of `indices` and the position of each one's first occurrence."""
    unique, inverse = torch.unique(indices, return_inverse=True)
    positions = torch.arange(len(indices))
    first = torch.full((len(unique),), len(indices), dtype=torch.long)
    first.scatter_reduce_(0, inverse, positions, reduce="amin")
    return unique, first
