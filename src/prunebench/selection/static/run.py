"""The select job: scores (or embeddings) -> sorted subset indices, timed, with a JSON record.

Every static selector has one signature, `select(values, labels, fraction, rng, options)`,
where `options` is an instance of its options dataclass (METHODS names both); the dataclass
is the one declaration of the options, their defaults and bounds. An option a selector does
not read (CCS's `score`: which score file the workflow hands it) is simply not read.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ...atomic import read_npy, save_npy, write_json
from ...errors import UserError
from ...implementations import implementation
from ...jobspec import SelectSpec
from ...methods import METHODS
from ...options import build_options
from .common import check_fraction, check_inputs


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
    """Run static method `method`'s selector with its options (by name, as the config writes
    them; built into its options dataclass, unknown names refused): sorted int64 indices."""
    entry = METHODS.get(method)
    if entry is None or entry.kind != "static":
        static = [name for name, m in METHODS.items() if m.kind == "static"]
        raise UserError(f"unknown static method {method!r}; choose one of {', '.join(static)}")
    check_fraction(fraction)
    if entry.embeddings:
        labels = check_inputs(None, labels, need_scores=False)[1]
        if values is None or values.ndim != 2 or len(values) != len(labels):
            raise UserError(f"{method} needs an (N, d) embeddings array for the N labels")
    else:
        values, labels = check_inputs(values, labels, need_scores=entry.needs_proxy)
    select, options_class = implementation(entry)
    return select(values, labels, fraction, rng,
                  build_options(options_class, options, what=f"selector {method!r}"))


def run_selection(job: SelectSpec, *, labels_path, seed: int, out, values_path=None) -> dict:
    """Select, write `out` (.npy indices) and `out` with .json (size, per-class counts, seconds)."""
    labels = np.load(labels_path, allow_pickle=False)
    method = job.base_method
    embeddings = METHODS[method].embeddings if method in METHODS else False
    values = load_values(values_path, len(labels), embeddings=embeddings) if values_path else None
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    indices = select_subset(method, values, labels, job.fraction, rng, **job.options)
    seconds = time.perf_counter() - start
    classes, counts = np.unique(labels[indices], return_counts=True)
    record = {
        "method": method, "fraction": job.fraction, "seed": seed, "options": job.options,
        "values": str(values_path) if values_path else None, "n_selected": int(len(indices)),
        "n_train": int(len(labels)),
        "class_counts": {str(c): int(k) for c, k in zip(classes, counts, strict=True)},
        "selection_s": round(seconds, 6),
    }
    out = Path(out)
    save_npy(out, indices.astype(np.int64))
    write_json(out.with_suffix(".json"), record)
    return record
