"""The proxy runs' mean scores: which are absent and why, how they are distributed, how they
agree.

Forgetting scores hold +inf for examples never learned; every comparison here is rank-based,
so +inf simply ranks hardest (ties share their average rank) and nothing is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAIN_SCORES = ("el2n", "grand", "forgetting")


def spearman_matrix(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """Spearman rank correlation between every pair of scores (average ranks for ties; +inf
    ranks above every finite value; NaN entries are left out pair by pair)."""
    names = list(scores)
    ranks = pd.DataFrame({name: pd.Series(scores[name]).rank(method="average")
                          for name in names})
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = ranks[[a, b]].dropna()
            # re-rank inside the pair's common examples, then Pearson on the ranks
            ra, rb = both[a].rank().to_numpy(), both[b].rank().to_numpy()
            if len(both) < 2 or ra.std() == 0 or rb.std() == 0:
                value = float("nan")
            else:
                value = float(np.corrcoef(ra, rb)[0, 1])
            matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def score_stats(scores: dict[str, np.ndarray]) -> list[dict]:
    """Per score: examples, finite mean / median / range, and how many are +inf."""
    rows = []
    for name, values in scores.items():
        finite = values[np.isfinite(values)]
        rows.append({
            "score": name, "n": len(values), "n_inf": int(np.isposinf(values).sum()),
            "mean": float(finite.mean()) if len(finite) else float("nan"),
            "median": float(np.median(finite)) if len(finite) else float("nan"),
            "min": float(finite.min()) if len(finite) else float("nan"),
            "max": float(finite.max()) if len(finite) else float("nan"),
        })
    return rows


def absent_scores(produced: list[str], present: dict[str, np.ndarray]) -> list[dict]:
    """Scores the report cannot show for a dataset, and why."""
    missing = [{"score": s, "reason": "score file missing (its proxy or mean_scores job did "
                "not finish)"} for s in produced if s not in present]
    unused = [{"score": s, "reason": "not computed: no configured method ranks by it"}
              for s in MAIN_SCORES if s not in produced and s not in present]
    return missing + unused
