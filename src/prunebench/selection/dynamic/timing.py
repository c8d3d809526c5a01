"""The wall-clock seconds of one selection, as selections.csv reports them."""

from __future__ import annotations

import time

import torch


class Stopwatch:
    """Seconds of one selection, with the device synchronised at both ends."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self) -> Stopwatch:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds = time.perf_counter() - self._start
