"""The selection log a dynamic method's run leaves (selections.csv and selected.npz), and the
prepared training labels its class balance is measured against.

selections.csv is read by column name: the generic columns every dynamic method writes come
first (`GENERIC_COLUMNS`), a method's own columns (CREST: rel_error, check_interval,
num_coresets, curvature_norm) are optional; selected.npz holds the indices each selection
picked (`offsets` into `indices`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import UserError

GENERIC_COLUMNS = ["step", "epoch", "reason", "pool_size", "n_selected", "selection_s"]


def read_selection_log(run_dir: str | Path) -> tuple[pd.DataFrame, list[np.ndarray]] | None:
    """(selections.csv as a frame, the indices each selection picked), or None when the run
    left no selection log (a static method, or a dynamic one that logs nothing)."""
    run_dir = Path(run_dir)
    csv_path, npz_path = run_dir / "selections.csv", run_dir / "selected.npz"
    if not csv_path.exists() or not npz_path.exists():
        return None
    try:
        table = pd.read_csv(csv_path)
        with np.load(npz_path, allow_pickle=False) as npz:
            offsets, indices = npz["offsets"], npz["indices"]
    except pd.errors.EmptyDataError:
        return None
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read {csv_path} / {npz_path} ({exc}); re-run that training "
                        "job (snakemake --forcerun train <its metrics.json>)") from exc
    lacking = [c for c in GENERIC_COLUMNS if c not in table.columns]
    if lacking or len(offsets) != len(table) + 1:
        raise UserError(f"{csv_path} lacks columns {lacking} or disagrees with {npz_path} "
                        f"({len(table)} rows, {len(offsets) - 1} selections); re-run that job")
    picked = [indices[offsets[s]:offsets[s + 1]] for s in range(len(table))]
    return table, picked


def read_labels(data_dir: str | Path | None) -> np.ndarray | None:
    """The prepared training labels (train_y.npy), or None when they are not on disk."""
    if data_dir is None or not (Path(data_dir) / "train_y.npy").exists():
        return None
    return np.load(Path(data_dir) / "train_y.npy", allow_pickle=False)
