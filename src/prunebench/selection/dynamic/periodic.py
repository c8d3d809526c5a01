"""PeriodicSelection: the scaffold of a method that selects every `interval` epochs.

At the start of epoch 1 and of every `interval`-th epoch after it, one eval-mode forward of
the whole un-augmented training set (float32, `forwards.py`) gives every example's logits (and
penultimate features when the method asks) and the error vectors softmax - onehot of the
pool's examples: the last-layer gradient proxy. The method's `choose` turns them into a
selection (dataset indices, loss weights, its own selections.csv columns); training then takes
shuffled passes over it until the next selection. The scaffold keeps the rest: the pool's
per-class quotas of round(f * N), the timers (`proxy_phase`, then the method's
`choose_phase`), the forward count, the selection log, checkpoints.

A new periodic method is a subclass that sets `choose_phase` and writes `choose`, plus its
line in `prunebench.methods.METHODS`; its `Options` dataclass needs an `interval` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ...logit_gradients import error_vectors
from ...train.passes import WeightedPasses
from ...train.samplers import (
    BaseSampler,
    Batch,
    ColumnValue,
    SamplerOutputs,
    SamplerSetup,
    SelectionRecord,
    StepContext,
)
from ..quotas import class_quotas
from .forwards import eval_logits, features_and_logits
from .timing import Stopwatch


@dataclass
class SelectionInputs:
    """What one selection sees, all float32 on the data's device."""

    logits: Tensor  # [N, C] every training example, in dataset order
    errors: Tensor  # [P, C] softmax - onehot of the pool's examples, in pool order
    features: Tensor | None = None  # [N, D] penultimate features (needs_features), else None


@dataclass
class Choice:
    """What a method's `choose` returns."""

    indices: Tensor  # int64 dataset indices, in selection order (any device)
    weights: Tensor | None = None  # their loss weights; None trains them at weight 1
    columns: dict[str, ColumnValue] = field(default_factory=dict)  # its selections.csv cells


class PeriodicSelection(BaseSampler):
    proxy_phase = "selection/proxy"  # the timer of the forward and the error vectors
    choose_phase = "selection/choose"  # the timer of `choose`; each method names its own
    needs_features = False  # True: SelectionInputs.features holds the penultimate features
    # the kernel packages' warm_up(device) functions `choose` relies on: called when the
    # sampler is built, so compiled code loads before any timer runs
    warm_ups: tuple = ()
    # what checkpoints keep; a method adds its own attributes to these
    state_keys: tuple[str, ...] = ("passes", "records", "forward_examples")

    def __init__(self, setup: SamplerSetup, pool: Tensor | None = None):
        """`pool`: the CPU int64 indices a selection may pick from (None: every example)."""
        self.setup, self.options = setup, setup.options
        self.interval = setup.options.interval
        self.pool = pool
        self.labels_cpu = setup.labels.cpu()
        pool_labels = self.labels_cpu if pool is None else self.labels_cpu[pool]
        # per-class quotas of the budget over the pool (largest remainder)
        self.quotas = class_quotas(pool_labels.numpy(), min(setup.n_budget, len(pool_labels)))
        self.passes = WeightedPasses(setup.batch_size, setup.generator)
        self.records: list[SelectionRecord] = []
        self.forward_examples = 0
        for warm_up in self.warm_ups:
            warm_up(setup.labels.device)

    @property
    def pool_size(self) -> int:
        return self.setup.n_train if self.pool is None else len(self.pool)

    # -- the method's part ----------------------------------------------------------------
    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        raise NotImplementedError

    def extra_outputs(self) -> dict:
        """The method's own numbers for metrics.json's `sampler` block."""
        return {}

    # -- the scaffold ---------------------------------------------------------------------
    def due(self, epoch: int) -> bool:
        return not self.records or (epoch - 1) % self.interval == 0

    def start_epoch(self, ctx: StepContext) -> None:
        if not self.due(ctx.epoch):
            return
        s, device = self.setup, self.setup.labels.device
        with Stopwatch(device) as watch:
            with ctx.timers.phase(self.proxy_phase):
                inputs = self._inputs(ctx)
                self.forward_examples += s.n_train
            with ctx.timers.phase(self.choose_phase):
                choice = self.choose(inputs, ctx)
        weights = None if choice.weights is None else choice.weights.to(device)
        self.passes.reset(choice.indices.to(device), weights)
        self.record_selection(ctx, choice.indices, choice.weights, watch.seconds,
                              pool_size=self.pool_size, columns=choice.columns)

    def _inputs(self, ctx: StepContext) -> SelectionInputs:
        s = self.setup
        everything = torch.arange(s.n_train, device=s.labels.device)
        features = None
        if self.needs_features:
            features, logits = features_and_logits(ctx.model, ctx.data, everything,
                                                   s.eval_batch_size)
        else:
            logits = eval_logits(ctx.model, ctx.data, everything, s.eval_batch_size)
        if self.pool is None:
            errors = error_vectors(logits, s.labels)
        else:
            pool = self.pool.to(logits.device)
            errors = error_vectors(logits[pool], s.labels[pool])
        return SelectionInputs(logits, errors, features)

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(forward_examples=self.forward_examples,
                              selections=list(self.records),
                              extra={"selections": len(self.records), **self.extra_outputs()})

