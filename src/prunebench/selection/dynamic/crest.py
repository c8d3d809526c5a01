"""CREST (Yang, Kang, Mirzasoleiman, ICML 2023): mini-batch coresets from random subsets,
re-picked when a quadratic model of the loss stops fitting; learned examples dropped.

Selection (METHODS.md, steps 1-4): draw m class-stratified random subsets R_1..R_m of size r
from the active pool; forward them once in eval mode to get the last-layer gradient proxy
softmax(f(x)) - onehot(y) and their losses; per subset and class, greedy facility location picks
ceil(B / C) medoids weighted by the points nearest to each, giving m weighted mini-batches of
about B examples (weights normalised to mean 1). A quadratic model of the loss is fitted at
that point. Training cycles through the m coresets, one optimizer step each. Every
`check_interval` steps the loss on the same random subsets (one forward over m * r examples,
never the whole training set) is compared with the model's prediction; when
|true - approx| > tau * true the coresets are selected again. As in the reference code, the
first epoch trains on the initial coresets without checks (at initialisation the loss moves
too fast for any quadratic model), and they are re-picked once at the start of epoch 2 (every
epoch with `reselect_each_epoch`); checks run from then on. The reference code's faults
(a second backward on every step, checks over the whole training set) are not copied: the
training step is the loop's single backward, and the Hessian is estimated at selection only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...options import option
from ...train.samplers import BaseSampler, Batch, SamplerOutputs, SelectionRecord, StepContext
from ..facility_location import greedy_facility_location
from .common import SamplerSetup, Stopwatch, error_vectors, eval_logits, normalise_weights
from .crest_pool import LearnedPool
from .crest_quadratic import QuadraticModel, fit_quadratic, flat_parameters


@dataclass(frozen=True)
class CrestOptions:
    subset_size: int = option(500, "r - examples in each class-stratified random subset (paper - "
                              "1% of N, 500 on CIFAR-10)", minimum=2)
    num_subsets: int = option(5, "m - random subsets (hence weighted mini-batch coresets) per "
                              "selection", minimum=1)
    tau: float = option(0.1, "reselect when |true - approx| > tau * true at a check (relative "
                        "error of the quadratic model)", minimum=0)
    check_interval: int = option(10, "steps between checks of the quadratic model (each check = "
                                 "one forward over the m random subsets)", minimum=1)
    hessian_probes: int = option(1, "Rademacher probes of the Hutchinson diagonal-Hessian "
                                 "estimate, at selection time only", minimum=1)
    reselect_each_epoch: bool = option(False, "also reselect at the start of every epoch")
    drop: bool = option(True, "drop learned examples from the pool (METHODS.md, CREST step 7)")
    drop_interval: int = option(20, "epochs between drops", minimum=1)
    drop_watch: int = option(5, "an example is learned when its last drop_watch recorded losses "
                             "are all below drop_thresh", minimum=1)
    drop_thresh: float = option(0.1, "loss below which an observation counts as learned",
                                minimum=0)
    class_floor: float = option(0.1, "never shrink a class below this fraction of its size",
                                minimum=0, maximum=1)
    min_pool: float = option(0.2, "never shrink the pool below this fraction of N", minimum=0,
                             maximum=1)


class CrestSampler(BaseSampler):
    Options = CrestOptions

    def __init__(self, setup: SamplerSetup):
        o = setup.options
        self.setup = setup
        self.r, self.m = o.subset_size, o.num_subsets
        self.tau, self.check_interval = o.tau, o.check_interval
        self.probes, self.reselect_each_epoch = o.hessian_probes, o.reselect_each_epoch
        self.drop_enabled, self.drop_interval = o.drop, o.drop_interval
        self.per_class = math.ceil(setup.batch_size / setup.num_classes)
        self.pool = LearnedPool(setup.labels, watch=o.drop_watch, thresh=o.drop_thresh,
                                class_floor=o.class_floor, min_pool=o.min_pool)
        self.labels_cpu = setup.labels.cpu()
        self.coresets: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.random_union: torch.Tensor | None = None
        self.quadratic: QuadraticModel | None = None
        self.cursor = 0  # coreset to train on next
        self.since_selection = 0  # steps trained on the current coresets
        self.records: list[SelectionRecord] = []
        self.forward_examples = 0
        self.backward_examples = 0
        self.checks = 0
        self.dropped_at: list[tuple[int, int]] = []  # (epoch, examples dropped)

    # -- the sampler protocol -------------------------------------------------------------
    def start_epoch(self, ctx: StepContext) -> None:
        if self.drop_enabled and ctx.epoch > 1 and (ctx.epoch - 1) % self.drop_interval == 0:
            with ctx.timers.phase("selection/drop"):
                dropped = self.pool.drop()
            self.dropped_at.append((ctx.epoch, len(dropped)))
        if not self.coresets:
            self.select(ctx, "initial", None)
        elif self.reselect_each_epoch or ctx.epoch == 2:
            self.select(ctx, "epoch start", None)

    def next_batch(self, ctx: StepContext) -> Batch:
        checking = ctx.epoch > 1  # the first epoch runs on the initial coresets, unchecked
        if checking and self.since_selection and self.since_selection % self.check_interval == 0:
            rel_error = self.check(ctx)
            if rel_error > self.tau:
                self.select(ctx, "check failed", rel_error)
        indices, weights = self.coresets[self.cursor % len(self.coresets)]
        self.cursor += 1
        self.since_selection += 1
        return Batch(indices, weights)

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(
            forward_examples=self.forward_examples, backward_examples=self.backward_examples,
            selections=list(self.records),
            extra={"checks": self.checks, "selections": len(self.records),
                   "pool_size_final": self.pool.size, "dropped": self.pool.dropped_total,
                   "drops": [{"epoch": e, "dropped": d} for e, d in self.dropped_at]})

    # -- selection and the quadratic check ------------------------------------------------
    def select(self, ctx: StepContext, reason: str, rel_error: float | None) -> None:
        s, device = self.setup, self.setup.labels.device
        with Stopwatch(device) as watch:
            with ctx.timers.phase("selection/proxy"):
                subsets = [self.pool.draw(self.r, s.generator) for _ in range(self.m)]
                union = torch.cat(subsets).to(device)
                logits = eval_logits(ctx.model, ctx.data, union, s.eval_batch_size)
                labels = s.labels[union]
                losses = F.cross_entropy(logits, labels, reduction="none")
                proxies = error_vectors(logits, labels)
                self.forward_examples += len(union)
                self.pool.record(union, losses)
            with ctx.timers.phase("selection/facility_location"):
                self.coresets = self._coresets(subsets, proxies)
            with ctx.timers.phase("selection/hessian"):
                core = torch.cat([c[0] for c in self.coresets])
                core_w = torch.cat([c[1] for c in self.coresets])
                self.quadratic = fit_quadratic(
                    ctx.model, ctx.data, core, core_w, loss0=float(losses.mean()),
                    probes=self.probes, chunk=s.eval_batch_size, generator=s.generator)
                self.forward_examples += len(core)
                self.backward_examples += len(core) * (1 + self.probes)
        self.random_union = union
        self.cursor, self.since_selection = 0, 0
        self.records.append(SelectionRecord(
            step=ctx.step, epoch=ctx.epoch, reason=reason, rel_error=rel_error,
            pool_size=self.pool.size, indices=core.cpu(), weights=core_w.cpu(),
            seconds=watch.seconds))

    def _coresets(self, subsets, proxies) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per random subset and class, facility-location medoids weighted by cluster size."""
        picked, start = [], 0
        for subset in subsets:
            subset = subset.to(proxies.device)
            rows = proxies[start:start + len(subset)]
            start += len(subset)
            subset_labels = self.setup.labels[subset]
            parts, weights = [], []
            for label in torch.unique(subset_labels):
                members = torch.nonzero(subset_labels == label).flatten()
                chosen, counts = greedy_facility_location(rows[members], self.per_class)
                parts.append(subset[members[chosen]])
                weights.append(counts.float())
            picked.append((torch.cat(parts), torch.cat(weights)))
        # weights normalised to mean 1 over the whole selection
        sizes = [len(p[0]) for p in picked]
        all_weights = normalise_weights(torch.cat([p[1] for p in picked]))
        return [(p[0], w) for p, w in zip(picked, all_weights.split(sizes), strict=True)]

    def check(self, ctx: StepContext) -> float:
        """Relative error of the quadratic model on the random subsets (one forward of them)."""
        with ctx.timers.phase("selection/check"):
            union = self.random_union
            logits = eval_logits(ctx.model, ctx.data, union, self.setup.eval_batch_size)
            losses = F.cross_entropy(logits, self.setup.labels[union], reduction="none")
            self.forward_examples += len(union)
            self.checks += 1
            self.pool.record(union, losses)
            true = float(losses.mean())
            approx = self.quadratic.predict(flat_parameters(ctx.model))
        return abs(true - approx) / max(true, 1e-12)

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"pool": self.pool.state_dict(), "coresets": self.coresets,
                "random_union": self.random_union,
                "quadratic": self.quadratic.state_dict() if self.quadratic else None,
                "cursor": self.cursor, "since_selection": self.since_selection,
                "records": self.records, "forward_examples": self.forward_examples,
                "backward_examples": self.backward_examples, "checks": self.checks,
                "dropped_at": self.dropped_at}

    def load_state_dict(self, state: dict) -> None:
        self.pool.load_state_dict(state["pool"])
        self.coresets, self.random_union = state["coresets"], state["random_union"]
        quadratic = state["quadratic"]
        self.quadratic = QuadraticModel.from_state(quadratic) if quadratic else None
        for key in ("cursor", "since_selection", "records", "forward_examples",
                    "backward_examples", "checks", "dropped_at"):
            setattr(self, key, state[key])
