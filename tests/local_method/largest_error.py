"""A dynamic method written for tests/test_local_dynamic_method.py: one file, no other change.

Every `interval` epochs, per class, keep the quota of examples whose error vector
softmax - onehot is longest (the hardest right now), weight 1. It shows what a new periodic
method needs: this file (its options and its `choose`) and one registry line; the scaffold
does the forward, the quotas, the timers, the selection log and checkpoints. Its own column
in selections.csv, `mean_error_norm`, is the mean error norm of what it picked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prunebench.options import option
from prunebench.selection.dynamic.periodic import Choice, PeriodicSelection, SelectionInputs
from prunebench.train.samplers import StepContext


@dataclass(frozen=True)
class LargestErrorOptions:
    interval: int = option(1, "epochs between selections", minimum=1)


class LargestErrorSampler(PeriodicSelection):
    Options = LargestErrorOptions
    choose_phase = "selection/largest_error"

    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        norms = inputs.errors.norm(dim=1).cpu()
        labels = self.labels_cpu.numpy()
        parts = []
        for label, quota in self.quotas.items():
            members = torch.from_numpy(np.flatnonzero(labels == label))
            parts.append(members[torch.argsort(norms[members], descending=True)[:quota]])
        picked = torch.cat(parts)
        return Choice(picked, columns={"mean_error_norm": float(norms[picked].mean())})
