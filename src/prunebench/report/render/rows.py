"""Tables as the HTML page shows them: each analysis frame turned into rows of display
strings (numbers through `analysis.formatting.number`, so an absent one reads "–")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...phases import PHASES
from ..analysis.formatting import number
from ..analysis.time_to_accuracy import REACHED, Target

METRIC_LABEL = {"accuracy": "accuracy (%)", "relative_error": "relative error (%)"}


def format_method_rows(table: pd.DataFrame) -> list[dict]:
    """The method table (`analysis.tables.method_table`) as shown: accuracy in %, change in
    points, seconds."""
    rows = []
    for rec in table.to_dict("records"):
        std = number(100 * rec["acc_std"], ".2f", missing="")
        rows.append({
            "method": rec["method"], "kind": rec["kind"], "fraction": f"{rec['fraction']:g}",
            "accuracy": f"{100 * rec['acc_mean']:.2f}" + (f" ± {std}" if std else ""),
            "n": int(rec["n"]),
            "vs_full": number(100 * rec["acc_vs_full"], "+.2f"),
            "rel_error": number(100 * rec["rel_error"], ".2f"),
            "time": number(rec["time_total"], ".2f"),
            "phases": " / ".join(number(rec[f"time_{p}"], ".2f") for p in PHASES),
            "selection_share": number(100 * rec["selection_share"], ".1f"),
            "selection_efficiency": number(rec["selection_efficiency"], ".2f"),
            "speedup": number(rec["speedup"], ".2f") + ("x" if not math.isnan(rec["speedup"])
                                                      else ""),
            "steps": f"{rec['steps']:.0f}", "step_share": number(100 * rec["step_share"], ".0f"),
        })
    return rows


def frontier_rows(on: pd.DataFrame) -> list[dict]:
    """The frontier (`analysis.frontier.frontier`) as shown: method, fraction, accuracy (%),
    total time (s)."""
    return [{"method": r.method, "fraction": f"{r.fraction:g}",
             "accuracy": f"{100 * r.acc_mean:.2f}", "time": f"{r.time_total:.2f}"}
            for r in on.itertuples()]


def time_to_accuracy_rows(frame: pd.DataFrame, targets: list[Target]) -> list[dict]:
    """The time-to-accuracy frame as shown: one row per (method, fraction), a cell per target,
    "12.3 s (epoch 5), 2.10x" (the speedup to full) or the status."""
    rows = []
    for (method, fraction), group in frame.groupby(["method", "fraction"], sort=False):
        cells = []
        for target in targets:
            rec = group[group.target == target.name].iloc[0]
            if rec.status != REACHED:
                cells.append(rec.status)
                continue
            cell = f"{rec.time_s:.1f} s (epoch {int(rec.epoch)})"
            if not math.isnan(rec.speedup) and method != "full":
                cell += f", {rec.speedup:.2f}x"
            cells.append(cell)
        rows.append({"method": method, "fraction": f"{fraction:g}", "cells": cells})
    return rows


def difference_rows(diffs: pd.DataFrame) -> list[dict]:
    """The differences (`analysis.intervals.differences`) as shown, in points."""
    return [{"method": r.method, "fraction": f"{r.fraction:g}",
             "baseline": f"{r.baseline} (f = {r.baseline_fraction:g})", "test": r.test,
             "n": f"{r.n} / {r.n_baseline}", "difference": number(r.diff_pts, "+.2f"),
             "interval": f"{number(r.low_pts, '+.2f')} to {number(r.high_pts, '+.2f')}",
             "verdict": r.verdict}
            for r in diffs.itertuples()]


def reference_display(reference: dict, frame: pd.DataFrame) -> dict:
    """What the page shows of one reference, `frame` being its `analysis.published.comparison`:
    its source line and display rows."""
    rows = []
    for r in frame.to_dict("records"):
        measured = r["status"] == "measured"
        std = "" if math.isnan(r["our_accuracy_std"]) else f" ± {r['our_accuracy_std']:.2f}"
        rows.append({
            "method": r["method"],
            "fraction": number(r["fraction"], "g"),
            "metric": METRIC_LABEL[r["metric"]], "paper": number(r["paper_value"], ".2f"),
            "ours": number(r["our_value"], ".2f") if measured else r["status"],
            "difference": number(r["difference"], "+.2f") if measured else "–",
            "paper_accuracy": number(r["paper_accuracy"], ".2f"),
            "our_accuracy": number(r["our_accuracy"], ".2f") + std if measured else r["status"],
            "accuracy_difference": number(r["accuracy_difference"], "+.2f") if measured else "–",
            "measured": measured,
        })
    return {"paper": reference["paper"], "table": reference["table"],
            "model": reference.get("model", ""), "note": reference.get("note", ""),
            "metric": METRIC_LABEL[reference["metric"]],
            "implied": reference["metric"] == "relative_error"
            and reference.get("full_accuracy") is not None, "rows": rows}


def selection_display_rows(per_run: pd.DataFrame) -> list[dict]:
    """The dynamic methods' per-run table (`analysis.selections.selection_run_table`) as
    shown."""
    rows = []
    for rec in per_run.to_dict("records"):
        row = {"method": rec["method"], "fraction": f"{rec['fraction']:g}", "seed": rec["seed"],
               "selections": rec["selections"],
               "size mean (min–max)": f"{number(rec['size_mean'], '.3g')} ({rec['size_min']}–"
                                      f"{rec['size_max']})",
               "pool first → last": f"{rec['pool_first']} → {rec['pool_last']}",
               "s per selection: mean / first / later median":
                   f"{number(rec['seconds_mean'], '.3g')} / "
                   f"{number(rec['seconds_first'], '.3g')} / "
                   f"{number(rec['seconds_later_median'], '.3g')}",
               "selection s (total)": number(rec["seconds_total"], ".3g")}
        if "class_distance_mean" in rec:
            row["class distance mean / max"] = (f"{number(rec['class_distance_mean'], '.2g')} / "
                                                f"{number(rec['class_distance_max'], '.2g')}")
            row["smallest class share (training)"] = (
                f"{100 * rec['smallest_class_share_min']:.1f}% "
                f"({100 * rec['smallest_class_share_training']:.1f}%)")
        rows.append(row)
    return rows


def crest_display_rows(per_run: pd.DataFrame) -> list[dict]:
    """The per-run CREST table (`analysis.crest.crest_run_table`) as shown: the picked
    examples' difficulty next to the training set's in one cell."""
    rows = []
    for rec in per_run.to_dict("records"):
        row = {"method": rec["method"], "fraction": f"{rec['fraction']:g}", "seed": rec["seed"],
               "selections": rec["selections"], "checks": number(rec["checks"], ".4g"),
               "re-selected after a failed check": rec["check_failed"],
               "checks failed": number(rec["checks_failed_share"], ".0%"),
               "check interval (mean)": number(rec["mean_check_interval"], ".3g"),
               "coresets m (mean)": number(rec["mean_num_coresets"], ".3g"),
               "curvature norm first / median / last":
                   f"{number(rec['curvature_first'], '.3g')} / "
                   f"{number(rec['curvature_median'], '.3g')} / "
                   f"{number(rec['curvature_last'], '.3g')}",
               "steps between re-selections (mean / median)":
                   f"{number(rec['mean_steps_between'], '.3g')} / "
                   f"{number(rec['median_steps_between'], '.3g')}",
               "pool first → last": f"{rec['pool_first']} → {rec['pool_last']}",
               "selection time (s)": number(rec["selection_s"], ".3g")}
        for name, label in (("mean_el2n", "mean EL2N picked (all)"),
                            ("mean_forgetting", "mean forgetting picked (all)"),
                            ("inf_share_forgetting", "never learned picked (all)")):
            if f"{name}_selected" in rec:
                row[label] = (f"{number(rec[name + '_selected'], '.3g')} "
                              f"({number(rec[name + '_all'], '.3g')})")
        rows.append(row)
    return rows


def formatted_records(frame: pd.DataFrame, digits: int = 4) -> list[dict]:
    """The frame's rows as dicts, floats written with `digits` significant digits."""

    def show(value):
        return number(value, f".{digits}g") if isinstance(value, float | np.floating) else value

    return [{k: show(v) for k, v in rec.items()} for rec in frame.to_dict("records")]
