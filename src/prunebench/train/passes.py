"""Training on a selection: shuffled passes over (weighted) indices, and the weights' scale.

Every sampler trains through `WeightedPasses`: `SubsetSampler` (static subsets, `full`) over
unweighted indices, the dynamic methods over each selection."""

from __future__ import annotations

import torch
from torch import Tensor

from .samplers import BaseSampler, Batch, StepContext


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


class SubsetSampler(BaseSampler):
    """Shuffled passes over a fixed index set (static subsets, `full`, proxy runs); a pass's
    last batch may be smaller.

    When an epoch has more steps than one pass (the equal-steps protocol) the next pass starts
    at once, so every step draws a batch and passes need not align with epochs.
    """

    state_keys = ("passes",)

    def __init__(self, indices: Tensor, batch_size: int, generator: torch.Generator):
        self.passes = WeightedPasses(batch_size, generator)
        self.passes.reset(indices.long(), None)

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()
