"""CREST (Yang, Kang, Mirzasoleiman, ICML 2023) as its reference runs it (docs/methods.md, CREST).

S = ceil(f*N / B), one budget epoch of steps.
1. Warm-up: steps 0..S-1 are uniform random mini-batches of all N (weight 1), at lr 0 by
   default as the reference's scheduler gives them (forward and backward run, the optimizer
   step is skipped); the first selection is at step S.
2. Selection: m class-stratified random subsets of the pool (ceil(r/C) per class), one
   eval-mode forward of their union (un-augmented) for the losses and the last-layer proxy,
   per subset and class facility-location medoids (coresets.py).
3. Training: batches of B from the shuffled union of the m coresets with their weights,
   pass after pass while the checks pass (a pass's last batch is |union| mod B examples, as
   the reference's DataLoader gives it; `train_batches: per_coreset` trains one whole coreset
   per step instead).
4. Quadratic model fitted at once over the coreset union (quadratic.py): AdaHessian
   moments kept across selections, train mode on augmented batches (the reference's choices).
5. Check every `check_interval` steps: the eval-mode loss of the same random subsets against
   the model's prediction at theta_now - theta_at_selection; |true - approx| > tau * true
   selects again at this step.
6. Adaptive interval and m: after every selection but the first, check_interval =
   ceil(initial curvature norm / norm * interval_mul), m = min(check_interval * batch_num_mul, S).
7. Learned examples (off by default, as in the reference): pool.py.
Corrections to the reference (docs/methods.md, faults): one backward per training step, checks that
forward only the random subsets, delta as a parameter difference, synchronised timers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ....logit_gradients import error_vectors
from ....options import option
from ....train.passes import WeightedPasses
from ....train.samplers import (
    BaseSampler,
    Batch,
    SamplerOutputs,
    SamplerSetup,
    SelectionRecord,
    StepContext,
)
from ...kernels.facility_location import SIMILARITIES
from ..forwards import eval_logits
from ..timing import Stopwatch
from .coresets import minibatch_coresets
from .pool import CrestPool
from .quadratic import AdaHessianMoments, QuadraticModel, fit_quadratic, flat_parameters


@dataclass(frozen=True)
class CrestOptions:
    subset_size: float = option(
        0.01, "r - examples per random subset, ceil(r/C) per class; below 1 a fraction of N, "
        "from 1 a count (reference random_subset_size 0.01, i.e. 500 of CIFAR-10)",
        count_of_examples=True, exclusiveMinimum=0)
    num_subsets: int = option(
        5, "m - random subsets, one mini-batch coreset each, per selection; with adaptive, "
        "until the first update (reference num_minibatch_coreset 5)", minimum=1)
    tau: float = option(0.1, "select again when |true - approx| > tau * true at a check "
                        "(reference check_thresh_factor 0.1)", minimum=0)
    check_interval: int = option(
        1, "steps between checks of the quadratic model; with adaptive, until the first update "
        "(reference check_interval 1)", minimum=1)
    adaptive: bool = option(
        True, "after every selection but the first set check_interval = ceil(initial curvature "
        "norm / curvature norm * interval_mul) and m = min(check_interval * batch_num_mul, S) "
        "(the reference's rule; false keeps both fixed)")
    interval_mul: float = option(1.0, "scales the adaptive check interval (reference "
                                 "interval_mul 1)", exclusiveMinimum=0)
    batch_num_mul: float = option(5.0, "coresets per step of check interval, adaptive m "
                                  "(reference batch_num_mul 5)", exclusiveMinimum=0)
    curvature: str = option(
        "adahessian", "diagonal curvature of the quadratic model - adahessian (reference "
        "approx_moment - AdaHessian moments kept across selections) or hutchinson (signed, "
        "no state)", choices=("adahessian", "hutchinson"))
    curvature_mode: str = option(
        "train", "fit the quadratic model in train mode on augmented batches (the reference) or "
        "in eval mode on un-augmented ones", choices=("train", "eval"))
    hessian_probes: int = option(1, "Rademacher probes averaged per batch of the curvature fit "
                                 "(the reference uses 1)", minimum=1)
    train_batches: str = option(
        "union", "union (the reference - shuffled batches of B from the union of the m coresets, "
        "the last of a pass shorter) or per_coreset (one whole coreset per step, in turn - an "
        "ablation)", choices=("union", "per_coreset"))
    warmup: bool = option(True, "train the first ceil(f*N/B) steps on uniform random batches "
                          "of all N and select after them (the reference's first epoch)")
    warmup_lr: str = option(
        "zero", "lr of the warm-up steps - zero (the reference's scheduler starts at lr 0; "
        "forward and backward run, no optimizer step) or schedule (the run's schedule)",
        choices=("zero", "schedule"))
    similarity: str = option(
        "max_minus_distance", "facility location's similarity - max_minus_distance (largest "
        "distance minus distance, the paper's) or exp_euclidean (exp(-distance / proxy dim), "
        "submodlib's dense euclidean kernel, which the reference calls)",
        choices=SIMILARITIES)
    drop: bool = option(False, "drop learned examples from the pool (reference drop_learned, "
                        "off; the paper's Table 6 turns it on)")
    drop_interval: int = option(20, "recompute the pool at every selection of each epoch whose "
                                "number is a multiple of this (reference drop_interval 20)",
                                minimum=1)
    drop_watch: int = option(5, "slots of the loss watch table, one per epoch modulo this "
                             "(reference watch_interval 5)", minimum=1)
    drop_thresh: float = option(0.1, "an example stays while some recorded loss exceeds this "
                                "(reference drop_thresh 0.1)", minimum=0)
    min_pool: float = option(0.8, "apply a new pool only if it holds more than this fraction of "
                             "N (reference min_train_size 40,000 of 50,000)", minimum=0,
                             maximum=1)


def adapted_interval(initial_norm: float, norm: float, interval_mul: float, batch_num_mul: float,
                     steps_per_epoch: int) -> tuple[int, int]:
    """(check_interval, m) after a selection whose curvature norm is `norm` (step 6)."""
    interval = max(1, math.ceil(initial_norm / max(norm, 1e-30) * interval_mul))
    return interval, max(1, min(math.ceil(interval * batch_num_mul), steps_per_epoch))


class CoresetCycle:
    """One whole mini-batch coreset per step, the m coresets in turn, round and round."""

    def __init__(self):
        self.parts: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.cursor = 0

    def reset(self, indices, weights, sizes: list[int]) -> None:
        self.parts = list(zip(indices.split(sizes), weights.split(sizes), strict=True))
        self.cursor = 0

    def next(self) -> Batch:
        indices, weights = self.parts[self.cursor % len(self.parts)]
        self.cursor += 1
        return Batch(indices, weights)

    def state_dict(self) -> dict:
        return {"parts": self.parts, "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.parts, self.cursor = state["parts"], state["cursor"]


class CrestSampler(BaseSampler):
    Options = CrestOptions

    def __init__(self, setup: SamplerSetup):
        o = self.options = setup.options
        self.setup = setup
        n, classes = setup.n_train, setup.num_classes
        r = o.subset_size * n if o.subset_size < 1 else o.subset_size
        self.steps_per_epoch = math.ceil(setup.n_budget / setup.batch_size)  # S
        self.pool = CrestPool(setup.labels, classes, per_class=math.ceil(r / classes),
                              watch=o.drop_watch, thresh=o.drop_thresh, min_pool=o.min_pool)
        self.per_class_medoids = math.ceil(setup.batch_size / classes)
        self.interval, self.m = o.check_interval, o.num_subsets
        self.initial_norm: float | None = None
        self.moments = AdaHessianMoments() if o.curvature == "adahessian" else None
        self.warmup_passes = WeightedPasses(setup.batch_size, setup.generator)
        self.warmup_passes.reset(torch.arange(n, device=setup.labels.device), None)
        self.passes = (CoresetCycle() if o.train_batches == "per_coreset"
                       else WeightedPasses(setup.batch_size, setup.generator))
        self.random_union: torch.Tensor | None = None
        self.quadratic: QuadraticModel | None = None
        self.since_selection = 0
        self.records: list[SelectionRecord] = []
        self.counts = {"forward_examples": 0, "backward_examples": 0, "checks": 0,
                       "checks_failed": 0, "warmup_steps": 0}
        self.drops: list[dict] = []

    # -- the sampler protocol -------------------------------------------------------------
    def next_batch(self, ctx: StepContext) -> Batch:
        if self.quadratic is None:
            if self.options.warmup and ctx.step < self.steps_per_epoch:
                self.counts["warmup_steps"] += 1
                batch = self.warmup_passes.next()
                scale = 0.0 if self.options.warmup_lr == "zero" else 1.0
                return Batch(batch.indices, None, lr_scale=scale)
            self.select(ctx, "initial", None)
        elif self.since_selection and self.since_selection % self.interval == 0:
            rel_error = self.check(ctx)
            if rel_error > self.options.tau:
                self.counts["checks_failed"] += 1
                self.select(ctx, "check failed", rel_error)
        self.since_selection += 1
        return self.passes.next()

    def outputs(self) -> SamplerOutputs:
        return SamplerOutputs(
            forward_examples=self.counts["forward_examples"],
            backward_examples=self.counts["backward_examples"], selections=list(self.records),
            extra={"checks": self.counts["checks"], "checks_failed": self.counts["checks_failed"],
                   "selections": len(self.records), "warmup_steps": self.counts["warmup_steps"],
                   "initial_curvature_norm": self.initial_norm,
                   "check_interval_final": self.interval, "num_coresets_final": self.m,
                   "pool_size_final": self.pool.size,
                   "dropped": sum(d["dropped"] for d in self.drops), "drops": list(self.drops)})

    # -- selection, the quadratic model and its check -------------------------------------
    def select(self, ctx: StepContext, reason: str, rel_error: float | None) -> None:
        s, o, device = self.setup, self.options, self.setup.labels.device
        pool_size = self.pool.size
        with Stopwatch(device) as watch:
            with ctx.timers.phase("selection/proxy"):
                subsets = [self.pool.draw(s.generator) for _ in range(self.m)]
                union = torch.cat(subsets).to(device)
                logits = eval_logits(ctx.model, ctx.data, union, s.eval_batch_size)
                labels = s.labels[union]
                losses = F.cross_entropy(logits, labels, reduction="none")
                proxies = error_vectors(logits, labels)
                self.counts["forward_examples"] += len(union)
            if o.drop:
                with ctx.timers.phase("selection/drop"):
                    self._learned_examples(ctx.epoch, ctx.step, union, losses)
            with ctx.timers.phase("selection/facility_location"):
                core, weights, sizes = minibatch_coresets(subsets, proxies, s.labels,
                                                          self.per_class_medoids,
                                                          similarity=o.similarity)
            with ctx.timers.phase("selection/hessian"):
                self.quadratic = self._fit(ctx, core, weights, float(losses.mean()))
        num_coresets = self.m
        self._adapt(self.quadratic.curvature_norm)
        self.random_union = union
        if isinstance(self.passes, CoresetCycle):
            self.passes.reset(core, weights, sizes)
        else:
            self.passes.reset(core, weights)
        self.since_selection = 0
        # CREST's own columns of selections.csv: the check that triggered this selection (None:
        # no check), the check interval set after it, the coresets it built, its curvature norm
        self.record_selection(ctx, core, weights, watch.seconds, pool_size=pool_size,
                              reason=reason,
                              columns={"rel_error": rel_error, "check_interval": self.interval,
                                       "num_coresets": num_coresets,
                                       "curvature_norm": self.quadratic.curvature_norm})

    def _fit(self, ctx: StepContext, core, weights, loss0: float) -> QuadraticModel:
        """The quadratic model over the coreset union in shuffled batches of B."""
        s, o = self.setup, self.options
        train = o.curvature_mode == "train"
        order = torch.randperm(len(core), generator=s.generator).to(core.device)

        def batches():
            for start in range(0, len(order), s.batch_size):
                take = order[start:start + s.batch_size]
                idx = core[take]
                if train:
                    x, y = ctx.data.train_batch(idx, ctx.augment, ctx.augment_generator)
                else:
                    x, y = next(ctx.data.eval_batches("train", len(idx), idx))
                yield x, y, weights[take]

        quadratic = fit_quadratic(ctx.model, batches(), loss0=loss0, moments=self.moments,
                                  probes=o.hessian_probes, generator=s.generator, train=train)
        self.counts["forward_examples"] += len(core)
        self.counts["backward_examples"] += len(core) * (1 + o.hessian_probes)
        return quadratic

    def _adapt(self, norm: float) -> None:
        o = self.options
        if self.initial_norm is None:
            self.initial_norm = norm  # the first selection anchors the rule
        elif o.adaptive:
            self.interval, self.m = adapted_interval(self.initial_norm, norm, o.interval_mul,
                                                     o.batch_num_mul, self.steps_per_epoch)

    def _learned_examples(self, epoch: int, step: int, union, losses) -> None:
        self.pool.record(epoch, union, losses)
        if epoch % self.options.drop_interval == 0:
            dropped = self.pool.update()
            self.drops.append({"epoch": epoch, "step": step, "dropped": dropped,
                               "pool_size": self.pool.size})

    def check(self, ctx: StepContext) -> float:
        """Relative error of the quadratic model on the random subsets (one forward of them)."""
        with ctx.timers.phase("selection/check"):
            union = self.random_union
            logits = eval_logits(ctx.model, ctx.data, union, self.setup.eval_batch_size)
            true = float(F.cross_entropy(logits, self.setup.labels[union]))
            self.counts["forward_examples"] += len(union)
            self.counts["checks"] += 1
            approx = self.quadratic.predict(flat_parameters(ctx.model))
        return abs(true - approx) / max(true, 1e-12)

    # -- checkpoints ----------------------------------------------------------------------
    state_keys = ("pool", "passes", "warmup_passes", "random_union", "moments", "interval", "m",
                  "initial_norm", "since_selection", "records", "counts", "drops")

    def state_dict(self) -> dict:
        quadratic = self.quadratic.state_dict() if self.quadratic else None
        return {**super().state_dict(), "quadratic": quadratic}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        quadratic = state["quadratic"]
        self.quadratic = QuadraticModel.from_state(quadratic) if quadratic else None
