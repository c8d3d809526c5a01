"""The "what this run says" paragraph of a dataset, written from its numbers: the verdicts
against random_epoch, random and full, the cost relative to random, who reaches full's
accuracy minus 1 point and how soon, and the cost-accuracy frontier. Every sentence comes from
a table of the report; nothing is fixed text about a method."""

from __future__ import annotations

import math

import pandas as pd

from .intervals import BETTER, NO_SPREAD, SAME, TOO_FEW, WORSE
from .time_to_accuracy import REACHED, Target


def _names(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _capped(items: list[str], limit: int = 4) -> str:
    """The first `limit` items, then how many more (the table lists them all)."""
    if len(items) <= limit:
        return _names(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _run(method: str, fraction: float) -> str:
    return f"{method} (f = {fraction:g})"


def _against(rows: pd.DataFrame, baseline: str, fraction: float) -> str:
    """One sentence: which methods at this fraction beat / trail / match the baseline."""
    better = rows[rows.verdict == BETTER]
    worse = rows[rows.verdict == WORSE]
    same = rows[rows.verdict == SAME].method.tolist()
    few = rows[rows.verdict.isin([TOO_FEW, NO_SPREAD])].method.tolist()

    def shown(part: pd.DataFrame) -> str:
        return _names([f"{r.method} ({r.diff_pts:+.2f} pts, 95% CI {r.low_pts:+.2f} to "
                       f"{r.high_pts:+.2f})" for r in part.itertuples()])

    parts = []
    if len(better):
        lead = "only " if len(better) == 1 and len(rows) > 1 else ""
        verb = "beats" if len(better) == 1 else "beat"
        parts.append(f"{lead}{shown(better)} {verb} {baseline} beyond noise")
    else:
        parts.append(f"no method beats {baseline} beyond noise")
    if len(worse):
        parts.append(f"{shown(worse)} {'is' if len(worse) == 1 else 'are'} worse")
    if same:
        parts.append(f"{_names(same)} {'is' if len(same) == 1 else 'are'} not "
                     "distinguishable from it")
    if few:
        parts.append(f"{_names(few)} {'has' if len(few) == 1 else 'have'} too few seeds to tell")
    return f"At f = {fraction:g}, " + "; ".join(parts) + "."


def verdict_sentences(diffs: pd.DataFrame) -> list[str]:
    sentences = []
    for baseline in ("random_epoch", "random"):
        against = diffs[(diffs.baseline == baseline) & (diffs.method != "full")]
        for fraction, rows in against.groupby("fraction"):
            sentences.append(_against(rows, baseline, fraction))
    versus_full = diffs[diffs.baseline == "full"]
    if len(versus_full):
        groups = {v: [_run(r.method, r.fraction) for r in rows.itertuples()]
                  for v, rows in versus_full.groupby("verdict")}
        parts = []
        for verdict, phrase in ((BETTER, "above full beyond noise"),
                                (SAME, "not distinguishable from full"),
                                (WORSE, "below full beyond noise"),
                                (TOO_FEW, "too few seeds to compare with full"),
                                (NO_SPREAD, "no spread over seeds to judge against full")):
            if verdict in groups:
                runs = groups[verdict]
                label = _names(runs) if len(runs) <= 4 else f"{len(runs)} runs"
                parts.append(f"{label}: {phrase}")
        sentences.append("Against full, " + "; ".join(parts) + ".")
    return sentences


def cost_sentences(table: pd.DataFrame) -> list[str]:
    """Per fraction: each other method's mean whole time as a multiple of random's (or of
    random_epoch's when random has no run there), most expensive first."""
    sentences = []
    for fraction, rows in table[table.method != "full"].groupby("fraction"):
        base = next((b for b in ("random", "random_epoch") if b in set(rows.method)), None)
        if base is None:
            continue
        base_time = float(rows[rows.method == base].time_total.iloc[0])
        others = rows[rows.method != base]
        if others.empty or not base_time:
            continue
        others = others.assign(ratio=others.time_total / base_time).sort_values(
            "ratio", ascending=False)
        listed = _names([f"{r.method} {r.ratio:.1f}x" for r in others.itertuples()])
        sentences.append(f"Time per run at f = {fraction:g} (scoring and selection charged), "
                         f"as a multiple of {base}'s {base_time:.1f} s: {listed}.")
    return sentences


def target_sentence(tta: pd.DataFrame, targets: list[Target]) -> str:
    """Who reaches the middle default target (full − 1 pt), or the first target, and when."""
    if not targets or tta.empty:
        return ""
    target = next((t for t in targets if t.name == "full − 1 pt"), targets[0])
    rows = tta[(tta.target == target.name) & (tta.method != "full")]
    if rows.empty:
        return ""
    reached = rows[rows.status == REACHED].sort_values("time_s")
    missed = [_run(r.method, r.fraction) for r in rows[rows.status != REACHED].itertuples()]
    head = f"{target.name} ({target.percent:.2f}%)"
    if reached.empty:
        return f"No method other than full reaches {head}."

    def when(r) -> str:
        faster = "" if math.isnan(r.speedup) else f" (a {r.speedup:.2f}x speedup over full)"
        return f"{_run(r.method, r.fraction)} after {r.time_s:.1f} s{faster}"

    soonest = "soonest " if len(reached) > 1 else ""
    text = (f"{head} is reached by {len(reached)} of {len(rows)} runs, {soonest}"
            f"{_capped([when(r) for r in reached.itertuples()], 3)}")
    if missed:
        text += f"; not by {_capped(missed)}"
    return text + "."


def frontier_sentence(on: pd.DataFrame) -> str:
    if on.empty:
        return ""
    points = [f"{_run(r.method, r.fraction)} at {r.time_total:.1f} s and "
              f"{100 * r.acc_mean:.2f}%" for r in on.itertuples()]
    return f"Pareto-optimal in (time, accuracy), cheapest first: {_names(points)}."


def what_this_run_says(table: pd.DataFrame, diffs: pd.DataFrame, tta: pd.DataFrame,
                       targets: list[Target], on: pd.DataFrame) -> list[str]:
    """The paragraph's sentences, in reading order; empty when there is no run."""
    if table.empty:
        return []
    sentences = [*verdict_sentences(diffs), *cost_sentences(table),
                 target_sentence(tta, targets), frontier_sentence(on)]
    return [s for s in sentences if s]
