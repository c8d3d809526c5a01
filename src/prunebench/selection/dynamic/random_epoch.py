"""random_epoch: a fresh uniform subset of round(f * N) examples every epoch, weight 1.

CREST's random baseline: the same steps as CREST, no selection cost beyond a permutation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...train.passes import WeightedPasses
from ...train.samplers import BaseSampler, Batch, SamplerOutputs, SamplerSetup, StepContext
from .draws import uniform_draw


@dataclass(frozen=True)
class RandomEpochOptions:
    """random_epoch has no options."""


class RandomEpochSampler(BaseSampler):
    Options = RandomEpochOptions
    state_keys = ("passes", "draws")

    def __init__(self, setup: SamplerSetup):
        self.setup = setup
        self.passes = WeightedPasses(setup.batch_size, setup.generator)
        self.draws = 0

    def start_epoch(self, ctx: StepContext) -> None:
        subset = uniform_draw(self.setup.n_train, self.setup.n_budget, self.setup.generator)
        self.passes.reset(subset.to(self.setup.labels.device), None)
        self.draws += 1

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(extra={"subsets_drawn": self.draws,
                                     "subset_size": self.setup.n_budget})

