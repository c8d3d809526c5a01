"""RS2 (Okanovic et al., ICLR 2024): repeated random sampling *without* replacement.

The examples form a stream of passes, each pass a fresh uniform permutation of all N; every
epoch trains on the stream's next round(f * N) examples (shuffled into batches, weight 1).
So within a pass every example is seen exactly once, and no example is seen a second time
before all have been seen once. `random_epoch` is the same with replacement (an independent
draw every epoch).

The last short slice: when f * N does not divide N, the epoch that reaches the end of a pass
takes the pass's t remaining examples plus the first f * N - t of the next pass, and that next
permutation is drawn so its first f * N - t examples avoid the t (a uniform permutation
conditioned on it): an epoch never holds an example twice, and every pass is still a
permutation of all N. The reference (PatrikOkanovic/RS2, `uniform_no_replacement.py`) instead
wraps the tail into the head of the *same* permutation, `(end + size) % (N + 1)`, so that slice
has one example fewer than the others, repeats the head's examples within the pass, and the
permutation is reshuffled only after it; its loader also drops each epoch's last partial
batch (`drop_last`), where our epochs train all ceil(f * N / B) batches like every method here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...train.passes import WeightedPasses
from ...train.samplers import (
    BaseSampler,
    Batch,
    SamplerOutputs,
    SamplerSetup,
    SelectionRecord,
    StepContext,
)
from .timing import Stopwatch


@dataclass(frozen=True)
class Rs2Options:
    """rs2 has no options (the reference's only knob is the fraction)."""


class PermutationStream:
    """Consecutive slices of a stream of uniform permutations of range(n) (see the module
    docstring for the slice that crosses the end of a pass)."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator
        self.order: Tensor | None = None
        self.cursor = 0
        self.passes = 0  # permutations drawn

    def next_slice(self, size: int) -> Tensor:
        if self.order is None:
            self.order, self.cursor, self.passes = self._permutation(), 0, 1
        tail = self.order[self.cursor:self.cursor + size]
        self.cursor += len(tail)
        if len(tail) == size:
            return tail
        need = size - len(tail)
        self.order, self.cursor = self._next_pass(tail, need), need
        self.passes += 1
        return torch.cat([tail, self.order[:need]])

    def _permutation(self) -> Tensor:
        return torch.randperm(self.n, generator=self.generator)

    def _next_pass(self, tail: Tensor, need: int) -> Tensor:
        """A uniform permutation whose first `need` entries avoid `tail`."""
        outside = torch.ones(self.n, dtype=torch.bool)
        outside[tail] = False
        others = torch.nonzero(outside).flatten()
        others = others[torch.randperm(len(others), generator=self.generator)]
        rest = torch.cat([others[need:], tail])
        rest = rest[torch.randperm(len(rest), generator=self.generator)]
        return torch.cat([others[:need], rest])

    def state_dict(self) -> dict:
        return {"order": self.order, "cursor": self.cursor, "passes": self.passes}

    def load_state_dict(self, state: dict) -> None:
        self.order, self.cursor, self.passes = state["order"], state["cursor"], state["passes"]


class Rs2Sampler(BaseSampler):
    Options = Rs2Options
    state_keys = ("stream", "passes", "records")

    def __init__(self, setup: SamplerSetup):
        self.setup = setup
        self.stream = PermutationStream(setup.n_train, setup.generator)
        self.passes = WeightedPasses(setup.batch_size, setup.generator)
        self.records: list[SelectionRecord] = []

    def start_epoch(self, ctx: StepContext) -> None:
        s = self.setup
        with Stopwatch(s.labels.device) as watch, ctx.timers.phase("selection/permutation"):
            indices = self.stream.next_slice(s.n_budget)
        self.passes.reset(indices.to(s.labels.device), None)
        self.record_selection(ctx, indices.clone(), None, watch.seconds, pool_size=s.n_train)

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(selections=list(self.records),
                              extra={"selections": len(self.records),
                                     "passes_started": self.stream.passes,
                                     "subset_size": self.setup.n_budget})

