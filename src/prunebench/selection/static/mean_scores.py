"""The mean-scores job: per-seed proxy score arrays -> their mean, the file a select job reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...atomic import read_npy, save_npy
from ...errors import UserError


def mean_over_seeds(inputs: list[str | Path], out: str | Path) -> np.ndarray:
    """Average per-seed score arrays (float32, same length) into one score file."""
    arrays = [read_npy(path, what="proxy score file", rule="train_proxy").astype(np.float64)
              for path in inputs]
    if len({a.shape for a in arrays}) != 1:
        raise UserError(f"proxy score files differ in length: {[str(p) for p in inputs]}")
    with np.errstate(invalid="ignore"):
        mean = np.mean(np.stack(arrays), axis=0).astype(np.float32)
    save_npy(out, mean)
    return mean
