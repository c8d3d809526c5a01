"""CREST's active pool: its class-stratified random subsets and the learned-example rule.

Random subsets (docs/methods.md, CREST step 2; reference `_select_random_set`): ceil(r/C) distinct
examples of every class of the pool (a class with fewer gives all it has).

Learned examples (step 7; reference `_drop_learned_data`, called inside every selection when
`drop_learned` is on): the selection's random-subset losses are written into slot
(epoch mod watch) of a watch table (-1: never recorded). In an epoch whose number is a multiple
of `drop_interval`, every selection recomputes the pool: the examples with some recorded loss
above `thresh`, plus the examples never recorded; a class left with no more than ceil(r/C)
examples keeps its current members; the new pool replaces the old only if it holds more than
`min_pool` x N examples. Epochs here are the loop's 1-based numbers, the reference's are
0-based: its slot `epoch % watch` and test `(epoch + 1) % drop_interval == 0` are our
`(epoch - 1) % watch` and `epoch % drop_interval == 0`. The reference builds the new pool from
all N examples; we intersect it with the current pool, which gives the same set (a dropped
example is never drawn again, so its table column keeps the losses that dropped it) and makes
"dropped examples never return" hold by construction. Everything here lives on the CPU.
"""

from __future__ import annotations

import torch
from torch import Tensor


class CrestPool:
    def __init__(self, labels: Tensor, num_classes: int, *, per_class: int, watch: int,
                 thresh: float, min_pool: float):
        self.labels = labels.cpu().long()
        self.num_classes = num_classes
        self.per_class, self.thresh = per_class, thresh
        self.min_size = min_pool * len(self.labels)  # the new pool must hold more than this
        self.active = torch.ones(len(self.labels), dtype=torch.bool)
        self.table = torch.full((watch, len(self.labels)), -1.0)  # -1: not recorded

    @property
    def size(self) -> int:
        return int(self.active.sum())

    def draw(self, generator: torch.Generator) -> Tensor:
        """ceil(r/C) distinct active examples of every class (CPU int64, class by class)."""
        picked = []
        for label in range(self.num_classes):
            members = torch.nonzero(self.active & (self.labels == label)).flatten()
            picked.append(members[torch.randperm(len(members), generator=generator)
                                  [:self.per_class]])
        return torch.cat(picked)

    def record(self, epoch: int, indices: Tensor, losses: Tensor) -> None:
        """Write the losses of `indices` into the slot of (1-based) `epoch`."""
        slot = (epoch - 1) % self.table.shape[0]
        self.table[slot, indices.cpu()] = losses.detach().float().cpu()

    def rule(self) -> Tensor:
        """The pool the learned-example rule gives (boolean mask), floors applied."""
        keep = (self.table > self.thresh).any(dim=0) | (self.table < 0).all(dim=0)
        new = self.active & keep
        for label in range(self.num_classes):
            in_class = self.labels == label
            if int((new & in_class).sum()) <= self.per_class:
                new[in_class] = self.active[in_class]  # too few left: the class stays as it is
        return new

    def update(self) -> int:
        """Apply the rule if the new pool is larger than min_pool x N; returns examples dropped."""
        new = self.rule()
        if int(new.sum()) <= self.min_size:
            return 0
        dropped = self.size - int(new.sum())
        self.active = new
        return dropped

    def state_dict(self) -> dict:
        return {"active": self.active.clone(), "table": self.table.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.active, self.table = state["active"], state["table"]
