"""The proxy runs' mean score files (one float per training example), for the datasets and
scores whose file exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...atomic import read_npy
from ...errors import UserError


def read_scores(paths: dict[tuple[str, str], str | Path]) -> dict[str, dict[str, np.ndarray]]:
    """dataset -> score name -> float64 array, for the (dataset, score) files that exist."""
    found: dict[str, dict[str, np.ndarray]] = {}
    for (dataset, score), path in paths.items():
        if not Path(path).exists():
            continue
        array = read_npy(path, what="score file", rule="mean_scores")
        if array.ndim != 1:
            raise UserError(f"score file {path} has shape {array.shape}, expected one value per "
                            "training example; rebuild it with snakemake --forcerun mean_scores")
        found.setdefault(dataset, {})[score] = array.astype(np.float64)
    return found
