"""Static selection: the select job's own function (`selection.static.run.select_subset`) with
the arguments named, checked first so a mistake is one error naming the argument."""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..selection.static.common import check_fraction
from ..selection.static.run import select_subset
from .registry import checked_options, method_entry, static_score_name


def _array(value, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _check_labels(labels) -> np.ndarray:
    labels = _array(labels, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or len(labels) == 0:
        raise UserError(f"labels must be a non-empty 1-D integer array, got shape "
                        f"{labels.shape} dtype {labels.dtype}")
    return labels


def _values(method: str, entry, options: dict, n: int, scores, embeddings):
    """The array the selector reads: the scores, the embeddings, or None (random)."""
    if entry.embeddings:
        if scores is not None:
            raise UserError(f"method {method!r} selects on embeddings=, not scores=")
        if embeddings is None:
            raise UserError(f"method {method!r} needs embeddings=: the (N, d) penultimate "
                            "features, e.g. pb.score('embeddings', model, x, y)")
        values = _array(embeddings, "embeddings")
        if values.ndim != 2 or len(values) != n:
            raise UserError(f"embeddings must be (N, d) with N = {n} labels, got shape "
                            f"{values.shape}")
        return values
    if embeddings is not None:
        raise UserError(f"method {method!r} takes no embeddings=")
    score_name = static_score_name(entry, options)
    if score_name is None:
        if scores is not None:
            raise UserError(f"method {method!r} ranks by no score; leave scores= out")
        return None
    if scores is None:
        raise UserError(f"method {method!r} needs scores=: the {n} per-example {score_name} "
                        f"scores, e.g. pb.score({score_name!r}, model, x, y)")
    values = _array(scores, "scores")
    if values.shape != (n,):
        raise UserError(f"scores must be 1-D with one value per label ({n}), got shape "
                        f"{values.shape}")
    return values


def select(method: str, fraction: float, labels, *, scores=None, embeddings=None, seed: int = 0,
           **options) -> np.ndarray:
    """The subset static `method` keeps at `fraction` of the N examples: sorted int64 dataset
    indices, round(fraction * N) of them (at least 1).

    labels: [N] integer labels. scores: [N] per-example scores for the score-ranking methods
    (el2n, grand, forgetting, ccs, ...; higher = harder, as `score` returns them); embeddings:
    [N, d] for kcenter, herding and moderate; random needs neither. seed: the numpy
    Generator's (`np.random.default_rng(seed)`, as the select job seeds it). options: the
    method's options by name (`available_methods()[method].options`), checked as a config's.
    Static methods weight nothing: every kept example trains at weight 1."""
    entry = method_entry(method, "static", "use pb.DynamicMethod(...) in your training loop")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise UserError(f"fraction must be a number in (0, 1], got {fraction!r}")
    check_fraction(fraction)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UserError(f"seed must be an integer, got {seed!r}")
    labels = _check_labels(labels)
    checked_options(method, options)
    values = _values(method, entry, options, len(labels), scores, embeddings)
    return select_subset(method, values, labels, float(fraction), np.random.default_rng(seed),
                         **options)
