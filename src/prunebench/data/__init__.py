"""DATASETS: name -> function(options) returning (arrays, meta) in the prepared format."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .digits import load_digits_arrays
from .mnist1d import load_mnist1d_arrays
from .prepared import Prepared, channel_stats, load_prepared, write_prepared

DATASETS = {
    "digits": load_digits_arrays,
    "mnist1d": load_mnist1d_arrays,
}


def prepare_dataset(name: str, options: dict, out_dir: str | Path) -> dict:
    """Build dataset `name` in the prepared format; returns meta.json's content."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    arrays, meta = DATASETS[name](dict(options))
    mean, std = channel_stats(arrays["train_x"], meta["kind"])
    meta = {"name": name, **meta, "num_classes": len(meta["classes"]), "mean": mean, "std": std}
    return write_prepared(out_dir, arrays, meta)


__all__ = ["DATASETS", "Prepared", "load_prepared", "prepare_dataset"]
