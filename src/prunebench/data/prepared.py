"""The prepared format every training job reads: four .npy arrays and meta.json.

`train_x.npy`/`test_x.npy` hold uint8 NCHW images (or float32 N x C x L signals for 1-D
data), `train_y.npy`/`test_y.npy` int64 labels; meta.json records shapes, dtypes, class names,
normalisation and a sha256 per file, so a truncated or swapped file is caught before training.
A dataset prepared with label noise also holds `train_y_clean.npy` (the labels before
flipping) and `train_noisy.npy` (bool, True where the label was flipped) beside `train_y.npy`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import save_npy, write_json
from ..errors import UserError

FORMAT_VERSION = 1
ARRAYS = ("train_x", "train_y", "test_x", "test_y")
NOISE_ARRAYS = ("train_y_clean", "train_noisy")  # only with the label_noise option
REBUILD = "rebuild it with: snakemake --forcerun prepare_dataset {meta}"


@dataclass(frozen=True)
class Prepared:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    meta: dict


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def channel_stats(x: np.ndarray, kind: str) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the inputs as the model sees them (images scaled to [0, 1])."""
    values = x.astype(np.float64) / 255.0 if kind == "image" else x.astype(np.float64)
    axes = tuple(i for i in range(values.ndim) if i != 1)
    return values.mean(axis=axes).tolist(), values.std(axis=axes).tolist()


def write_prepared(out_dir, arrays: dict[str, np.ndarray], meta: dict) -> dict:
    """Write the four arrays (and the label-noise ones when given), then meta.json (last, so its
    presence means the set is complete)."""
    out_dir = Path(out_dir)
    files = {}
    for name in (*ARRAYS, *(n for n in NOISE_ARRAYS if n in arrays)):
        path = out_dir / f"{name}.npy"
        save_npy(path, arrays[name])
        files[f"{name}.npy"] = {
            "sha256": sha256_of(path),
            "shape": list(arrays[name].shape),
            "dtype": str(arrays[name].dtype),
        }
    full_meta = {
        **meta,
        "format_version": FORMAT_VERSION,
        "n_train": int(len(arrays["train_y"])),
        "n_test": int(len(arrays["test_y"])),
        "files": files,
    }
    write_json(out_dir / "meta.json", full_meta)
    return full_meta


def read_meta(data_dir) -> dict:
    meta_path = Path(data_dir) / "meta.json"
    rebuild = REBUILD.format(meta=meta_path)
    if not meta_path.exists():
        raise UserError(f"prepared dataset file {meta_path} is missing; {rebuild}")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"prepared dataset file {meta_path} is corrupt ({exc}); {rebuild}") from exc
    if meta.get("format_version") != FORMAT_VERSION or "files" not in meta:
        raise UserError(f"{meta_path} is from another prunebench format version; {rebuild}")
    return meta


def load_prepared(data_dir, verify: bool = True) -> Prepared:
    """Read a prepared dataset, checking every file against meta.json."""
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    return Prepared(**_load_arrays(data_dir, meta, ARRAYS, verify), meta=meta)


def load_label_noise(data_dir, verify: bool = True) -> dict[str, np.ndarray] | None:
    """{"train_y_clean", "train_noisy"} of a dataset prepared with label noise; None without."""
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    if "label_noise" not in meta:
        return None
    return _load_arrays(data_dir, meta, NOISE_ARRAYS, verify)


def _load_arrays(data_dir: Path, meta: dict, names, verify: bool) -> dict[str, np.ndarray]:
    rebuild = REBUILD.format(meta=data_dir / "meta.json")
    arrays = {}
    for name in names:
        path = data_dir / f"{name}.npy"
        expected = meta["files"].get(f"{name}.npy")
        if expected is None:
            raise UserError(f"{data_dir / 'meta.json'} lists no {name}.npy; {rebuild}")
        if not path.exists():
            raise UserError(f"prepared dataset file {path} is missing; {rebuild}")
        if verify and sha256_of(path) != expected["sha256"]:
            raise UserError(f"prepared dataset file {path} is corrupt (checksum mismatch); "
                            f"{rebuild}")
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"prepared dataset file {path} cannot be read ({exc}); "
                            f"{rebuild}") from exc
        if list(array.shape) != expected["shape"] or str(array.dtype) != expected["dtype"]:
            raise UserError(f"prepared dataset file {path} has shape {list(array.shape)} "
                            f"{array.dtype}, meta.json says {expected['shape']} "
                            f"{expected['dtype']}; {rebuild}")
        arrays[name] = array
    return arrays
