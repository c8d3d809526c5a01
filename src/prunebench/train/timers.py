"""Phase timers: wall time per phase, with the device synchronised before every reading."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import torch

from ..phases import PHASES


class PhaseTimers:
    """Accumulates seconds per named phase; nested phases are allowed and counted separately."""

    def __init__(self, device: torch.device | None = None):
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)

    def _sync(self) -> None:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def phase(self, name: str):
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[name] += time.perf_counter() - start

    def snapshot(self) -> dict[str, float]:
        """Every standard phase (0.0 when unused) plus any extra sub-phases."""
        out = {name: 0.0 for name in PHASES}
        out.update(self.seconds)
        return {k: round(v, 6) for k, v in out.items()}

    def state_dict(self) -> dict[str, float]:
        return dict(self.seconds)

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.seconds = defaultdict(float, state)
