"""The sampler protocol the training loop talks to, what a sampler is built from, and the
bookkeeping every sampler shares (`BaseSampler`).

A sampler decides, step by step, which examples form the mini-batch and with which weights.
Static methods and `full` use `passes.SubsetSampler`; dynamic methods (CREST, InfoBatch, ...)
live in `prunebench.selection.dynamic` and speak the same protocol, so the loop never branches
on the method. The protocol lives here, beside the loop that calls it: `selection/` imports
`train/`, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..data.tensors import TensorData
from .budget import budget_size
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
        """Examples per epoch the budget allows (`budget.budget_size`)."""
        return budget_size(self.n_train, self.fraction)


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
    """Defaults for the optional parts of the protocol (plan's steps, nothing observed, nothing
    reported) and the bookkeeping samplers share: checkpoints of the attributes `state_keys`
    names, and the record of a selection."""

    # the attributes a checkpoint keeps: one with `state_dict`/`load_state_dict` (passes, a
    # pool) through those, any other value as it is
    state_keys: tuple[str, ...] = ()
    records: list[SelectionRecord]  # a selecting sampler's selections, in order

    def start_epoch(self, ctx: StepContext) -> None:
        pass

    def epoch_steps(self, epoch: int, planned: int) -> int:
        return planned

    def observe(self, indices: Tensor, losses: Tensor) -> None:
        pass

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs()

    def state_dict(self) -> dict:
        state = {}
        for key in self.state_keys:
            value = getattr(self, key)
            state[key] = value.state_dict() if hasattr(value, "load_state_dict") else value
        return state

    def load_state_dict(self, state: dict) -> None:
        for key in self.state_keys:
            value = getattr(self, key)
            if hasattr(value, "load_state_dict"):
                value.load_state_dict(state[key])
            else:
                setattr(self, key, state[key])

    def record_selection(self, ctx: StepContext, indices: Tensor, weights: Tensor | None,
                         seconds: float, *, pool_size: int, reason: str | None = None,
                         columns: dict[str, ColumnValue] | None = None) -> None:
        """Append one selection to `records` (selections.csv's row and selected.npz's entry):
        `indices` and `weights` (None: all 1) on any device, its measured `seconds`; `reason`
        defaults to "initial" for the first selection and "epoch start" after it."""
        if reason is None:
            reason = "initial" if not self.records else "epoch start"
        self.records.append(SelectionRecord(
            step=ctx.step, epoch=ctx.epoch, reason=reason, pool_size=pool_size,
            indices=indices.cpu(),
            weights=torch.ones(len(indices)) if weights is None else weights.cpu(),
            seconds=seconds, columns=dict(columns or {})))
