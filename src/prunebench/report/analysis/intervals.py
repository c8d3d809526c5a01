"""Differences in final accuracy that are real: 95% intervals over seeds and a verdict.

A method at fraction f is compared with `random` and `random_epoch` at the same f and with
`full`. When both ran exactly the same seeds, the seeds are paired (seed s of both shares its
initialisation and data order), and the interval is the paired t interval of the per-seed
differences; otherwise Welch's unpaired interval on all seeds of each. The verdict is
"better" when the whole interval lies above 0, "worse" when below, else "not distinguishable";
with fewer than 2 seeds a side there is no interval ("too few seeds"), nor when the seeds show
no spread at all but the means differ (test accuracy is quantised: with 2 seeds both per-seed
differences can be equal, and a zero-width interval would claim a certainty the run lacks).

With 2 or 3 seeds the t quantile is 12.7 or 4.3: the intervals are wide, and "not
distinguishable" means this run cannot tell, not that the methods are equal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

BASELINES = ("random", "random_epoch", "full")
LEVEL = 0.95
PAIRED, WELCH, TOO_FEW = "paired t", "Welch t", "too few seeds"
NO_SPREAD = "no spread over seeds"
# Accuracies are fractions; a standard error below this is float noise (1e-6 would already be
# one example in a million), so the seeds are taken to show no spread.
NO_SPREAD_SE = 1e-9
BETTER, WORSE, SAME = "better", "worse", "not distinguishable"
COLUMNS = ["method", "fraction", "baseline", "baseline_fraction", "test", "n", "n_baseline",
           "df", "diff_pts", "low_pts", "high_pts", "verdict"]


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) with its interval (same units as the inputs)."""

    estimate: float
    low: float
    high: float
    test: str
    n_a: int
    n_b: int
    df: float


def t_quantile(df: float, level: float = LEVEL) -> float:
    return float(stats.t.ppf(0.5 + level / 2, df))


def difference_interval(a: Mapping[int, float], b: Mapping[int, float],
                        level: float = LEVEL) -> Difference:
    """The interval of mean(a) - mean(b), `a` and `b` mapping seed -> final accuracy."""
    va, vb = np.array(list(a.values()), float), np.array(list(b.values()), float)
    estimate = float(va.mean() - vb.mean()) if len(va) and len(vb) else math.nan
    if set(a) == set(b) and len(a) >= 2:
        d = np.array([a[s] - b[s] for s in sorted(a)])
        df = len(d) - 1
        se = float(d.std(ddof=1)) / math.sqrt(len(d))
        return _interval(float(d.mean()), se, df, PAIRED, len(a), len(b), level)
    if len(va) < 2 or len(vb) < 2:
        return Difference(estimate, math.nan, math.nan, TOO_FEW, len(va), len(vb), math.nan)
    sa, sb = va.var(ddof=1) / len(va), vb.var(ddof=1) / len(vb)
    se = math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa**2 / (len(va) - 1) + sb**2 / (len(vb) - 1)) \
        if se > NO_SPREAD_SE else math.nan
    return _interval(estimate, se, df, WELCH, len(va), len(vb), level)


def _interval(estimate: float, se: float, df: float, test: str, n_a: int, n_b: int,
              level: float) -> Difference:
    if se <= NO_SPREAD_SE:  # no spread: [0, 0] when the means agree, else no interval
        bound = 0.0 if abs(estimate) <= NO_SPREAD_SE else math.nan
        return Difference(estimate, bound, bound, test, n_a, n_b, df)
    half = t_quantile(df, level) * se
    return Difference(estimate, estimate - half, estimate + half, test, n_a, n_b, df)


def verdict(diff: Difference) -> str:
    if math.isnan(diff.low):
        return TOO_FEW if diff.test == TOO_FEW else NO_SPREAD
    if diff.low > 0:
        return BETTER
    if diff.high < 0:
        return WORSE
    return SAME


def _accuracies(runs: pd.DataFrame, method: str, fraction: float | None) -> dict[int, float]:
    rows = runs[runs.method == method]
    if fraction is not None:
        rows = rows[np.isclose(rows.fraction, fraction)]
    return dict(zip(rows.seed.astype(int), rows.test_acc.astype(float), strict=True))


def compared(method: str, baseline: str) -> bool:
    """Whether `method` is compared with `baseline`: never with itself, and a baseline only
    with those after it in BASELINES (random vs random_epoch once, not twice; full vs none)."""
    if method == baseline:
        return False
    return method not in BASELINES or BASELINES.index(baseline) > BASELINES.index(method)


def differences(runs: pd.DataFrame, order: list[tuple[str, float]]) -> pd.DataFrame:
    """Every (method, fraction) of `order` against each baseline that has runs at that
    fraction (full: at its own fraction), in points; `runs` are one dataset's summary rows."""
    rows = []
    for method, fraction in order:
        mine = _accuracies(runs, method, fraction)
        for baseline in BASELINES:
            if not compared(method, baseline):
                continue
            theirs = _accuracies(runs, baseline, None if baseline == "full" else fraction)
            if not theirs or not mine:
                continue
            diff = difference_interval(mine, theirs)
            base_fraction = runs[runs.method == baseline].fraction.iloc[0] \
                if baseline == "full" else fraction
            rows.append({"method": method, "fraction": fraction, "baseline": baseline,
                         "baseline_fraction": base_fraction, "test": diff.test, "n": diff.n_a,
                         "n_baseline": diff.n_b, "df": diff.df, "diff_pts": 100 * diff.estimate,
                         "low_pts": 100 * diff.low, "high_pts": 100 * diff.high,
                         "verdict": verdict(diff)})
    return pd.DataFrame(rows, columns=COLUMNS)


def absent_baselines(runs: pd.DataFrame, order: list[tuple[str, float]]) -> list[str]:
    """Sentences naming each baseline that was not run, or not at some compared fraction."""
    notes = []
    for baseline in BASELINES:
        done = runs[runs.method == baseline]
        if done.empty:
            notes.append(f"{baseline} was not run: nothing is compared with it.")
            continue
        if baseline == "full":
            continue
        lacking = sorted({f for m, f in order if compared(m, baseline)
                          and not np.isclose(done.fraction, f).any()})
        if lacking:
            shown = ", ".join(f"{f:g}" for f in lacking)
            notes.append(f"{baseline} has no run at f = {shown}: methods there are not "
                         f"compared with it.")
    return notes


def width_note(runs: pd.DataFrame) -> str:
    """How wide the intervals are with this run's seeds, said plainly."""
    counts = runs.groupby(["method", "fraction"]).seed.nunique() if len(runs) else pd.Series()
    if counts.empty:
        return ""
    n = int(counts.max())
    if n < 2:
        return ("One seed per run: no interval can be computed; rerun with at least 3 seeds "
                "to tell differences from noise.")
    t = t_quantile(n - 1)
    text = (f"With {n} seeds the paired interval is the mean difference ± {t:.2f} × sd / "
            f"√{n} (t with {n - 1} degree{'s' if n > 2 else ''} of freedom)")
    if n <= 3:
        return text + (": wide. A verdict of \"not distinguishable\" means this run cannot "
                       "tell, not that the methods are equal.")
    return text + "."
