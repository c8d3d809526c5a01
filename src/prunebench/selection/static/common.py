"""Subset sizes and the shared plumbing every static selector uses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...errors import UserError
from ...train.budget import budget_size
from ..quotas import class_quotas

# Fractions like 0.7 + 0.3 do not always sum to exactly 1.0 in floating point.
SUM_TOLERANCE = 1e-9


def check_fraction(fraction: float) -> None:
    """Raise UserError unless 0 < fraction <= 1."""
    if not 0 < fraction <= 1:  # also rejects NaN
        raise UserError(f"fraction must be in (0, 1], got {fraction!r}; set it to e.g. 0.3")


def subset_size(n: int, fraction: float) -> int:
    """Number of examples to keep: the budget rule (`train.budget.budget_size`), checked."""
    check_fraction(fraction)
    if n < 1:
        raise UserError("cannot select a subset of an empty training set; check the data split")
    return budget_size(n, fraction)


def check_inputs(
    scores: np.ndarray | None, labels: np.ndarray, *, need_scores: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """Validate and convert scores (to float64) and labels (1-D integers)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(
            f"labels must be a 1-D integer array, got shape {labels.shape} dtype {labels.dtype}"
        )
    if scores is None:
        if need_scores:
            raise UserError("this selector needs per-example scores; compute scores first "
                            "or use the 'random' selector")
        return None, labels
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise UserError(
            f"scores have {scores.size} entries but labels have {labels.size}; "
            "scores must come from the same training set as the labels"
        )
    if np.isnan(scores).any():
        raise UserError("scores contain NaN; recompute the scores (NaN cannot be ranked)")
    return scores, labels


def rank_descending(scores: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """idx (ascending) ordered by descending score; stable sort so ties keep the lower index."""
    return idx[np.argsort(-scores[idx], kind="stable")]


def select_by_group(
    labels: np.ndarray,
    fraction: float,
    class_balanced: bool,
    rule: Callable[[np.ndarray, int], np.ndarray],
) -> np.ndarray:
    """Apply rule(indices, count) per class (with quotas) or once over all; sorted int64."""
    k = subset_size(len(labels), fraction)
    if class_balanced:
        groups = [(np.flatnonzero(labels == c), q) for c, q in class_quotas(labels, k).items()]
    else:
        groups = [(np.arange(len(labels)), k)]
    parts = [np.asarray(rule(idx, q), dtype=np.int64) for idx, q in groups if q > 0]
    return np.sort(np.concatenate(parts))
