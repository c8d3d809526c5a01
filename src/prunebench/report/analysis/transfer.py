"""Score transfer (Data Diet's claim that scores from one architecture or recipe generalise;
Selection via Proxy): how far two proxies' scores agree, and how the target does on each
proxy's subset, at what cost.

Agreement of two score vectors over the same training set: Spearman rank correlation
(average ranks for ties; +inf, forgetting's never-learned, ranks hardest) and the overlap of
their top-f subsets, |A AND B| / |A|, A and B the round(f * N) highest scores of each (ties
broken by the lower index, as the `top` selector breaks them), at each fraction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

AGREEMENT_COLUMNS = ["score", "proxy_a", "proxy_b", "spearman", "fraction", "top_overlap"]
TRANSFER_COLUMNS = ["method", "proxy", "fraction", "n", "acc_mean", "acc_std",
                    "time_scoring", "time_total"]
REFERENCES = ("full", "random")  # shown beside the proxies' subsets


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two score vectors (NaN entries left out pairwise); NaN
    when fewer than two examples remain or one vector is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"score vectors differ in length ({len(a)} and {len(b)})")
    keep = ~(np.isnan(a) | np.isnan(b))
    ra = pd.Series(a[keep]).rank(method="average").to_numpy()
    rb = pd.Series(b[keep]).rank(method="average").to_numpy()
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """The k highest scores' indices, highest first, ties broken by the lower index."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.arange(len(scores)), -scores))  # last key sorts first
    return order[:k]


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float) -> float:
    """|A AND B| / |A| for A, B the round(fraction * N) highest of `a` and of `b`."""
    if len(a) != len(b):
        raise ValueError(f"score vectors differ in length ({len(a)} and {len(b)})")
    k = int(round(fraction * len(a)))
    if k == 0:
        return float("nan")
    shared = np.intersect1d(top_indices(a, k), top_indices(b, k), assume_unique=True)
    return len(shared) / k


def score_agreement(scores: dict[str, dict[str, np.ndarray]],
                    fractions: list[float]) -> pd.DataFrame:
    """One row per (score, pair of proxies, fraction) for every score that two proxies both
    produced: `scores` maps proxy name -> score name -> mean score array, in proxy order."""
    rows = []
    names = list(scores)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            for score in [s for s in scores[first] if s in scores[second]]:
                a, b = scores[first][score], scores[second][score]
                rho = spearman(a, b)
                rows += [{"score": score, "proxy_a": first, "proxy_b": second, "spearman": rho,
                          "fraction": f, "top_overlap": top_overlap(a, b, f)}
                         for f in fractions]
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def transfer_runs(runs: pd.DataFrame, method_proxies: dict[str, str]) -> pd.DataFrame:
    """The target's accuracy (%, mean and std over seeds) and mean total and scoring cost
    (seconds) per method that scores with a proxy, with the proxy it used, and `full` and
    `random` as references, by fraction."""
    shown = [m for m in runs.method.unique() if m in method_proxies or m in REFERENCES]
    rows = []
    for (method, fraction), group in runs[runs.method.isin(shown)].groupby(
            ["method", "fraction"], sort=False):
        acc = group.test_acc.astype(float) * 100
        rows.append({"method": method, "proxy": method_proxies.get(method, ""),
                     "fraction": float(fraction), "n": len(group), "acc_mean": acc.mean(),
                     "acc_std": acc.std(ddof=1) if len(group) > 1 else float("nan"),
                     "time_scoring": group.time_scoring.astype(float).mean(),
                     "time_total": group.time_total.astype(float).mean()})
    frame = pd.DataFrame(rows, columns=TRANSFER_COLUMNS)
    return frame.sort_values(["fraction", "proxy", "method"], ignore_index=True)
