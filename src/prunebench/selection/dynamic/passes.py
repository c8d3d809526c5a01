"""Training on a selection: shuffled passes over weighted indices, and the weights' scale."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ...train.samplers import Batch


def normalise_weights(weights: Tensor) -> Tensor:
    """Scale weights to mean 1 (a weighted-mean loss then has the plain mean's scale)."""
    return (weights * (len(weights) / weights.sum())).float()


class WeightedPasses:
    """Shuffled passes over (indices, weights): each pass is one permutation; the last batch of
    a pass may be smaller; a new pass starts when one runs out."""

    def __init__(self, batch_size: int, generator: torch.Generator):
        self.batch_size = batch_size
        self.generator = generator
        self.indices: Tensor | None = None
        self.weights: Tensor | None = None
        self._order: Tensor | None = None
        self._cursor = 0

    def reset(self, indices: Tensor, weights: Tensor | None) -> None:
        self.indices, self.weights = indices, weights
        self._order, self._cursor = None, 0

    def batches_per_pass(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def next(self) -> Batch:
        if self._order is None or self._cursor >= len(self._order):
            self._order = torch.randperm(len(self.indices), generator=self.generator)
            self._cursor = 0
        take = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += len(take)
        device = self.indices.device
        weights = None if self.weights is None else self.weights[take.to(self.weights.device)]
        return Batch(self.indices[take.to(device)], weights)

    def state_dict(self) -> dict:
        return {"indices": self.indices, "weights": self.weights, "order": self._order,
                "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        self.indices, self.weights = state["indices"], state["weights"]
        self._order, self._cursor = state["order"], state["cursor"]
