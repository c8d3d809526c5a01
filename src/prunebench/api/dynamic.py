"""Dynamic selection in the user's own training loop, through the DAG's own samplers.

`DynamicMethod` builds the method's sampler (`METHODS[method]`'s class) from a `SamplerSetup`
exactly as a training job does (`train.run.make_sampler`), and speaks the sampler protocol on
the user's behalf, as the training loop does (`train.loop`): `start_epoch` at the lr of the
epoch's first step, then per step `next_batch` (the sampler's `next_batch` under the
"selection" timer, with a `StepContext` of the model, the data, the epoch, the global step
and the step's lr) and `observe` (the step's per-example losses back to the sampler).
The methods that read the model (CREST's quadratic model and coresets; the last-layer passes
of CRAIG, GradMatch and GLISTER) do so inside `start_epoch` / `next_batch`, on the
un-augmented examples.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..errors import UserError
from ..implementations import implementation
from ..models.base import uncompiled
from ..selection.static.common import check_fraction
from ..train.budget import plan_steps
from ..train.device import make_generators
from ..train.outputs import selections_csv
from ..train.samplers import Batch, SamplerSetup, SelectionRecord, StepContext
from ..train.timers import PhaseTimers
from .data import as_tensor_data, model_device
from .registry import checked_options, method_entry
from .scoring import DEFAULT_BATCH_SIZE

LearningRate = float | Callable[[int, int], float]  # a value, or (step_in_epoch, steps) -> lr


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise UserError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _fraction(method: str, entry, fraction) -> float:
    if entry.own_budget:  # InfoBatch sets its own savings; the DAG runs it at fraction 1
        if fraction not in (None, 1, 1.0):
            raise UserError(f"fraction: {method!r} sets its own budget (its options); leave "
                            "fraction out or pass 1")
        return 1.0
    if fraction is None:
        raise UserError(f"fraction is missing: {method!r} trains on fraction * N examples per "
                        "epoch; pass fraction= in (0, 1]")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise UserError(f"fraction must be a number in (0, 1], got {fraction!r}")
    check_fraction(fraction)
    return float(fraction)


class DynamicMethod:
    """A dynamic method (crest, craig, gradmatch, glister, infobatch, rs2, random_epoch) that
    your loop asks for every step's batch.

        method = pb.DynamicMethod("crest", model, x, y, fraction=0.1, batch_size=128, epochs=E)
        for epoch in range(1, E + 1):
            model.train()
            for i in range(method.start_epoch(epoch, lr=lr_of(epoch, 0))):
                batch = method.next_batch(lr=lr_of(epoch, i))   # indices, weights, lr_scale
                xb, yb = augment(x[batch.indices]), y[batch.indices]
                losses = F.cross_entropy(model(xb), yb, reduction="none")     # [B]
                loss = (losses if batch.weights is None else losses * batch.weights).mean()
                ...  # backward; optimizer step at lr * batch.lr_scale (skip it at 0)
                method.observe(batch.indices, losses.detach())

    model: the nn.Module you train (the same object: the method reads its current state).
    x [N, ...], y [N]: the un-augmented training examples as the model takes them and their
    integer labels, or a Dataset x of (x, y) pairs; kept on `device` (default: the model's).
    The method's own forwards read them in eval mode, float32, `eval_batch_size` at a time.
    fraction: the share of N an epoch trains on (round(f N) examples, ceil(f N / B) steps);
    batch_size B; epochs E (InfoBatch's annealing and CREST's schedule read them).
    seed: seeds the method's random draws (`generator`, a CPU torch.Generator, overrides it)
    and the augmentation stream `train_batch` uses (`augment_generator`, on `device`), as a
    training job seeds them. augment: prunebench's batched augmentation ({"crop_padding": p,
    "flip": bool}) for `train_batch` and for CREST's train-mode curvature fit; default none.
    options: the method's options by name, checked as a config's block is."""

    def __init__(self, method: str, model: torch.nn.Module, x, y=None, *,
                 fraction: float | None = None, batch_size: int, epochs: int, seed: int = 0,
                 generator: torch.Generator | None = None,
                 eval_batch_size: int = DEFAULT_BATCH_SIZE, num_classes: int | None = None,
                 augment: dict | None = None, augment_generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, **options):
        entry = method_entry(method, "dynamic", "select its subset with pb.select(...) and "
                             "train on that (or, for full, on all data)")
        if not isinstance(model, torch.nn.Module):
            raise UserError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        self.method, self.model = method, model
        fraction = _fraction(method, entry, fraction)
        batch_size = _positive_int(batch_size, "batch_size")
        epochs = _positive_int(epochs, "epochs")
        eval_batch_size = _positive_int(eval_batch_size, "eval_batch_size")
        self.data = as_tensor_data(x, y, device=device or model_device(model),
                                   num_classes=num_classes)
        self.device = self.data.train_y.device
        order, augmentation = make_generators(int(seed), self.device)
        self.generator = generator if generator is not None else order
        self.augment_generator = augment_generator if augment_generator is not None \
            else augmentation
        self.augment = dict(augment or {})
        sampler_class, _ = implementation(entry)
        self.setup = SamplerSetup(
            labels=self.data.train_y, num_classes=self.data.num_classes, fraction=fraction,
            batch_size=batch_size, eval_batch_size=eval_batch_size, epochs=epochs,
            generator=self.generator,
            options=checked_options(method, options, self.data.n_train))
        self.sampler = sampler_class(self.setup)
        # the steps of an epoch the budget plans (a sampler may change them: InfoBatch)
        self.steps_per_epoch = plan_steps(
            protocol="budget", kind="dynamic", n_train=self.data.n_train,
            n_used=self.setup.n_budget, batch_size=batch_size, epochs=epochs).steps_per_epoch
        self.timers = PhaseTimers(self.device)
        self.step = 0  # optimizer steps handed out so far (the loop's global step)
        self.examples_seen = 0  # examples whose losses came back through observe
        self._ctx: StepContext | None = None
        self._left = 0  # steps left in the current epoch

    # -- the loop's side of the sampler protocol -------------------------------------------
    def start_epoch(self, epoch: int, lr: float = 0.0) -> int:
        """Start epoch `epoch` (1, 2, ...) at `lr`, the learning rate of its first step (a
        periodic method selects here); returns the number of steps the epoch has."""
        epoch = _positive_int(epoch, "epoch")
        self._ctx = StepContext(model=self.model, data=self.data, timers=self.timers,
                                epoch=epoch, step=self.step, lr=float(lr), augment=self.augment,
                                augment_generator=self.augment_generator)
        with self._selection():
            self.sampler.start_epoch(self._ctx)
        self._left = self.sampler.epoch_steps(epoch, self.steps_per_epoch)
        return self._left

    def next_batch(self, lr: float = 0.0) -> Batch:
        """The next step's batch: `indices` (int64 [B] dataset indices on the data's device),
        `weights` (float32 [B], mean 1, or None: a plain mean) and `lr_scale` (multiply the
        step's lr by it; at 0 skip the optimizer step - CREST's warm-up). `lr`: the learning
        rate of this step (GLISTER's virtual step reads it)."""
        if self._ctx is None:
            raise UserError("call start_epoch(epoch) before next_batch()")
        if self._left <= 0:
            raise UserError(f"epoch {self._ctx.epoch} has no steps left; call "
                            "start_epoch(epoch + 1)")
        self._ctx.step, self._ctx.lr = self.step, float(lr)
        with self._selection():
            batch = self.sampler.next_batch(self._ctx)
        self.step += 1
        self._left -= 1
        return batch

    def observe(self, indices: Tensor, losses: Tensor) -> None:
        """The step's per-example training losses [B] (unweighted, any device) for the batch's
        `indices` (InfoBatch prunes by them; the others ignore them)."""
        if len(indices) != len(losses):
            raise UserError(f"indices ({len(indices)}) and losses ({len(losses)}) must have one "
                            "loss per example of the batch")
        self.sampler.observe(indices, losses.detach())
        self.examples_seen += len(losses)

    def batches(self, epoch: int, lr: LearningRate = 0.0) -> Iterator[Batch]:
        """`start_epoch(epoch)` then every step's `next_batch`; `lr` is a value or a function
        (step_in_epoch, steps_in_epoch) -> lr."""
        rate = lr if callable(lr) else (lambda i, n: lr)
        steps = self.start_epoch(epoch, rate(0, self.steps_per_epoch))
        for i in range(steps):
            yield self.next_batch(rate(i, steps))

    def train_batch(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """(x, y) of `indices` with prunebench's augmentation (`augment=`, drawn from
        `augment_generator`), as a training job's step takes them; your own augmentation of
        `x[indices]` works as well."""
        return self.data.train_batch(indices, self.augment, self.augment_generator)

    def timed(self, phase: str) -> AbstractContextManager:
        """A block timed into `times` under `phase` (e.g. "training", "evaluation")."""
        return self.timers.phase(phase)

    @contextmanager
    def _selection(self) -> Iterator[None]:
        """The sampler's work, timed as the loop times it (a compiled model runs eager)."""
        with self.timers.phase("selection"), uncompiled(self.model):
            yield

    # -- what it did ------------------------------------------------------------------------
    @property
    def records(self) -> list[SelectionRecord]:
        """Every selection (step, epoch, reason, pool size, indices, weights, seconds, the
        method's own columns); none for methods that keep no log (random_epoch, infobatch)."""
        return list(self.sampler.outputs().selections)

    @property
    def selections(self) -> pd.DataFrame:
        """One row per selection, the columns and values of a training job's selections.csv."""
        return pd.read_csv(io.StringIO(selections_csv(self.records)))

    @property
    def times(self) -> dict[str, float]:
        """Seconds per phase: selection (and its sub-phases, e.g. selection/facility_location)
        and whatever you timed with `timed`; the device synchronised at every reading."""
        return self.timers.snapshot()

    @property
    def counts(self) -> dict[str, int]:
        """Examples forwarded and back-propagated: your training steps' (what `observe` got)
        plus the method's own, as a training job's metrics.json counts them."""
        out = self.sampler.outputs()
        return {"forward_examples": self.examples_seen + out.forward_examples,
                "backward_examples": self.examples_seen + out.backward_examples,
                "selection_forward_examples": out.forward_examples,
                "selection_backward_examples": out.backward_examples,
                "examples_seen": self.examples_seen, "steps": self.step}

    @property
    def extra(self) -> dict:
        """The method's own numbers (metrics.json's `sampler` block)."""
        return dict(self.sampler.outputs().extra)
