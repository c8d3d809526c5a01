"""Budget protocols: how many optimizer steps a run gets (docs/methods.md, "Budget").

- full: E epochs over all N examples, full_steps = E * ceil(N / B).
- budget: a run at fraction f trains E epochs of ceil(f*N / B) steps (~ f * full_steps).
- equal_steps: a static subset trains full_steps steps (more passes over fewer examples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PROTOCOLS = ("budget", "equal_steps")


@dataclass(frozen=True)
class StepPlan:
    epochs: int
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


def budget_size(n: int, fraction: float) -> int:
    """The examples a run at `fraction` of `n` may use (a static subset's size, a dynamic
    method's examples per epoch): round(fraction * n), at least 1 and at most n."""
    return min(n, max(1, round(fraction * n)))


def full_steps(n_train: int, batch_size: int, epochs: int) -> int:
    return epochs * math.ceil(n_train / batch_size)


def plan_steps(*, protocol: str, kind: str, n_train: int, n_used: int, batch_size: int,
               epochs: int) -> StepPlan:
    """Step plan of one run. `n_used` is the subset size (static) or f*N (dynamic)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    if kind == "reference":
        return StepPlan(epochs, math.ceil(n_train / batch_size))
    if kind == "static" and protocol == "equal_steps":
        # an "epoch" stays one full-data epoch's worth of steps, so history rows line up with full
        return StepPlan(epochs, math.ceil(n_train / batch_size))
    return StepPlan(epochs, math.ceil(n_used / batch_size))
