"""The set-up every training-like job shares, in one order: proxy runs and training runs alike.

Seeding happens in exactly one place, so a proxy run and a `full` run with the same seed start
from the same weights and draw the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import TrainSettings
from ..data import load_prepared
from ..data.tensors import TensorData
from ..jobspec import JobSpec
from ..math_mode import refuse_cpu_compile
from ..models import build_model
from ..ops import Ops, Speed
from ..tracking import open_tracker
from .checkpoint import Checkpoint, fingerprint
from .device import make_generators, resolve_device, set_up_compute
from .timers import PhaseTimers


@dataclass
class RunParts:
    settings: TrainSettings
    device: torch.device
    data: TensorData
    model: torch.nn.Module
    order_generator: torch.Generator  # batch order (CPU)
    augment_generator: torch.Generator  # augmentation (on the data's device)
    timers: PhaseTimers


def set_up_run(job: JobSpec, ops: Ops, *, data_dir, seed: int,
               threads: int | None) -> RunParts:
    """Device, threads, data in memory, seeded model and generators, fresh timers, for a job
    that trains (a TrainSpec or ProxySpec: its `training` settings)."""
    settings = job.training
    device = resolve_device(ops.device)
    set_up_compute(device, threads)
    data = TensorData.from_prepared(load_prepared(data_dir), device)
    torch.manual_seed(seed)
    model = build_model(settings.model, data.input_shape, data.num_classes,
                        meta=data.meta).to(device)
    apply_speed(model, data, device, ops.speed)
    order_gen, augment_gen = make_generators(seed, device)
    return RunParts(settings, device, data, model, order_gen, augment_gen, PhaseTimers(device))


def apply_speed(model: torch.nn.Module, data: TensorData, device: torch.device,
                speed: Speed) -> None:
    """The config's `speed` options, in place: channels_last for image models on a GPU (model
    and every batch), and nn.Module.compile, which keeps parameter names (checkpoints, hooks)."""
    if speed.channels_last and device.type == "cuda" and data.kind == "image" \
            and len(data.input_shape) == 3:
        model.to(memory_format=torch.channels_last)
        data.memory_format = torch.channels_last
    mode = speed.compile
    refuse_cpu_compile(mode, device.type)
    if mode:
        import torch._inductor.config as inductor_config

        inductor_config.deterministic = torch.are_deterministic_algorithms_enabled()
        model.compile(**({"mode": mode} if isinstance(mode, str) else {}))


def open_run_tracker(job: JobSpec, ops: Ops, out_dir, *, group_parts: list[str], seed: int,
                     job_type: str, extra: dict):
    """One W&B run per job, grouped experiment/dataset/<group_parts>; its config is the job's
    science and operations together."""
    group = "/".join([ops.experiment or "prunebench", job.dataset, *group_parts])
    return open_tracker(ops.wandb, out_dir, name=f"{group}/seed{seed}", group=group,
                        job_type=job_type,
                        config={**job.as_dict(), **ops.as_dict(), **extra, "seed": seed})


def run_checkpoint(out_dir, job: JobSpec, ops: Ops, run: RunParts, *identity) -> Checkpoint:
    """The job's checkpoint file (out_dir/checkpoint.pt), every `ops.checkpoint_every` epochs
    (0: never), keyed by the job's science (its JobSpec, never its Ops) and `identity`, so a
    stale one from other settings is never resumed."""
    return Checkpoint(Path(out_dir) / "checkpoint.pt", ops.checkpoint_every,
                      [run.order_generator, run.augment_generator],
                      key=fingerprint(job.as_dict(), *identity))
