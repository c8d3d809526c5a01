"""DATASETS: name -> function returning (arrays, meta) in the prepared format.

Embedded sources take `(options)`; sources read from raw files (DOWNLOADED) take
`(options, resources_dir)`, the folder their downloads live in (default resources/<name>).
The `label_noise` option is every source's: it is applied here, once, after the source's
loader, to the training labels only (prunebench.label_noise).
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_text
from ..errors import UserError
from ..label_noise import OPTION as LABEL_NOISE
from ..label_noise import flip_labels, noise_settings
from .cifar import load_cifar10_arrays, load_cifar100_arrays
from .digits import load_digits_arrays
from .mnist1d import load_mnist1d_arrays
from .prepared import Prepared, channel_stats, load_prepared, sha256_of, write_prepared
from .resources import default_resources_dir
from .snli import load_snli_arrays
from .tinyimagenet import load_tinyimagenet_arrays

DATASETS = {
    "digits": load_digits_arrays,
    "mnist1d": load_mnist1d_arrays,
    "cifar10": load_cifar10_arrays,
    "cifar100": load_cifar100_arrays,
    "tinyimagenet": load_tinyimagenet_arrays,
    "snli": load_snli_arrays,
}
DOWNLOADED = {"cifar10", "cifar100", "tinyimagenet", "snli"}


def prepare_dataset(name: str, options: dict, out_dir: str | Path,
                    resources_dir: str | Path | None = None) -> dict:
    """Build dataset `name` in the prepared format; returns meta.json's content."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    noise = noise_settings(options)
    source_options = {k: v for k, v in options.items() if k != LABEL_NOISE}
    if name in DOWNLOADED:
        resources = Path(resources_dir) if resources_dir else default_resources_dir(name)
        arrays, meta = DATASETS[name](source_options, resources)
    else:
        arrays, meta = DATASETS[name](source_options)
    if noise is not None:
        meta["label_noise"] = add_label_noise(arrays, len(meta["classes"]), noise)
    if meta["kind"] == "text":
        # token ids are never scaled: normalisation is the identity (TensorData.normalize)
        channels = meta["shape"][0]
        mean, std = [0.0] * channels, [1.0] * channels
    else:
        mean, std = channel_stats(arrays["train_x"], meta["kind"])
    # files beside the arrays (a trained tokenizer), written first and checksummed in meta.json
    extra = {}
    for file_name, text in meta.pop("extra_files", {}).items():
        path = Path(out_dir) / file_name
        write_text(path, text)
        extra[file_name] = {"sha256": sha256_of(path)}
    meta = {"name": name, **meta, "num_classes": len(meta["classes"]), "mean": mean, "std": std}
    if extra:
        meta["extra_files"] = extra
    return write_prepared(out_dir, arrays, meta)


def add_label_noise(arrays: dict, num_classes: int, noise: dict) -> dict:
    """Flip the training labels in `arrays` (the clean ones and the mask kept beside them);
    returns what meta.json records: the settings and the flip counts."""
    try:
        flipped = flip_labels(arrays["train_y"], num_classes, **noise)
    except (ValueError, TypeError) as exc:  # e.g. no rate, when called without the config
        raise UserError(f"config: dataset option label_noise: {exc}") from exc
    arrays["train_y_clean"] = arrays["train_y"]
    arrays["train_y"] = flipped.labels
    arrays["train_noisy"] = flipped.noisy
    return {**noise, "flips": int(flipped.noisy.sum()),
            "flips_per_class": flipped.flips_per_class}


__all__ = ["DATASETS", "Prepared", "load_prepared", "prepare_dataset"]
