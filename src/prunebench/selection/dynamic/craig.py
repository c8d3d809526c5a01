"""CRAIG (Mirzasoleiman, Bilmes, Leskovec, ICML 2020), per-epoch variant used as a baseline.

Every `interval` epochs: forward the whole training set once in eval mode for the last-layer
gradient proxy softmax(f(x)) - onehot(y); per class, greedy facility location over that class
picks its share of round(f * N) examples (class quotas by largest remainder), each weighted by
the number of class members nearest to it (weights normalised to mean 1). Training then takes
shuffled passes over the weighted subset. All classes are solved in one call
(`kernels.facility_location.craig_select`): dense where memory allows, chunked where it does
not, so memory stays O(chunk x class size), never N x N; on a CPU each class runs the
compiled lazy greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...options import option
from ...train.passes import normalise_weights
from ...train.samplers import StepContext
from ..kernels.facility_location import craig_select, warm_up
from .periodic import Choice, PeriodicSelection, SelectionInputs


@dataclass(frozen=True)
class CraigOptions:
    interval: int = option(1, "epochs between CRAIG selections (facility location over every "
                           "class)", minimum=1)


class CraigSampler(PeriodicSelection):
    Options = CraigOptions
    choose_phase = "selection/facility_location"
    warm_ups = (warm_up,)

    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        # every class's facility location in one call (kernels.facility_location.craig_select)
        indices, sizes = craig_select(inputs.errors, self.setup.labels, self.quotas)
        return Choice(indices, normalise_weights(sizes))
