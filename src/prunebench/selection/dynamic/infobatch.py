"""InfoBatch (Qin et al., ICLR 2024): unbiased dynamic pruning by loss.

Each epoch before the annealing point, examples whose last observed training loss is below the
mean are skipped with probability r (`prune_ratio`); the kept low-loss examples get weight
1 / (1 - r), so the expected gradient is unchanged. The final (1 - anneal) of the epochs use all
data with weight 1. An example not yet trained on has no loss and is always kept, so the
first epoch uses every example. An epoch has ceil(kept / B) steps; the
learning-rate schedule still spans the whole run (the loop follows it by epoch progress), and
metrics.json says what fraction of the full run's steps InfoBatch actually used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...options import option
from ...train.passes import WeightedPasses
from ...train.samplers import BaseSampler, Batch, SamplerOutputs, SamplerSetup, StepContext


@dataclass(frozen=True)
class InfoBatchOptions:
    prune_ratio: float = option(0.5, "r - probability of skipping an example whose last loss is "
                                "below the mean", minimum=0, exclusiveMaximum=1)
    anneal: float = option(0.875, "the final (1 - anneal) of the epochs use all data",
                           exclusiveMinimum=0, maximum=1)


class InfoBatchSampler(BaseSampler):
    Options = InfoBatchOptions
    state_keys = ("losses", "passes", "skipped_total", "kept_per_epoch")

    def __init__(self, setup: SamplerSetup):
        self.setup = setup
        self.ratio = setup.options.prune_ratio
        self.prune_epochs = setup.options.anneal * setup.epochs
        self.losses = torch.full((setup.n_train,), float("nan"))  # last observed loss (CPU)
        self.passes = WeightedPasses(setup.batch_size, setup.generator)
        self.skipped_total = 0
        self.kept_per_epoch: list[int] = []

    def start_epoch(self, ctx: StepContext) -> None:
        s = self.setup
        n = s.n_train
        weights = torch.ones(n)
        keep = torch.ones(n, dtype=torch.bool)
        known = ~torch.isnan(self.losses)
        if ctx.epoch - 1 < self.prune_epochs and known.any():
            well_learned = known & (self.losses < self.losses[known].mean())
            coin = torch.rand(n, generator=s.generator)
            skip = well_learned & (coin < self.ratio)
            keep = ~skip
            weights[well_learned & keep] = 1.0 / (1.0 - self.ratio)
        kept = torch.nonzero(keep).flatten()
        self.skipped_total += n - len(kept)
        self.kept_per_epoch.append(len(kept))
        device = s.labels.device
        self.passes.reset(kept.to(device), weights[kept].to(device))

    def epoch_steps(self, epoch: int, planned: int) -> int:
        return math.ceil(len(self.passes.indices) / self.setup.batch_size)

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()

    def observe(self, indices: Tensor, losses: Tensor) -> None:
        self.losses[indices.cpu()] = losses.detach().float().cpu()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(extra={"skipped_examples": self.skipped_total,
                                     "kept_per_epoch": self.kept_per_epoch})

