"""What several benchmark scripts share (they run as `python benchmarks/<name>.py`, so this
folder is on sys.path)."""

from __future__ import annotations

import torch

# CIFAR-10's per-channel training-set mean and std, for normalising CIFAR-shaped test data
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock reading covers it; nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize()
