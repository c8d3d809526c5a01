"""Data Diet's range selection: skip the very hardest examples, keep the next ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prunebench.errors import UserError

from ...options import option
from .common import (
    SUM_TOLERANCE,
    check_fraction,
    check_inputs,
    rank_descending,
    select_by_group,
)


@dataclass(frozen=True)
class OffsetOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")
    offset: float = option(0.1, "fraction of the hardest examples skipped before keeping (Data "
                           "Diet's range selection)", minimum=0, exclusiveMaximum=1)


def select_offset(
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: OffsetOptions = OffsetOptions(),
) -> np.ndarray:
    """Skip the top round(offset * n) scores, keep the next k; rng is unused."""
    check_fraction(fraction)
    offset = options.offset
    if offset + fraction > 1 + SUM_TOLERANCE:
        raise UserError(
            f"offset + fraction must be <= 1 (offset={offset}, fraction={fraction}): "
            "not enough examples remain after the skip; lower one of them"
        )
    scores, labels = check_inputs(scores, labels)

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        # Rounding skip and quota separately can overshoot by one even when
        # offset + fraction <= 1; then shift the window so it ends at the easiest example.
        skip = min(round(offset * len(idx)), len(idx) - q)
        return rank_descending(scores, idx)[skip : skip + q]

    return select_by_group(labels, fraction, options.class_balanced, rule)
