"""Per-class quotas of a budget (largest remainder), used by static and dynamic selection."""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def class_quotas(labels: np.ndarray, k: int) -> dict[int, int]:
    """Per-class counts proportional to class sizes, summing to k (largest remainder)."""
    classes, sizes = np.unique(np.asarray(labels), return_counts=True)
    n = int(sizes.sum())
    if not 0 <= k <= n:
        raise UserError(f"cannot pick {k} examples out of {n}; k must be between 0 and {n}")
    # Integer arithmetic keeps the remainders exact, so tie-breaking is reproducible.
    exact = k * sizes.astype(np.int64)
    floors, remainders = exact // n, exact % n
    extra = k - int(floors.sum())
    # Largest remainder first, ties to the lower class id (lexsort: last key is primary).
    order = np.lexsort((classes, -remainders))
    floors[order[:extra]] += 1
    # A class only gets an extra when its remainder is > 0, so floor + 1 <= its size.
    return {int(c): int(q) for c, q in zip(classes, floors, strict=True)}
