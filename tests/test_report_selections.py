"""The report's section for every dynamic method's selections, on hand-made logs: read by
column name (generic columns required, a method's own optional), count, sizes, seconds and
class balance over time from the picked indices and the training labels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prunebench.errors import UserError
from prunebench.report.analysis.crest import crest_selections
from prunebench.report.analysis.selections import (
    class_distance,
    dynamic_selections,
    selection_run_table,
)
from prunebench.report.read.selection_log import read_selection_log
from prunebench.report.render.layout import dynamic_methods, report_files
from prunebench.report.render.rows import selection_display_rows

from .report_fixtures import toy_config

# 12 training examples: classes 0, 1, 2 with 6, 3, 3 examples (shares 1/2, 1/4, 1/4)
LABELS = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2])


def write_log(out: Path, rows: list[dict], picked: list[list[int]], extra: str = "") -> Path:
    """selections.csv with the generic columns (then `extra`, a method's own column) and
    selected.npz, as a periodic-selection method writes them."""
    out.mkdir(parents=True, exist_ok=True)
    header = "step,epoch,reason,pool_size,n_selected,selection_s" + (f",{extra}" if extra else "")
    lines = [header] + [",".join(str(r[k]) for k in header.split(",")) for r in rows]
    (out / "selections.csv").write_text("\n".join(lines) + "\n")
    sizes = [len(p) for p in picked]
    np.savez(out / "selected.npz", steps=np.array([r["step"] for r in rows], dtype=np.int64),
             offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
             indices=np.concatenate([np.array(p, dtype=np.int64) for p in picked]),
             weights=np.ones(sum(sizes), dtype=np.float32))
    return out


def row(step, n, seconds, **extra):
    return {"step": step, "epoch": step // 3 + 1, "reason": "epoch start" if step else "initial",
            "pool_size": 12, "n_selected": n, "selection_s": seconds, **extra}


@pytest.fixture
def runs(tmp_path):
    # glister: first exactly the training shares (two of class 0, one each of 1 and 2), then
    # only class 0; it logs a column of its own ("gain")
    glister = write_log(tmp_path / "glister", [row(0, 4, 0.5, gain=1.0), row(3, 4, 0.2, gain=2.0)],
                        [[0, 1, 6, 9], [0, 1, 2, 3]], extra="gain")
    craig = write_log(tmp_path / "craig", [row(0, 2, 1.0), row(3, 2, 0.3), row(6, 2, 0.1)],
                      [[6, 7], [9, 10], [0, 9]])
    empty = tmp_path / "random_epoch"
    empty.mkdir()
    (empty / "selections.csv").write_text("step,epoch,reason,pool_size,n_selected,selection_s\n")
    np.savez(empty / "selected.npz", steps=np.zeros(0, np.int64), offsets=np.zeros(1, np.int64),
             indices=np.zeros(0, np.int64), weights=np.zeros(0, np.float32))
    return pd.DataFrame([{"method": "glister", "fraction": 0.3, "seed": 0, "run_dir": glister},
                         {"method": "craig", "fraction": 0.3, "seed": 0, "run_dir": craig},
                         {"method": "random_epoch", "fraction": 0.3, "seed": 0,
                          "run_dir": empty}])


def test_class_distance_is_total_variation_to_the_training_balance():
    reference = np.bincount(LABELS) / len(LABELS)
    assert class_distance(np.array([0, 1, 6, 9]), LABELS, reference) == pytest.approx(0.0)
    assert class_distance(np.array([0, 1, 2, 3]), LABELS, reference) == pytest.approx(0.5)
    assert class_distance(np.array([6, 7]), LABELS, reference) == pytest.approx(0.75)
    with pytest.raises(UserError, match="12 training labels"):
        class_distance(np.array([12]), LABELS, reference)


def test_every_dynamic_method_with_a_log_is_shown(runs):
    selections = dynamic_selections(runs, ["glister", "craig", "random_epoch"], LABELS)
    assert selections.groupby("method", sort=False).size().to_dict() == {"glister": 2,
                                                                        "craig": 3}
    glister = selections[selections.method == "glister"]
    assert glister.gain.tolist() == [1.0, 2.0]  # the method's own column, kept by name
    assert glister.class_distance.tolist() == pytest.approx([0.0, 0.5])
    assert glister.smallest_class_share.tolist() == pytest.approx([0.25, 0.0])
    per_run = selection_run_table(selections, training_smallest=0.25).set_index("method")
    assert per_run.loc["craig", "selections"] == 3
    assert per_run.loc["craig", "seconds_first"] == pytest.approx(1.0)
    assert per_run.loc["craig", "seconds_later_median"] == pytest.approx(0.2)
    # craig picked [1, 1], [2, 2], [0, 2]: distances 0.75, 0.75, 0.25
    assert per_run.loc["craig", "class_distance_mean"] == pytest.approx(1.75 / 3)
    assert per_run.loc["craig", "class_distance_max"] == pytest.approx(0.75)
    shown = {r["method"]: r for r in selection_display_rows(per_run.reset_index())}
    assert shown["glister"]["size mean (min–max)"] == "4 (4–4)"
    assert shown["glister"]["smallest class share (training)"] == "0.0% (25.0%)"


def test_without_labels_the_balance_is_left_out(runs):
    selections = dynamic_selections(runs, ["craig"], None)
    assert "class_distance" not in selections
    per_run = selection_run_table(selections, None)
    assert "class_distance_mean" not in per_run
    assert "class distance mean / max" not in selection_display_rows(per_run)[0]


def test_a_log_without_a_generic_column_is_an_error(tmp_path):
    out = tmp_path / "bad"
    out.mkdir()
    (out / "selections.csv").write_text("step,epoch,reason,n_selected\n0,1,initial,2\n")
    np.savez(out / "selected.npz", offsets=np.array([0, 2]), indices=np.array([0, 1]))
    with pytest.raises(UserError, match="lacks columns \\['pool_size', 'selection_s'\\]"):
        read_selection_log(out)
    assert read_selection_log(tmp_path / "nowhere") is None


def test_crest_panels_read_a_log_without_crest_columns_as_nan(runs):
    crest = runs.iloc[[1]].assign(method="crest")
    selections = crest_selections(crest, {}, ["crest"])
    assert len(selections) == 3
    assert selections.curvature_norm.isna().all() and selections.rel_error.isna().all()
    assert math.isnan(selections.steps_since_previous.iloc[0])


def test_layout_declares_the_selection_section_for_dynamic_methods():
    static_only = toy_config(["full", "random", "el2n"])
    assert dynamic_methods(static_only) == []
    assert "selections" not in {f.name for f in report_files(static_only)}
    dynamic = toy_config(["full", "random", "glister", "craig"])
    assert dynamic_methods(dynamic) == ["glister", "craig"]
    kinds = {(f.kind, f.name) for f in report_files(dynamic)}
    assert {("figure", "selections"), ("table", "selections"),
            ("table", "leaderboard")} <= kinds
    assert ("figure", "crest_selection") not in kinds
