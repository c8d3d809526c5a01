"""Learning-rate schedules stretched over a run's own number of optimizer steps."""

from __future__ import annotations

import math

from ..errors import UserError

SCHEDULES = ("cosine", "step", "constant")


def lr_factor(step: int, *, total_steps: int, warmup_steps: int, schedule: str,
              milestones: tuple[float, ...] = (0.5, 0.75), gamma: float = 0.1) -> float:
    """Multiplier of the peak lr before optimizer step `step` (0-based).

    Linear warm-up over `warmup_steps`, then cosine to 0, steps of `gamma` at fractions
    `milestones` of the run, or constant. A run with fewer steps gets the same shape, compressed.
    """
    if schedule not in SCHEDULES:
        raise UserError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        progress = step / max(total_steps, 1)
        return gamma ** sum(progress >= m for m in milestones)
    span = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / span, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
