"""The sampler protocol the training loop talks to, and the static subset sampler.

A sampler decides, step by step, which examples form the mini-batch and with which weights.
Static methods and `full` use `SubsetSampler`; dynamic methods (CREST, InfoBatch, ...) are
other classes with the same methods, so the loop never branches on the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor


@dataclass
class Batch:
    indices: Tensor  # int64 dataset indices of the mini-batch
    weights: Tensor | None = None  # per-example loss weights (mean 1), None = plain mean


@dataclass
class StepContext:
    """What a sampler may look at when it chooses: the model, the data, the run's clock."""

    model: torch.nn.Module
    data: object  # TensorData
    timers: object  # PhaseTimers
    epoch: int
    step: int


class Sampler(Protocol):
    def start_epoch(self, ctx: StepContext) -> None: ...

    def next_batch(self, ctx: StepContext) -> Batch: ...

    def observe(self, indices: Tensor, losses: Tensor) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class SubsetSampler:
    """Shuffled passes over a fixed index set; a pass's last batch may be smaller.

    When an epoch has more steps than one pass (the equal-steps protocol) the next pass starts
    at once, so every step draws a batch and passes need not align with epochs.
    """

    def __init__(self, indices: Tensor, batch_size: int, generator: torch.Generator):
        self.indices = indices.long()
        self.batch_size = batch_size
        self.generator = generator
        self._order: Tensor | None = None
        self._cursor = 0

    def start_epoch(self, ctx: StepContext) -> None:
        pass

    def _new_pass(self) -> None:
        perm = torch.randperm(len(self.indices), generator=self.generator)
        self._order = self.indices[perm.to(self.indices.device)]
        self._cursor = 0

    def next_batch(self, ctx: StepContext) -> Batch:
        if self._order is None or self._cursor >= len(self._order):
            self._new_pass()
        batch = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += len(batch)
        return Batch(batch)

    def observe(self, indices: Tensor, losses: Tensor) -> None:
        pass

    def state_dict(self) -> dict:
        return {"order": self._order, "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        self._order, self._cursor = state["order"], state["cursor"]
