"""Keep the highest-scoring examples (Data Diet's default rule)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...options import option
from .quotas import check_inputs, rank_descending, reject_options, select_by_group


@dataclass(frozen=True)
class TopOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def select_top(
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    *,
    class_balanced: bool = True,
    **options,
) -> np.ndarray:
    """The k highest scores (+inf first, ties to the lower index); rng is unused."""
    reject_options("top", options)
    scores, labels = check_inputs(scores, labels)
    return select_by_group(
        labels, fraction, class_balanced, lambda idx, q: rank_descending(scores, idx)[:q]
    )
