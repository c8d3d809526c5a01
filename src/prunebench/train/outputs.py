"""A run's files: history.csv (one row per epoch) and metrics.json, written atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..atomic import write_json, write_text


def history_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def write_run_outputs(out_dir: str | Path, history: list[dict], metrics: dict) -> None:
    """history first, metrics.json last: metrics.json existing means the run finished."""
    out_dir = Path(out_dir)
    write_text(out_dir / "history.csv", history_csv(history))
    write_json(out_dir / "metrics.json", metrics)
