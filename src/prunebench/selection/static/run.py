"""The select job: scores file -> sorted subset indices, timed, with a small JSON record."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...atomic import read_npy, save_npy, write_json
from ...errors import UserError
from . import select_subset


def load_scores(path: str | Path, n_train: int) -> np.ndarray:
    scores = read_npy(path, what="score file", rule="mean_scores")
    if scores.shape != (n_train,):
        raise UserError(f"score file {path} has shape {scores.shape}, expected ({n_train},) to "
                        f"match the training set; rebuild it with snakemake --forcerun "
                        f"mean_scores {path}")
    return scores


def run_selection(*, labels_path, selector: str, fraction: float, seed: int, out,
                  scores_path=None, options: dict | None = None) -> dict:
    """Select, write `out` (.npy indices) and `out` with .json (size, per-class counts, seconds)."""
    labels = np.load(labels_path, allow_pickle=False)
    scores = load_scores(scores_path, len(labels)) if scores_path else None
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    indices = select_subset(selector, scores, labels, fraction, rng, **(options or {}))
    seconds = time.perf_counter() - start
    classes, counts = np.unique(labels[indices], return_counts=True)
    record = {
        "selector": selector, "fraction": fraction, "seed": seed, "options": options or {},
        "scores": str(scores_path) if scores_path else None, "n_selected": int(len(indices)),
        "n_train": int(len(labels)),
        "class_counts": {str(c): int(k) for c, k in zip(classes, counts, strict=True)},
        "selection_s": round(seconds, 6),
    }
    out = Path(out)
    save_npy(out, indices.astype(np.int64))
    write_json(out.with_suffix(".json"), record)
    return record


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
