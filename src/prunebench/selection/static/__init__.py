"""Static selectors: choose a fixed subset once, before training, from per-example scores."""

from __future__ import annotations

import numpy as np

from prunebench.errors import UserError

from .ccs import select_ccs
from .offset import select_offset
from .quotas import check_fraction, check_inputs
from .random_subset import select_random
from .top import select_top

SELECTORS = {
    "top": select_top,
    "offset": select_offset,
    "ccs": select_ccs,
    "random": select_random,
}

# Selectors that ignore scores; all others need them.
SCORE_FREE = {"random"}


def select_subset(
    name: str,
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    *,
    class_balanced: bool = True,
    **options,
) -> np.ndarray:
    """Validate inputs, run selector `name`, and return sorted int64 indices."""
    if name not in SELECTORS:
        raise UserError(
            f"unknown static selector {name!r}; choose one of {', '.join(sorted(SELECTORS))}"
        )
    check_fraction(fraction)
    check_inputs(scores, labels, need_scores=name not in SCORE_FREE)
    return SELECTORS[name](scores, labels, fraction, rng, class_balanced=class_balanced, **options)


__all__ = ["SELECTORS", "select_subset"]
