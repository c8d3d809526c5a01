"""Choosing the device and making CPU runs reproducible."""

from __future__ import annotations

import os

import torch

from ..errors import UserError
from ..hardware import cpu_model
from ..math_mode import configure_torch


def resolve_device(requested: str) -> torch.device:
    """`auto` takes a visible GPU if any; `cuda` without one is a clear error, not a crash."""
    if requested == "cpu":
        return torch.device("cpu")
    if requested in ("auto", "cuda"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if requested == "cuda":
            raise UserError(f"config key 'device' is 'cuda' but no GPU is visible to this job"
                            f"{_why_no_gpu()}; set device: auto (or cpu), or run where a GPU is "
                            "allocated (the Slurm profile asks for gpu: 1)")
        return torch.device("cpu")
    raise UserError(f"config key 'device': {requested!r}; choose one of: auto, cpu, cuda")


def _why_no_gpu() -> str:
    """The likely reason, when there is one to name."""
    if not torch.backends.cuda.is_built():
        return " (this torch build has no CUDA support; install a CUDA build of torch)"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f" (CUDA_VISIBLE_DEVICES={visible!r} hides every GPU)"
    return ""


def set_up_compute(device: torch.device, threads: int | None) -> None:
    """Threads as the scheduler granted; deterministic kernels on the CPU."""
    if threads:
        torch.set_num_threads(threads)
    configure_torch(torch)
    if device.type == "cpu":
        # the same switch as torch.use_deterministic_algorithms(True), which would also import
        # torch._inductor (1.4 s per job here) only to flag a compiler no CPU run uses
        # unless speed.compile is on (train.setup.apply_speed flags it then)
        torch.set_deterministic_debug_mode("error")
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def hardware_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name: what a reader needs to compare timings."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def peak_gpu_memory_mb(device: torch.device) -> float | None:
    """The most GPU memory the job's tensors held at once (MiB), or None on a CPU."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def make_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """Separate streams for batch order (CPU) and augmentation (on the data's device)."""
    order = torch.Generator().manual_seed(seed)
    augment = torch.Generator(device=device).manual_seed(seed + 1_000_003)
    return order, augment
