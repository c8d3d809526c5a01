"""Moderate coreset (Xia et al., ICLR 2023; tmllab/Moderate-DS `selection.py`).

Score: the Euclidean distance of each embedding to its class centre, the coordinate-wise
median of the class's embeddings (as Moderate-DS's code computes it; `center: mean` for the
paper's wording). Selection: the examples whose distance is closest to the median distance,
a band around the median, per class with class-balanced quotas (one band over all examples
when class_balanced is false; each distance is still to the example's own class centre).

`band: distance` (default, docs/methods.md) keeps the q smallest |d - median(d)|; `band: rank`
keeps q consecutive examples in distance order, centred on the median rank, which is what
Moderate-DS's `get_prune_idx` keeps (it saves the complement as the ids to drop). The two
differ when the distances are skewed about their median. Ties go to the lower index; the rng
is unused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prunebench.errors import UserError

from ...options import option
from .common import check_fraction, select_by_group
from .embedding_pool import check_embeddings

CENTERS = ("median", "mean")
BANDS = ("distance", "rank")


@dataclass(frozen=True)
class ModerateOptions:
    class_balanced: bool = option(True, "give every class a quota proportional to its size")
    center: str = option("median", "class centre: coordinate-wise median (Moderate-DS's code) "
                         "or mean", choices=CENTERS)
    band: str = option("distance", "keep the smallest |distance - median distance| or the "
                       "median-centred rank window (Moderate-DS's code)", choices=BANDS)


def class_center_distances(values, labels: np.ndarray, center: str = "median") -> np.ndarray:
    """float64 distance of each row of `values` (N x d) to its class's centre."""
    if center not in CENTERS:
        raise UserError(f"moderate center {center!r}; choose one of: {', '.join(CENTERS)}")
    values = values.cpu().numpy() if hasattr(values, "cpu") else np.asarray(values)
    distances = np.empty(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rows = values[idx].astype(np.float64)  # one class at a time keeps the copy small
        centre = np.median(rows, axis=0) if center == "median" else rows.mean(axis=0)
        distances[idx] = np.linalg.norm(rows - centre, axis=1)
    return distances


def select_moderate(
    values,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: ModerateOptions = ModerateOptions(),
) -> np.ndarray:
    """The band of examples around the median distance to the class centre: sorted int64."""
    check_fraction(fraction)
    band = options.band
    values, labels = check_embeddings(values, labels)
    distances = class_center_distances(values, labels, options.center)

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        d = distances[idx]
        if band == "distance":
            return idx[np.argsort(np.abs(d - np.median(d)), kind="stable")[:q]]
        start = (len(idx) - q) // 2  # an odd leftover falls on the far side of the median
        return idx[np.argsort(d, kind="stable")[start:start + q]]

    return select_by_group(labels, fraction, options.class_balanced, rule)
