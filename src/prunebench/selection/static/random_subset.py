"""Uniform random subset: the baseline every score-based selector must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...options import option
from .common import check_inputs, select_by_group


@dataclass(frozen=True)
class RandomOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def select_random(
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: RandomOptions = RandomOptions(),
) -> np.ndarray:
    """k examples uniformly without replacement; scores are ignored (may be None)."""
    # Still check scores when given: a length mismatch means the inputs are mixed up.
    _, labels = check_inputs(scores, labels, need_scores=False)
    return select_by_group(labels, fraction, options.class_balanced,
                           lambda idx, q: rng.choice(idx, size=q, replace=False))
