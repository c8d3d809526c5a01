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
from ...train.samplers import StepContext
from ..facility_location import greedy_facility_location
from .passes import normalise_weights
from .periodic import Choice, PeriodicSelection, SelectionInputs


@dataclass(frozen=True)
class CraigOptions:
    interval: int = option(1, "epochs between CRAIG selections (facility location over every "
                           "class)", minimum=1)


class CraigSampler(PeriodicSelection):
    Options = CraigOptions
    choose_phase = "selection/facility_location"

    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        proxies = inputs.errors
        labels = self.labels_cpu.numpy()
        parts, weights = [], []
        for label, quota in self.quotas.items():
            if quota == 0:
                continue
            members = torch.from_numpy(np.flatnonzero(labels == label)).to(proxies.device)
            chosen, counts = greedy_facility_location(proxies[members], quota)
            parts.append(members[chosen])
            weights.append(counts.float())
        return Choice(torch.cat(parts), normalise_weights(torch.cat(weights)))
