"""The sampler protocol the training loop talks to, what a sampler is built from, and the
static subset sampler.

A sampler decides, step by step, which examples form the mini-batch and with which weights.
Static methods and `full` use `SubsetSampler`; dynamic methods (CREST, InfoBatch, ...) live in
`prunebench.selection.dynamic` and speak the same protocol, so the loop never branches on the
method. The protocol lives here, beside the loop that calls it: `selection/` imports `train/`,
never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..data.tensors import TensorData
from .timers import PhaseTimers


@dataclass
class Batch:
    indices: Tensor  # int64 dataset indices of the mini-batch
    weights: Tensor | None = None  # per-example loss weights (mean 1), None = plain mean
    # multiplies the schedule's lr for this step; at an lr of 0 the loop still runs the forward
    # and backward (the compute is spent) but skips the optimizer step, so the weights and the
    # momentum buffers stay as they are (CREST's warm-up epoch at lr 0)
    lr_scale: float = 1.0


@dataclass
class StepContext:
    """What a sampler may look at when it chooses: the model, the data, the run's clock."""

    model: torch.nn.Module
    data: TensorData
    timers: PhaseTimers
    epoch: int
    step: int
    lr: float = 0.0  # learning rate of the coming step (GLISTER's virtual step uses it)
    # the loop's augmentation, for a sampler that forwards batches exactly as training does
    # (CREST's quadratic model); drawing from the generator moves the loop's augmentation stream
    augment: dict = field(default_factory=dict)
    augment_generator: torch.Generator | None = None


@dataclass
class SamplerSetup:
    """Everything a sampler is built from; `options` is an instance of the sampler's `Options`
    dataclass (its defaults overridden by the config's block for the method)."""

    labels: Tensor  # int64 [N] training labels, on the data's device
    num_classes: int
    fraction: float
    batch_size: int
    eval_batch_size: int
    epochs: int
    generator: torch.Generator  # CPU generator for every random draw of the sampler
    options: object

    @property
    def n_train(self) -> int:
        return len(self.labels)

    @property
    def n_budget(self) -> int:
        """Examples per epoch the budget allows: round(f * N), at least 1."""
        return min(self.n_train, max(1, round(self.fraction * self.n_train)))


# a method's own value in one selection's row of selections.csv: None is a blank cell, a float
# is written with 6 significant digits, an int or a str as it is
ColumnValue = str | float | int | None


@dataclass
class SelectionRecord:
    """One selection a dynamic sampler made: when, why, and what it picked.

    `columns` are the method's own numbers for this selection (CREST: rel_error,
    check_interval, num_coresets, curvature_norm), written after the generic columns of
    selections.csv in the order the method gives them."""

    step: int
    epoch: int
    reason: str  # "initial", "check failed", "epoch start"
    pool_size: int
    indices: Tensor  # int64 dataset indices, in selection order
    weights: Tensor  # float32 loss weights of those indices
    seconds: float
    columns: dict[str, ColumnValue] = field(default_factory=dict)


@dataclass
class SamplerOutputs:
    """What a sampler reports after training, for metrics.json and the run directory."""

    forward_examples: int = 0  # examples forwarded outside the training step (proxies, checks)
    backward_examples: int = 0  # examples back-propagated outside it (coreset gradient, Hessian)
    selections: list[SelectionRecord] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # sampler-specific numbers for metrics.json


class Sampler(Protocol):
    def start_epoch(self, ctx: StepContext) -> None: ...

    def epoch_steps(self, epoch: int, planned: int) -> int: ...

    def next_batch(self, ctx: StepContext) -> Batch: ...

    def observe(self, indices: Tensor, losses: Tensor) -> None: ...

    def outputs(self) -> SamplerOutputs: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class BaseSampler:
    """Defaults for the optional parts of the protocol: plan's steps, nothing observed."""

    def start_epoch(self, ctx: StepContext) -> None:
        pass

    def epoch_steps(self, epoch: int, planned: int) -> int:
        return planned

    def observe(self, indices: Tensor, losses: Tensor) -> None:
        pass

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs()


class SubsetSampler(BaseSampler):
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

    def state_dict(self) -> dict:
        return {"order": self._order, "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        self._order, self._cursor = state["order"], state["cursor"]
