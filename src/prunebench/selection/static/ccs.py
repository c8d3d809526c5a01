"""Coverage-centric selection (CCS, Zheng et al., ICLR 2023), Algorithm 1."""

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


def assign_strata(values: np.ndarray, strata: int) -> np.ndarray:
    """Equal-width bin id in [0, strata) over [min, max] of the finite values; +inf -> last."""
    bins = np.full(values.shape, strata - 1, dtype=np.int64)
    finite = np.isfinite(values)
    if finite.any():
        lo, hi = values[finite].min(), values[finite].max()
        width = (hi - lo) / strata
        if width > 0:
            # The maximum lands exactly on the upper edge; clip it into the last bin.
            raw = np.floor((values[finite] - lo) / width).astype(np.int64)
            bins[finite] = np.clip(raw, 0, strata - 1)
        else:
            bins[finite] = 0
    bins[np.isneginf(values)] = 0
    return bins


def allocate(sizes: dict[int, int], budget: int) -> dict[int, int]:
    """Smallest stratum first gets min(size, budget // strata_left); leftovers roll on."""
    counts = {}
    # Stable sort: equal sizes are served in stratum order, which keeps runs reproducible.
    order = sorted(sizes, key=lambda s: sizes[s])
    for i, s in enumerate(order):
        take = min(sizes[s], budget // (len(order) - i))
        counts[s] = take
        budget -= take
    return counts


@dataclass(frozen=True)
class CcsOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")
    beta: float = option(0.1, "fraction of the hardest examples dropped before stratified "
                         "sampling", minimum=0, exclusiveMaximum=1)
    strata: int = option(50, "number of equal-width score strata", minimum=1)
    score: str = option("el2n", "the proxy score the strata are built on (one of proxy.scores)")


def select_ccs(
    scores: np.ndarray | None,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: CcsOptions = CcsOptions(),
) -> np.ndarray:
    """Drop the hardest beta, then sample evenly across score strata (smallest first).
    `options.score` names the score file the workflow reads into `scores`; it is not read here."""
    check_fraction(fraction)
    beta, strata = options.beta, options.strata
    if beta + fraction > 1 + SUM_TOLERANCE:
        raise UserError(
            f"beta + fraction must be <= 1 (beta={beta}, fraction={fraction}): too few "
            "examples remain after dropping the hardest; lower one of them"
        )
    scores, labels = check_inputs(scores, labels)

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        # Rounding drop and quota separately can leave one too few; then drop one fewer.
        drop = min(round(beta * len(idx)), len(idx) - q)
        kept = np.sort(rank_descending(scores, idx)[drop:])
        bins = assign_strata(scores[kept], int(strata))
        ids, sizes = np.unique(bins, return_counts=True)
        counts = allocate(dict(zip(ids.tolist(), sizes.tolist(), strict=True)), q)
        # Sample strata in id order so the rng stream does not depend on dict ordering.
        parts = [rng.choice(kept[bins == s], size=counts[s], replace=False) for s in sorted(counts)]
        return np.concatenate(parts)

    return select_by_group(labels, fraction, options.class_balanced, rule)
