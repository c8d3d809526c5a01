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


def train_loop(model: torch.nn.Module, data, sampler: Sampler, plan: StepPlan,
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
    result = LoopResult()
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        _restore(saved, model, optimizer, sampler, callbacks, timers, result)
    else:
        for callback in callbacks:
            with _pass_phase(timers, "scoring", model):
                callback.on_epoch_end(0, model)
    first_epoch = 1 if saved is None else saved["epoch"] + 1
    bar = _progress(plan.total_steps, sys.stderr.isatty() if progress is None else progress)
    if bar is not None:
        bar.update(result.steps)
    for epoch in range(first_epoch, plan.epochs + 1):
        model.train()
        # the lr of the epoch's first step (at step 0 it does not depend on the epoch's length)
        ctx = StepContext(model=model, data=data, timers=timers, epoch=epoch, step=result.steps,
                          lr=learning_rate.at(epoch, 0, plan.steps_per_epoch),
                          augment=settings.augment, augment_generator=generator)
        with _pass_phase(timers, "selection", model):
            sampler.start_epoch(ctx)
        loss_sum = torch.zeros((), device=device)
        seen_this_epoch = 0
        steps_in_epoch = sampler.epoch_steps(epoch, plan.steps_per_epoch)
        lr = learning_rate.at(epoch, 0, steps_in_epoch)
        for i in range(steps_in_epoch):
            ctx.step = result.steps
            ctx.lr = learning_rate.at(epoch, i, steps_in_epoch)
            with _pass_phase(timers, "selection", model):
                batch = sampler.next_batch(ctx)
            step_lr = ctx.lr * batch.lr_scale
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            with timers.phase("training"):
                x, y = data.train_batch(batch.indices, settings.augment, generator)
                with autocast(device):
                    logits = model(x)
                losses = F.cross_entropy(logits.float(), y, reduction="none")
                weighted = losses if batch.weights is None else losses * batch.weights
                loss = weighted.mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if step_lr > 0:  # at lr 0 neither weight decay nor momentum may move anything
                    optimizer.step()
            sampler.observe(batch.indices, losses.detach())
            for callback in callbacks:
                callback.on_batch(batch.indices, logits.detach(), y)
            loss_sum += losses.detach().sum()
            seen_this_epoch += len(y)
            result.steps += 1
            if bar is not None:
                bar.update(1)
        result.examples_seen += seen_this_epoch
        train_loss = loss_sum.item() / max(seen_this_epoch, 1)
        if not math.isfinite(train_loss):
            raise UserError(f"training diverged: the loss became {train_loss} in epoch {epoch} "
                            f"at learning rate {lr:.4g}; lower 'lr' (or add warm-up) in the config")
        with _pass_phase(timers, "evaluation", model):
            test_loss, test_acc = evaluate(
                model, data.eval_batches("test", settings.eval_batch_size), device)
        for callback in callbacks:
            with _pass_phase(timers, "scoring", model):
                callback.on_epoch_end(epoch, model)
        row = {"epoch": epoch, "step": result.steps, "lr": lr, "train_loss": train_loss,
               "test_loss": test_loss, "test_acc": test_acc, "examples_seen": result.examples_seen,
               **{f"time_{k}": v for k, v in timers.snapshot().items()}}
        result.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if bar is not None:
            bar.set_postfix(epoch=epoch, test_acc=f"{test_acc:.3f}")
        else:
            log(f"epoch {epoch}/{plan.epochs} step {result.steps} lr {lr:.4g} "
                f"train_loss {train_loss:.4f} test_loss {test_loss:.4f} test_acc {test_acc:.4f}")
        if checkpoint is not None and checkpoint.due(epoch, plan.epochs):
            checkpoint.save(epoch, _capture(model, optimizer, sampler, callbacks, timers, result))
    if bar is not None:
        bar.close()
    return result


def _capture(model, optimizer, sampler, callbacks, timers, result: LoopResult) -> dict:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "sampler": sampler.state_dict(), "callbacks": [c.state_dict() for c in callbacks],
            "timers": timers.state_dict(), "history": result.history, "steps": result.steps,
            "examples_seen": result.examples_seen}


def _restore(state: dict, model, optimizer, sampler, callbacks, timers, result) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    sampler.load_state_dict(state["sampler"])
    for callback, saved in zip(callbacks, state["callbacks"], strict=True):
        callback.load_state_dict(saved)
    timers.load_state_dict(state["timers"])
    result.history = list(state["history"])
    result.steps, result.examples_seen = state["steps"], state["examples_seen"]
