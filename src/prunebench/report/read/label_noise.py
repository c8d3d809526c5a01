"""The mask of flipped labels of a dataset prepared with label noise (train_noisy.npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...atomic import read_npy
from ...errors import UserError


def read_noise_mask(path: str | Path) -> np.ndarray | None:
    """train_noisy.npy as a bool array; None when the file is absent."""
    if not Path(path).exists():
        return None
    mask = read_npy(path, what="label-noise mask", rule="prepare_noisy_dataset")
    if mask.dtype != np.bool_ or mask.ndim != 1:
        raise UserError(f"label-noise mask {path} is not a bool vector; rebuild it with "
                        f"snakemake --forcerun prepare_noisy_dataset {path}")
    return mask

