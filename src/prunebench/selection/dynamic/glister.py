"""GLISTER-ONLINE (Killamsetty et al., AAAI 2021), following CORDS's `glisterstrategy.py`
(stochastic greedy, `linear_layer: False` as in all its GLISTER configs); docs/methods.md.

A fixed, class-stratified `val_fraction` of the training set is the validation set V, drawn
once per run and never trained on (training draws come only from the other examples); the
budget is still round(f * N) examples per epoch, as for every dynamic method. Every
`interval` epochs, one eval-mode forward of the un-augmented training set gives each
candidate's last-layer bias gradient g_i = softmax(z_i) - onehot(y_i) and V's logits. The
greedy then picks k = round(f * N) candidates: v = mean over V of softmax(z) - onehot(y); each
pick samples ceil(n / k * ln(1 / epsilon)) of the remaining candidates (epsilon 0.01: CORDS's
ln 100), adds the one with the largest g_i . v (the first-order drop of the validation loss
after a step on it), and recomputes v on V's logits after a virtual step on the picks so far:
z - eta * G, G = sum of the chosen g (a step of size eta on the bias moves every logit by it),
with eta the learning rate of the coming training step. Weights 1.

Differences from CORDS: CORDS's eta is the optimizer's initial lr for the whole run (ours: the
current scheduled lr); its sample size is int(...) (ours: ceil, docs/methods.md); its validation
set is a random (not stratified) 10% split taken out of the training set for every method,
and its budget is f times the remaining 90%; its selection forwards run in the model's
training mode on augmented inputs (ours: eval mode, un-augmented); before its first selection
(epoch `select_every`) it trains on one random subset, ours selects at epoch 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...options import option
from ...train.samplers import SamplerSetup, StepContext
from ..kernels.glister import glister_greedy, warm_up
from .draws import stratified_draw
from .periodic import Choice, PeriodicSelection, SelectionInputs


@dataclass(frozen=True)
class GlisterOptions:
    interval: int = option(1, "epochs between selections (CREST's comparison: every epoch; "
                           "CORDS's GLISTER configs: select_every 20)", minimum=1)
    val_fraction: float = option(0.1, "class-stratified share of the training set held out as "
                                 "GLISTER's validation set and never trained on (CORDS: a "
                                 "random 10% split)", exclusiveMinimum=0, exclusiveMaximum=1)
    epsilon: float = option(0.01, "stochastic greedy's epsilon: each pick samples ceil(n / k * "
                            "ln(1 / epsilon)) remaining candidates (CORDS: ln 100)",
                            exclusiveMinimum=0, exclusiveMaximum=1)


class GlisterSampler(PeriodicSelection):
    Options = GlisterOptions
    choose_phase = "selection/greedy"
    warm_ups = (warm_up,)
    state_keys = (*PeriodicSelection.state_keys, "val_indices", "pool")

    def __init__(self, setup: SamplerSetup):
        n = setup.n_train
        n_val = min(n - 1, max(1, round(setup.options.val_fraction * n)))
        self.val_indices = stratified_draw(torch.arange(n), setup.labels.cpu(), n_val,
                                           setup.generator).sort().values
        is_candidate = torch.ones(n, dtype=torch.bool)
        is_candidate[self.val_indices] = False
        super().__init__(setup, pool=torch.nonzero(is_candidate).flatten())
        self.k = min(setup.n_budget, len(self.candidates))

    @property
    def candidates(self) -> Tensor:
        """The examples GLISTER may pick and train on: all but the validation set."""
        return self.pool

    def choose(self, inputs: SelectionInputs, ctx: StepContext) -> Choice:
        s = self.setup
        val = self.val_indices.to(inputs.logits.device)
        seed = int(torch.randint(2**62, (1,), generator=s.generator))
        picks = glister_greedy(inputs.errors, inputs.logits[val], s.labels[val], self.k, ctx.lr,
                                  self.options.epsilon, np.random.default_rng(seed))
        return Choice(self.candidates[picks])

    def extra_outputs(self) -> dict:
        return {"val_size": len(self.val_indices), "candidates": len(self.candidates)}
