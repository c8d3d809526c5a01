"""The select job: scores (or embeddings) -> sorted subset indices, timed, with a JSON record."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...atomic import read_npy, save_npy, write_json
from ...errors import UserError
from ...implementations import implementation
from ...methods import METHODS
from .quotas import check_fraction, check_inputs


def load_values(path: str | Path, n_train: int, *, embeddings: bool) -> np.ndarray:
    """A mean score file (N,) or the proxy's embeddings (N, d), checked against N."""
    if embeddings:
        values = read_npy(path, what="embeddings file", rule="train_proxy")
        ok = values.ndim == 2 and len(values) == n_train
    else:
        values = read_npy(path, what="score file", rule="mean_scores")
        ok = values.shape == (n_train,)
    if not ok:
        expected = f"({n_train}, d)" if embeddings else f"({n_train},)"
        raise UserError(f"{path} has shape {values.shape}, expected {expected} to match the "
                        f"training set; rebuild it with snakemake --forcerun {path}")
    return values


def select_subset(method: str, values: np.ndarray | None, labels: np.ndarray, fraction: float,
                  rng: np.random.Generator, **options) -> np.ndarray:
    """Run static method `method`'s selector with its options; sorted int64 indices."""
    spec = METHODS.get(method)
    if spec is None or spec.kind != "static":
        static = [name for name, m in METHODS.items() if m.kind == "static"]
        raise UserError(f"unknown static method {method!r}; choose one of {', '.join(static)}")
    check_fraction(fraction)
    if spec.embeddings:
        labels = check_inputs(None, labels, need_scores=False)[1]
        if values is None or values.ndim != 2 or len(values) != len(labels):
            raise UserError(f"{method} needs an (N, d) embeddings array for the N labels")
    else:
        values, labels = check_inputs(values, labels, need_scores=spec.needs_proxy)
    select, _ = implementation(spec)
    options.pop("score", None)  # which score file to read: the workflow's business
    return select(values, labels, fraction, rng, **options)


def run_selection(*, labels_path, method: str, fraction: float, seed: int, out,
                  values_path=None, options: dict | None = None) -> dict:
    """Select, write `out` (.npy indices) and `out` with .json (size, per-class counts, seconds)."""
    labels = np.load(labels_path, allow_pickle=False)
    embeddings = METHODS[method].embeddings if method in METHODS else False
    values = load_values(values_path, len(labels), embeddings=embeddings) if values_path else None
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    indices = select_subset(method, values, labels, fraction, rng, **dict(options or {}))
    seconds = time.perf_counter() - start
    classes, counts = np.unique(labels[indices], return_counts=True)
    record = {
        "method": method, "fraction": fraction, "seed": seed, "options": options or {},
        "values": str(values_path) if values_path else None, "n_selected": int(len(indices)),
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
