"""GradMatch (Killamsetty et al., ICML 2021), following CORDS's `gradmatchstrategy.py` minus its
OMP fault (docs/methods.md, `gradmatch`).

Every `interval` epochs, one eval-mode forward of the un-augmented training set gives each
example's last-layer gradient g_i = [e_i, vec(e_i h_i^T)] (e = softmax - onehot, h the
penultimate features; bias then weights). Per class c with quota k_c (largest-remainder class
quotas of round(f * N)), non-negative OMP with ridge `lam` (`kernels.omp`) picks at most
k_c examples whose weighted gradients match the class's gradient sum; their weights are the
OMP solution. When OMP stops early (the residual is below `tol`, or no example left correlates
positively with it) the quota is filled with random unpicked members of the same class at
weight 1, the weight every example has in the target sum. `per_batch: true` is GradMatchPB:
one vector per mini-batch of a fixed random partition of the training set (the mean of its
members' vectors), OMP over all of them for ceil(f * N / B) batches, each batch's weight given
to all its members, random unpicked batches filling a short answer.

The OMPs run in `kernels.omp`: on a CPU each class's compiled and in float64, on a GPU all
classes in one batched solver.

Training takes shuffled passes over the selection; each batch's weights are rescaled to mean 1
within the batch, so the loop's mean(w * l) equals CORDS's per-batch loss
sum(w l) / sum(w) exactly. selected.npz keeps the raw OMP weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ...options import option
from ...train.passes import normalise_weights
from ...train.samplers import Batch, SamplerSetup, StepContext
from ..kernels.omp import gradmatch_select_batches, gradmatch_select_per_class, warm_up
from .last_layer import batch_mean_gradients
from .periodic import Choice, PeriodicSelection, SelectionInputs


@dataclass(frozen=True)
class GradMatchOptions:
    interval: int = option(1, "epochs between selections (CREST's comparison: every epoch; "
                           "CORDS's GradMatch config: select_every 20)", minimum=1)
    lam: float = option(0.5, "ridge term of the OMP solve (CORDS GradMatch config: lam 0.5; "
                        "its GradMatchPB configs use 0)", minimum=0)
    tol: float = option(1e-100, "stop OMP when ||residual|| < tol * ||target|| (CORDS configs: "
                        "eps 1e-100, i.e. never; its solver's default is 1e-4)", minimum=0)
    per_batch: bool = option(False, "GradMatchPB: one vector per fixed mini-batch, its weight "
                             "given to all members (CORDS selection_type PerBatch)")
    class_row_only: bool = option(False, "per class, only the head's row of that class "
                                  "[e_c, e_c h] (CORDS's GradMatch config default, "
                                  "PerClassPerGradient); false = the whole last layer (PerClass)")


class GradMatchSampler(PeriodicSelection):
    Options = GradMatchOptions
    proxy_phase = "selection/gradients"
    choose_phase = "selection/omp"
    warm_ups = (warm_up,)  # the compiled per-class OMP a CPU runs
    needs_features = True
    state_keys = (*PeriodicSelection.state_keys, "batches", "omp_picked", "random_filled")

    def __init__(self, setup: SamplerSetup):
        super().__init__(setup)
        # GradMatchPB's fixed partition into mini-batches (CORDS: its sequential loader's)
        self.batches: list[Tensor] = []
        if self.options.per_batch:
            order = torch.randperm(setup.n_train, generator=setup.generator)
            self.batches = list(order.split(setup.batch_size))
        # atoms OMP picked and atoms filled at random (examples; mini-batches with per_batch)
        self.omp_picked = 0
        self.random_filled = 0

    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        # every class's OMP, or GradMatchPB's one (kernels.omp chooses the solver per device)
        o, s = self.options, self.setup
        if o.per_batch:
            device = inputs.errors.device
            rows = batch_mean_gradients(inputs.errors, inputs.features,
                                        [b.to(device) for b in self.batches])
            result = gradmatch_select_batches(rows, self.batches, s.n_budget, s.batch_size,
                                              o.lam, o.tol, s.generator)
        else:
            result = gradmatch_select_per_class(inputs.errors, inputs.features, self.labels_cpu,
                                                self.quotas, o.lam, o.tol, o.class_row_only,
                                                s.generator)
        self.omp_picked += result.omp_picked
        self.random_filled += result.random_filled
        return Choice(result.indices, result.weights)

    def next_batch(self, ctx: StepContext) -> Batch:
        batch = self.passes.next()
        # mean 1 within the batch: the loop's mean(w * l) is then sum(w l) / sum(w) (CORDS)
        return Batch(batch.indices, normalise_weights(batch.weights))

    def extra_outputs(self) -> dict:
        return {"omp_picked": self.omp_picked, "random_filled": self.random_filled}
