"""A run's files: history.csv (one row per epoch) and metrics.json, written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..atomic import save_npz, write_json, write_text
from .samplers import ColumnValue, SelectionRecord

# the columns every dynamic method's selections.csv starts with, in this order; the method's own
# columns (SelectionRecord.columns) follow
SELECTION_COLUMNS = ("step", "epoch", "reason", "pool_size", "n_selected", "selection_s")


def history_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        # sub-phase timers (e.g. selection/drop) may first appear in a later epoch
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, restval=0.0, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def write_run_outputs(out_dir: str | Path, history: list[dict], metrics: dict) -> None:
    """history first, metrics.json last: metrics.json existing means the run finished."""
    out_dir = Path(out_dir)
    write_text(out_dir / "history.csv", history_csv(history))
    write_json(out_dir / "metrics.json", metrics)


def selections_csv(records: list[SelectionRecord]) -> str:
    """One row per selection: the generic columns, then the method's own columns in the order
    its records first name them (a record without one leaves its cell blank)."""
    own = list(dict.fromkeys(name for r in records for name in r.columns))
    rows = [{"step": r.step, "epoch": r.epoch, "reason": r.reason, "pool_size": r.pool_size,
             "n_selected": len(r.indices), "selection_s": f"{r.seconds:.6f}",
             **{name: column_text(r.columns.get(name)) for name in own}} for r in records]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*SELECTION_COLUMNS, *own], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def column_text(value: ColumnValue) -> str:
    """A method column's cell: blank for None, 6 significant digits for a float, else as is."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_selection_log(out_dir: str | Path, records: list[SelectionRecord]) -> None:
    """selections.csv (one row per selection) and selected.npz (what each selection picked:
    selection s is indices[offsets[s]:offsets[s + 1]], with its weights)."""
    out_dir = Path(out_dir)
    sizes = [len(r.indices) for r in records]
    empty = np.zeros(0)
    save_npz(out_dir / "selected.npz",
             steps=np.array([r.step for r in records], dtype=np.int64),
             offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
             indices=np.concatenate([r.indices.numpy() for r in records] or [empty]).astype(
                 np.int64),
             weights=np.concatenate([r.weights.numpy() for r in records] or [empty]).astype(
                 np.float32))
    write_text(out_dir / "selections.csv", selections_csv(records))
