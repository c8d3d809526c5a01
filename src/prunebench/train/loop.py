"""The one training loop. Every method trains through it; a sampler decides each batch.

SGD with momentum and weight decay, a warm-up + schedule stretched over `schedule_steps`,
batched augmentation, evaluation after every epoch, phase timers, and callbacks that let
proxy runs record scores without the loop knowing about them. A batch may scale its step's lr
(`Batch.lr_scale`); at an lr of 0 the forward and backward run but the optimizer step is skipped.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import TrainSettings
from ..data.tensors import TensorData
from ..errors import UserError
from ..models.base import eval_mode, uncompiled
from .budget import StepPlan
from .checkpoint import Checkpoint
from .samplers import Sampler, StepContext
from .schedule import lr_factor
from .timers import PhaseTimers


class LoopCallback(Protocol):
    def on_batch(self, indices: Tensor, logits: Tensor, targets: Tensor) -> None: ...

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class LoopResult:
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    examples_seen: int = 0


def autocast(device: torch.device):
    """bf16 autocast on GPUs; a no-op context on the CPU (bit-identical runs there)."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (x, y) batches, in eval mode (each module's own
    mode restored after)."""
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    with eval_mode(model):
        for x, y in batches:
            with autocast(device):
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
            count += len(y)
    return loss_sum.item() / count, correct.item() / count


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           nesterov=settings.nesterov and settings.momentum > 0,
                           weight_decay=settings.weight_decay)


class LearningRate:
    """Peak lr x the schedule's factor at a point of the run, measured in planned steps.

    The point is `epoch - 1 + i / n` epochs (step i of an epoch of n steps), so a sampler that
    trains fewer steps in some epochs (InfoBatch) still follows the whole schedule; with the
    planned n it is exactly the global step.
    """

    def __init__(self, settings: TrainSettings, schedule_steps: int, steps_per_epoch: int):
        self.settings = settings
        self.schedule_steps = schedule_steps
        self.steps_per_epoch = steps_per_epoch
        self.warmup = round(settings.warmup_epochs * schedule_steps / max(settings.epochs, 1))

    def at(self, epoch: int, step_in_epoch: int, steps_in_epoch: int) -> float:
        point = (epoch - 1) * self.steps_per_epoch
        if steps_in_epoch == self.steps_per_epoch:
            point += step_in_epoch
        else:
            point += step_in_epoch * self.steps_per_epoch / steps_in_epoch
        s = self.settings
        return s.lr * lr_factor(point, total_steps=self.schedule_steps, warmup_steps=self.warmup,
                                schedule=s.schedule, milestones=s.milestones, gamma=s.gamma)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", leave=False, dynamic_ncols=True)


@contextmanager
def _pass_phase(timers: PhaseTimers, name: str, model: torch.nn.Module) -> Iterator[None]:
    """A phase other than training (selection, scoring, evaluation), timed; a compiled model
    runs eager in it (`models.base.uncompiled`), so its phase is charged no compile."""
    with timers.phase(name), uncompiled(model):
        yield


@dataclass
class _Loop:
    """What every epoch of one `train_loop` call works with; fixed for the call."""

    model: torch.nn.Module
    data: TensorData
    sampler: Sampler
    plan: StepPlan
    settings: TrainSettings
    device: torch.device
    timers: PhaseTimers
    generator: torch.Generator  # the augmentation's
    optimizer: torch.optim.SGD
    learning_rate: LearningRate
    callbacks: Sequence[LoopCallback]
    on_epoch: Callable[[dict], None] | None
    log: Callable[[str], None]
    checkpoint: Checkpoint | None
    bar: object | None = None  # the tqdm progress bar, when there is one


def train_loop(model: torch.nn.Module, data: TensorData, sampler: Sampler, plan: StepPlan,
               settings: TrainSettings, *, device: torch.device, timers: PhaseTimers,
               generator: torch.Generator, schedule_steps: int | None = None,
               callbacks: Sequence[LoopCallback] = (),
               on_epoch: Callable[[dict], None] | None = None,
               log: Callable[[str], None] = print, progress: bool | None = None,
               checkpoint: Checkpoint | None = None) -> LoopResult:
    """Train `plan.epochs` epochs of `plan.steps_per_epoch` steps (or as many as the sampler's
    `epoch_steps` says); evaluate after each epoch.

    `schedule_steps` (default: the plan's own steps) is the length the lr schedule is stretched
    over: a proxy run follows the full run's schedule but stops early. With a `checkpoint`, a
    saved state is resumed from and a new one saved every `checkpoint.every` epochs.
    """
    optimizer = make_optimizer(model, settings)
    learning_rate = LearningRate(settings, schedule_steps or plan.total_steps, plan.steps_per_epoch)
    loop = _Loop(model=model, data=data, sampler=sampler, plan=plan, settings=settings,
                 device=device, timers=timers, generator=generator, optimizer=optimizer,
                 learning_rate=learning_rate, callbacks=callbacks, on_epoch=on_epoch, log=log,
                 checkpoint=checkpoint)
    result = LoopResult()
    first_epoch = _resume_or_start(loop, result)
    loop.bar = _progress(plan.total_steps, sys.stderr.isatty() if progress is None else progress)
    if loop.bar is not None:
        loop.bar.update(result.steps)
    for epoch in range(first_epoch, plan.epochs + 1):
        # the lr of the epoch's first step: at step 0 it does not depend on the epoch's length
        # (LearningRate.at), so the sampler may set that length in start_epoch
        lr = learning_rate.at(epoch, 0, plan.steps_per_epoch)
        train_loss = _train_epoch(loop, epoch, lr, result)
        _end_epoch(loop, epoch, lr, train_loss, result)
    if loop.bar is not None:
        loop.bar.close()
    return result


def _resume_or_start(loop: _Loop, result: LoopResult) -> int:
    """The first epoch to train: after the checkpoint's, restored into `loop` and `result`,
    when there is one; else 1, once the callbacks have scored the untrained model (epoch 0)."""
    saved = loop.checkpoint.load() if loop.checkpoint is not None else None
    if saved is not None:
        _restore(saved, loop, result)
        return saved["epoch"] + 1
    for callback in loop.callbacks:
        with _pass_phase(loop.timers, "scoring", loop.model):
            callback.on_epoch_end(0, loop.model)
    return 1


def _train_epoch(loop: _Loop, epoch: int, lr: float, result: LoopResult) -> float:
    """The sampler's start of `epoch` (at the lr of its first step), then the epoch's steps;
    the epoch's mean training loss."""
    loop.model.train()
    ctx = StepContext(model=loop.model, data=loop.data, timers=loop.timers, epoch=epoch,
                      step=result.steps, lr=lr, augment=loop.settings.augment,
                      augment_generator=loop.generator)
    with _pass_phase(loop.timers, "selection", loop.model):
        loop.sampler.start_epoch(ctx)
    loss_sum = torch.zeros((), device=loop.device)
    seen = 0
    steps_in_epoch = loop.sampler.epoch_steps(epoch, loop.plan.steps_per_epoch)
    for i in range(steps_in_epoch):
        ctx.step = result.steps
        ctx.lr = loop.learning_rate.at(epoch, i, steps_in_epoch)
        losses = _train_step(loop, ctx)
        loss_sum += losses.sum()
        seen += len(losses)
        result.steps += 1
        if loop.bar is not None:
            loop.bar.update(1)
    result.examples_seen += seen
    return loss_sum.item() / max(seen, 1)


def _train_step(loop: _Loop, ctx: StepContext) -> Tensor:
    """One optimizer step at `ctx.lr` (times the batch's lr_scale) on the sampler's next batch;
    the batch's per-example training losses, detached."""
    with _pass_phase(loop.timers, "selection", loop.model):
        batch = loop.sampler.next_batch(ctx)
    step_lr = ctx.lr * batch.lr_scale
    for group in loop.optimizer.param_groups:
        group["lr"] = step_lr
    with loop.timers.phase("training"):
        x, y = loop.data.train_batch(batch.indices, loop.settings.augment, loop.generator)
        with autocast(loop.device):
            logits = loop.model(x)
        losses = F.cross_entropy(logits.float(), y, reduction="none")
        weighted = losses if batch.weights is None else losses * batch.weights
        loss = weighted.mean()
        loop.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if step_lr > 0:  # at lr 0 neither weight decay nor momentum may move anything
            loop.optimizer.step()
    loop.sampler.observe(batch.indices, losses.detach())
    for callback in loop.callbacks:
        callback.on_batch(batch.indices, logits.detach(), y)
    return losses.detach()


def _end_epoch(loop: _Loop, epoch: int, lr: float, train_loss: float,
               result: LoopResult) -> None:
    """After an epoch's steps: refuse a diverged loss, evaluate, let the callbacks score, record
    the epoch's row (history, `on_epoch`, the log or the bar) and save a checkpoint when due."""
    if not math.isfinite(train_loss):
        raise UserError(f"training diverged: the loss became {train_loss} in epoch {epoch} "
                        f"at learning rate {lr:.4g}; lower 'lr' (or add warm-up) in the config")
    with _pass_phase(loop.timers, "evaluation", loop.model):
        test_loss, test_acc = evaluate(
            loop.model, loop.data.eval_batches("test", loop.settings.eval_batch_size), loop.device)
    for callback in loop.callbacks:
        with _pass_phase(loop.timers, "scoring", loop.model):
            callback.on_epoch_end(epoch, loop.model)
    row = {"epoch": epoch, "step": result.steps, "lr": lr, "train_loss": train_loss,
           "test_loss": test_loss, "test_acc": test_acc, "examples_seen": result.examples_seen,
           **{f"time_{k}": v for k, v in loop.timers.snapshot().items()}}
    result.history.append(row)
    if loop.on_epoch is not None:
        loop.on_epoch(row)
    if loop.bar is not None:
        loop.bar.set_postfix(epoch=epoch, test_acc=f"{test_acc:.3f}")
    else:
        loop.log(f"epoch {epoch}/{loop.plan.epochs} step {result.steps} lr {lr:.4g} "
                 f"train_loss {train_loss:.4f} test_loss {test_loss:.4f} test_acc {test_acc:.4f}")
    if loop.checkpoint is not None and loop.checkpoint.due(epoch, loop.plan.epochs):
        loop.checkpoint.save(epoch, _capture(loop, result))


def _capture(loop: _Loop, result: LoopResult) -> dict:
    return {"model": loop.model.state_dict(), "optimizer": loop.optimizer.state_dict(),
            "sampler": loop.sampler.state_dict(),
            "callbacks": [c.state_dict() for c in loop.callbacks],
            "timers": loop.timers.state_dict(), "history": result.history, "steps": result.steps,
            "examples_seen": result.examples_seen}


def _restore(state: dict, loop: _Loop, result: LoopResult) -> None:
    loop.model.load_state_dict(state["model"])
    loop.optimizer.load_state_dict(state["optimizer"])
    loop.sampler.load_state_dict(state["sampler"])
    for callback, saved in zip(loop.callbacks, state["callbacks"], strict=True):
        callback.load_state_dict(saved)
    loop.timers.load_state_dict(state["timers"])
    result.history = list(state["history"])
    result.steps, result.examples_seen = state["steps"], state["examples_seen"]
