"""The headline of a dataset: one leaderboard row per budget (fraction) and at most five short
sentences, written from the method table, the differences with their intervals and the time
to accuracy. Nothing here is fixed text about a method: change the numbers, the words follow.

A row: the most accurate method at that fraction; the cheapest one (mean whole time, scoring
and selection charged) whose final accuracy is within 1 point of full's, with its speedup to
full − 1 pt; every CREST variant and `random`, each with its verdict and 95% interval (CREST
against random, random against full).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .formatting import number
from .intervals import BETTER, SAME, WORSE
from .time_to_accuracy import REACHED

TOLD = (BETTER, WORSE, SAME)  # verdicts from an interval (not "too few seeds" / no spread)
WITHIN_PTS = 1.0  # "close to full": final accuracy at most this many points below it
TARGET = "full − 1 pt"  # the time-to-accuracy target the cheapest method's speedup is read at
RANDOM_BASELINES = ("random", "random_epoch")  # the first that ran is "random" in the headline


@dataclass
class Cell:
    """One leaderboard cell: what (method and accuracy), then a detail line; `verdict` (better,
    worse, not distinguishable...) colours it; empty `method` means nothing to show."""

    method: str = ""
    main: str = "–"
    detail: str = ""
    verdict: str = ""
    cost_ratio: float = math.nan  # CREST cells: mean whole time over random's
    diff_pts: float = math.nan  # CREST cells: accuracy minus random's, in points


@dataclass
class Row:
    fraction: float
    best: Cell = field(default_factory=Cell)
    cheapest: Cell = field(default_factory=Cell)
    variants: dict[str, Cell] = field(default_factory=dict)  # CREST and its variants
    random: Cell = field(default_factory=Cell)


def _diff(diffs: pd.DataFrame, method: str, fraction: float, baseline: str) -> pd.Series | None:
    rows = diffs[(diffs.method == method) & (diffs.baseline == baseline)
                 & ((diffs.fraction - fraction).abs() < 1e-9)]
    return rows.iloc[0] if len(rows) else None


def _versus(diffs: pd.DataFrame, method: str, fraction: float,
            baselines: tuple[str, ...]) -> tuple[str, str]:
    """("vs random +1.2 pts [+0.3, +2.1]: better", verdict) against the first baseline found."""
    for baseline in baselines:
        d = _diff(diffs, method, fraction, baseline)
        if d is not None:
            text = f"vs {baseline} {number(d.diff_pts, '+.1f')} pts"
            if not math.isnan(d.low_pts):
                text += f" [{number(d.low_pts, '+.1f')}, {number(d.high_pts, '+.1f')}]"
            return f"{text}: {d.verdict}", d.verdict
    return "", ""


def random_baseline(table: pd.DataFrame, fraction: float) -> str | None:
    """The random baseline at this fraction: random, else random_epoch, else None."""
    here = set(table[(table.fraction - fraction).abs() < 1e-9].method)
    return next((b for b in RANDOM_BASELINES if b in here), None)


def _speedup(tta: pd.DataFrame, method: str, fraction: float) -> str:
    rows = tta[(tta.method == method) & (tta.target == TARGET)
               & ((tta.fraction - fraction).abs() < 1e-9)] if len(tta) else tta
    if not len(rows) or rows.status.iloc[0] != REACHED or math.isnan(rows.speedup.iloc[0]):
        return ""
    return f"{rows.speedup.iloc[0]:.1f}x faster to {TARGET}"


def _acc(rec) -> str:
    return f"{100 * rec.acc_mean:.1f}%"


def leaderboard(table: pd.DataFrame, diffs: pd.DataFrame, tta: pd.DataFrame,
                variants: list[str]) -> list[Row]:
    """One Row per fraction below 1 at which some method other than full ran, smallest first.
    `variants` are the configured CREST methods (crest, crest_fixed...)."""
    full = table[table.method == "full"]
    full_acc = float(full.acc_mean.iloc[0]) if len(full) else math.nan
    rows = []
    budgets = table[(table.method != "full") & (table.fraction < 1)]
    for fraction, here in budgets.groupby("fraction"):
        base = random_baseline(table, fraction)
        baselines = (base,) if base else ()
        row = Row(fraction=float(fraction))
        best = here.loc[here.acc_mean.idxmax()]
        detail, verdict = _versus(diffs, best.method, fraction, baselines)
        row.best = Cell(best.method, f"{best.method} {_acc(best)}", detail, verdict)
        close = here[here.acc_mean >= full_acc - WITHIN_PTS / 100] if len(full) else here[:0]
        if len(close):
            cheap = close.loc[close.time_total.idxmin()]
            parts = [f"{cheap.time_total:.1f} s", _speedup(tta, cheap.method, fraction)]
            row.cheapest = Cell(cheap.method, f"{cheap.method} {_acc(cheap)}",
                                ", ".join(p for p in parts if p))
        elif len(full):
            row.cheapest = Cell("", "none", f"no method within {WITHIN_PTS:g} pt of full")
        base_time = float(here[here.method == base].time_total.iloc[0]) if base else math.nan
        for method in variants:
            mine = here[here.method == method]
            if mine.empty:
                row.variants[method] = Cell("", "not run")
                continue
            rec = mine.iloc[0]
            detail, verdict = _versus(diffs, method, fraction, baselines)
            ratio = rec.time_total / base_time if base_time else math.nan
            cost = f"{rec.time_total:.1f} s" if math.isnan(ratio) else \
                f"{ratio:.1f}x {base}'s time"
            d = _diff(diffs, method, fraction, base) if base else None
            row.variants[method] = Cell(method, _acc(rec), f"{detail}; {cost}" if detail
                                        else cost, verdict, ratio,
                                        math.nan if d is None else float(d.diff_pts))
        if base:
            rec = here[here.method == base].iloc[0]
            detail, verdict = _versus(diffs, base, fraction, ("full",))
            row.random = Cell(base, f"{base} {_acc(rec)}", detail, verdict)
        rows.append(row)
    return rows


def leaderboard_csv(rows: list[Row]) -> str:
    """The leaderboard as a CSV table (one line per budget; cells' text as shown)."""
    records = []
    for row in rows:
        record = {"fraction": row.fraction, "most_accurate": row.best.main,
                  "most_accurate_detail": row.best.detail, "cheapest_within_1pt": row.cheapest.main,
                  "cheapest_detail": row.cheapest.detail}
        for method, cell in row.variants.items():
            record[method] = cell.main
            record[f"{method}_detail"] = cell.detail
        record.update(random=row.random.main, random_detail=row.random.detail)
        records.append(record)
    return pd.DataFrame(records).to_csv(index=False)


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def beats_random(diffs: pd.DataFrame, table: pd.DataFrame) -> str:
    """Does anything beat random beyond noise, at which fraction, by how much?"""
    found, compared, told = [], False, False
    for fraction in sorted(set(table[table.fraction < 1].fraction)):
        base = random_baseline(table, fraction)
        if base is None:
            continue
        rows = diffs[(diffs.baseline == base) & ((diffs.fraction - fraction).abs() < 1e-9)
                     & (diffs.method != "full")]
        compared = compared or len(rows) > 0
        told = told or rows.verdict.isin(TOLD).any()
        for r in rows[rows.verdict == BETTER].sort_values("diff_pts", ascending=False).itertuples():
            found.append(f"{r.method} at f = {fraction:g} ({number(r.diff_pts, '+.1f')} pts "
                         f"vs {base})")
    if not compared:
        return ""
    if not told:
        return ("Too few seeds to tell any method from random: rerun with 3 or more seeds "
                "for intervals.")
    if not found:
        return "Nothing beats random beyond noise at any budget."
    return f"Beats random beyond noise: {_names(found[:3])}" + \
        (f" and {len(found) - 3} more." if len(found) > 3 else ".")


def crest_cost(rows: list[Row]) -> str:
    """What each CREST variant costs against random at each budget, and what it buys."""
    per_variant: dict[str, list[str]] = {}
    for row in rows:
        for method, cell in row.variants.items():
            if cell.method and not math.isnan(cell.cost_ratio):
                buys = (f"{number(cell.diff_pts, '+.1f')} pts" if not math.isnan(cell.diff_pts)
                        else "")
                short = {BETTER: "better", WORSE: "worse", SAME: "n.d."}.get(
                    cell.verdict, "no interval")
                per_variant.setdefault(method, []).append(
                    f"{cell.cost_ratio:.1f}x at f = {row.fraction:g} ({buys}, {short})")
    if not per_variant:
        return ""
    pays = sorted({f"{row.fraction:g}" for row in rows for cell in row.variants.values()
                   if cell.method and cell.verdict == BETTER})
    told = any(cell.method and cell.verdict in TOLD for row in rows
               for cell in row.variants.values())
    lead = (f"CREST pays off at f = {', '.join(pays)} (better than random beyond noise)"
            if pays else "CREST does not beat random beyond noise here" if told
            else "Whether CREST pays off cannot be told with these seeds")
    parts = [f"{method} {', '.join(items)}" for method, items in per_variant.items()]
    text = f"{lead}; its time as a multiple of random's: " + "; ".join(parts)
    return text + (" (n.d.: not distinguishable)." if "n.d.)" in text else ".")


def collapses(diffs: pd.DataFrame) -> str:
    """Methods worse than random beyond noise, the worst first."""
    worse = diffs[diffs.baseline.isin(RANDOM_BASELINES) & (diffs.verdict == WORSE)]
    if worse.empty:
        return ""
    worse = worse.sort_values("diff_pts").drop_duplicates(["method", "fraction"])
    items = [f"{r.method} at f = {r.fraction:g} ({number(r.diff_pts, '+.1f')} pts)"
             for r in worse.head(3).itertuples()]
    return "Worse than random beyond noise: " + _names(items) + "."


def fastest_to_target(tta: pd.DataFrame) -> str:
    rows = tta[(tta.target == TARGET) & (tta.method != "full") & (tta.status == REACHED)] \
        if len(tta) else tta
    if not len(rows):
        return f"No method but full reaches {TARGET}." if len(tta) else ""
    r = rows.sort_values("time_s").iloc[0]
    speed = "" if math.isnan(r.speedup) else f", {r.speedup:.1f}x faster than full"
    return f"Soonest to {TARGET}: {r.method} at f = {r.fraction:g} ({r.time_s:.1f} s{speed})."


def headline(rows: list[Row], table: pd.DataFrame, diffs: pd.DataFrame,
             tta: pd.DataFrame) -> list[str]:
    """At most five sentences, in order: does anything beat random, what CREST costs, what
    collapses, who reaches full − 1 pt first."""
    if table.empty:
        return []
    sentences = [beats_random(diffs, table), crest_cost(rows), collapses(diffs),
                 fastest_to_target(tta)]
    return [s for s in sentences if s][:5]
