"""Keep the highest-scoring examples (Data Diet's default rule)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...options import option
from .common import check_inputs, rank_descending, select_by_group


@dataclass(frozen=True)
class TopOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def select_top(
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: TopOptions = TopOptions(),
) -> np.ndarray:
    """The k highest scores (+inf first, ties to the lower index); rng is unused."""
    scores, labels = check_inputs(scores, labels)
    return select_by_group(
        labels, fraction, options.class_balanced, lambda idx, q: rank_descending(scores, idx)[:q]
    )
