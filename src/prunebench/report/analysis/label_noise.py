"""Label noise in the report: how well each score finds the flipped labels, and how much noise
each method kept. NumPy and pandas only.

Detection of a score s against the mask of flipped labels (docs/methods.md): AUROC,
with ties counting 1/2 (as sklearn.metrics.roc_auc_score, from average ranks; +inf, a
never-learned example's forgetting count, ranks highest), and precision at k = the number of
flipped labels: the share of the k highest scores (ties broken by index) that are flipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..read.label_noise import read_noise_mask
from ..read.scores import read_scores

DETECTION_COLUMNS = ["score", "auroc", "precision_at_k", "k", "n_train"]
KEPT_COLUMNS = ["method", "fraction", "n", "noisy_share", "noisy_share_std", "acc_mean",
                "acc_vs_full"]


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[inverse.ravel()]


def auroc(scores: np.ndarray, noisy: np.ndarray) -> float:
    """Area under the ROC curve of `scores` ranking the flipped labels (`noisy`) first; NaN
    when the mask is all one value."""
    noisy = np.asarray(noisy, dtype=bool)
    positives, negatives = int(noisy.sum()), int((~noisy).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[noisy].sum() - positives * (positives + 1) / 2.0)
                 / (positives * negatives))


def precision_at_k(scores: np.ndarray, noisy: np.ndarray) -> float:
    """The share of flipped labels among the k = |flipped| highest scores; NaN when k = 0."""
    noisy = np.asarray(noisy, dtype=bool)
    k = int(noisy.sum())
    if k == 0:
        return float("nan")
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(scores)), -scores))  # highest first, then lowest index
    return float(noisy[order[:k]].mean())


def detection_table(scores: dict[str, np.ndarray], noisy: np.ndarray) -> pd.DataFrame:
    """One row per score: its AUROC and precision at k against the mask."""
    rows = [{"score": name, "auroc": auroc(values, noisy),
             "precision_at_k": precision_at_k(values, noisy), "k": int(np.sum(noisy)),
             "n_train": len(noisy)}
            for name, values in scores.items() if len(values) == len(noisy)]
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def detection_of(mask_path: str | Path, score_paths: dict[str, str | Path]) -> pd.DataFrame:
    """`detection_table` of the score files that exist against a prepared folder's mask."""
    mask = read_noise_mask(mask_path)
    if mask is None:
        return pd.DataFrame(columns=DETECTION_COLUMNS)
    scores = read_scores({("", score): path for score, path in score_paths.items()})
    return detection_table(scores.get("", {}), mask)


def kept_table(runs: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per method and fraction (seed means, in `methods` order): the share of flipped labels in
    what it trained on, beside its accuracy and the change against `full`."""
    if runs.empty or "noisy_share" not in runs:
        return pd.DataFrame(columns=KEPT_COLUMNS)
    table = runs.groupby(["method", "fraction"], as_index=False).agg(
        n=("seed", "nunique"), noisy_share=("noisy_share", "mean"),
        noisy_share_std=("noisy_share", lambda v: float(np.std(v, ddof=1)) if len(v) > 1
                         else float("nan")),
        acc_mean=("test_acc", "mean"))
    full = table.loc[table.method == "full", "acc_mean"]
    table["acc_vs_full"] = table.acc_mean - (full.iloc[0] if len(full) else float("nan"))
    rank = {m: i for i, m in enumerate(dict.fromkeys(["full", *methods]))}
    table = table.assign(_rank=table.method.map(rank).fillna(len(rank)))
    return table.sort_values(["_rank", "method", "fraction"], ignore_index=True)[KEPT_COLUMNS]


def noise_headline(dataset: str, rate: float, detection: pd.DataFrame,
                   kept: pd.DataFrame) -> str:
    """One sentence: the best detector, and the method that kept the least noise against
    random at the same fraction."""
    parts = [f"{dataset} has {rate:.0%} of its training labels flipped"]
    found = detection.dropna(subset=["auroc"])
    if len(found):
        best = found.loc[found.auroc.idxmax()]
        parts.append(f"{best.score} finds them best (AUROC {best.auroc:.3f}, "
                     f"{best.precision_at_k:.0%} of its top {int(best.k)} are flipped)")
    selected = kept[~kept.method.isin(["full", "random"]) & kept.noisy_share.notna()]
    if len(selected):
        least = selected.loc[selected.noisy_share.idxmin()]
        random = kept[(kept.method == "random") & (kept.fraction == least.fraction)]
        against = (f" against random's {random.noisy_share.iloc[0]:.1%}" if len(random)
                   else "")
        parts.append(f"{least.method} at f = {least.fraction:g} kept the least noise "
                     f"({least.noisy_share:.1%}{against})")
    return "; ".join(parts) + "."
