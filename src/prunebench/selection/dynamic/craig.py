"""CRAIG (Mirzasoleiman, Bilmes, Leskovec, ICML 2020), per-epoch variant used as a baseline.

Every `interval` epochs: forward the whole training set once in eval mode for the last-layer
gradient proxy softmax(f(x)) - onehot(y); per class, greedy facility location over that class
picks its share of round(f * N) examples (class quotas by largest remainder), each weighted by
the number of class members nearest to it (weights normalised to mean 1). Training then takes
shuffled passes over the weighted subset. The facility location is chunked, so memory stays
O(chunk x class size), never N x N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...options import option
from ...train.samplers import BaseSampler, Batch, SamplerOutputs, SelectionRecord, StepContext
from ..facility_location import greedy_facility_location
from ..static.quotas import class_quotas
from .common import (
    SamplerSetup,
    Stopwatch,
    WeightedPasses,
    error_vectors,
    eval_logits,
    normalise_weights,
)


@dataclass(frozen=True)
class CraigOptions:
    interval: int = option(1, "epochs between CRAIG selections (facility location over every "
                           "class)", minimum=1)


class CraigSampler(BaseSampler):
    Options = CraigOptions

    def __init__(self, setup: SamplerSetup):
        self.setup = setup
        self.interval = setup.options.interval
        self.passes = WeightedPasses(setup.batch_size, setup.generator)
        self.quotas = class_quotas(setup.labels.cpu().numpy(), setup.n_budget)
        self.records: list[SelectionRecord] = []
        self.forward_examples = 0

    def start_epoch(self, ctx: StepContext) -> None:
        if self.records and (ctx.epoch - 1) % self.interval != 0:
            return
        s = self.setup
        with Stopwatch(s.labels.device) as watch:
            with ctx.timers.phase("selection/proxy"):
                everything = torch.arange(s.n_train, device=s.labels.device)
                proxies = error_vectors(
                    eval_logits(ctx.model, ctx.data, everything, s.eval_batch_size), s.labels)
                self.forward_examples += s.n_train
            with ctx.timers.phase("selection/facility_location"):
                labels = s.labels.cpu().numpy()
                parts, weights = [], []
                for label, quota in self.quotas.items():
                    if quota == 0:
                        continue
                    members = torch.from_numpy(np.flatnonzero(labels == label)).to(proxies.device)
                    chosen, counts = greedy_facility_location(proxies[members], quota)
                    parts.append(members[chosen])
                    weights.append(counts.float())
                indices, weights = torch.cat(parts), normalise_weights(torch.cat(weights))
        self.passes.reset(indices, weights)
        reason = "initial" if not self.records else "epoch start"
        self.records.append(SelectionRecord(
            step=ctx.step, epoch=ctx.epoch, reason=reason, rel_error=None, pool_size=s.n_train,
            indices=indices.cpu(), weights=weights.cpu(), seconds=watch.seconds))

    def next_batch(self, ctx: StepContext) -> Batch:
        return self.passes.next()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(forward_examples=self.forward_examples,
                              selections=list(self.records),
                              extra={"selections": len(self.records)})

    def state_dict(self) -> dict:
        return {"passes": self.passes.state_dict(), "records": self.records,
                "forward_examples": self.forward_examples}

    def load_state_dict(self, state: dict) -> None:
        self.passes.load_state_dict(state["passes"])
        self.records, self.forward_examples = state["records"], state["forward_examples"]
