"""CIFAR-10 and CIFAR-100 from the official python pickles (the files torchvision downloads).

File names, URLs and md5 sums are torchvision's own lists (`torchvision.datasets.CIFAR10`,
`CIFAR100`); every file is checked against them before it is unpickled. The pickles are read
as torchvision reads them (`pickle.load(f, encoding="latin1")`), through an unpickler that
only builds numpy arrays, so a foreign file cannot run code. Images stay uint8 N x 3 x 32 x 32
(the files store each image as 3,072 bytes: the red, green and blue 32 x 32 planes in turn).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .resources import extract, fetch_archive, md5_of

OPTIONS = {"download": True}


@dataclass(frozen=True)
class CifarLayout:
    """Where a CIFAR variant's files are and what they must hash to."""

    title: str
    folder: str  # the folder the archive unpacks to, inside resources/<dataset>/
    url: str
    archive: str
    archive_md5: str
    train_files: tuple[tuple[str, str], ...]  # (file name, md5)
    test_files: tuple[tuple[str, str], ...]
    meta_file: tuple[str, str]
    label_key: str  # labels inside each batch
    names_key: str  # class names inside the meta file


def _layout(cls, title: str, label_key: str) -> CifarLayout:
    return CifarLayout(
        title=title, folder=cls.base_folder, url=cls.url, archive=cls.filename,
        archive_md5=cls.tgz_md5,
        train_files=tuple((name, md5) for name, md5 in cls.train_list),
        test_files=tuple((name, md5) for name, md5 in cls.test_list),
        meta_file=(cls.meta["filename"], cls.meta["md5"]), label_key=label_key,
        names_key=cls.meta["key"],
    )


def cifar_layout(dataset: str) -> CifarLayout:
    """torchvision's file list for `dataset` (imported here, so `prunebench.data` stays light)."""
    from torchvision.datasets import CIFAR10, CIFAR100

    if dataset == "cifar10":
        return _layout(CIFAR10, "CIFAR-10", "labels")
    return _layout(CIFAR100, "CIFAR-100", "fine_labels")

# What the official pickles contain: numpy arrays (ndarray, dtype) and, in files written by
# Python 3 at protocol 2, bytes encoded through _codecs.encode. Nothing else may be built.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR file "
                                         "never does")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict:
    """One CIFAR pickle as a dict with str keys; a damaged file is a UserError naming it."""
    try:
        with open(path, "rb") as fh:
            entry = _ArrayUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError) as exc:
        raise UserError(f"{path} is not a readable CIFAR pickle ({type(exc).__name__}: {exc}); "
                        "delete it and run again to download it anew") from exc
    if not isinstance(entry, dict):
        raise UserError(f"{path} holds a {type(entry).__name__}, not the CIFAR dict of data "
                        "and labels; delete it and run again")
    return entry


def _files_present(folder: Path, layout: CifarLayout) -> bool:
    names = [name for name, _ in (*layout.train_files, *layout.test_files, layout.meta_file)]
    return all((folder / name).is_file() for name in names)


def _manual_hint(folder: Path, layout: CifarLayout) -> str:
    names = [name for name, _ in (*layout.train_files, *layout.test_files, layout.meta_file)]
    return (f"put the unpacked folder there instead: {folder.resolve()}/ with "
            f"{', '.join(names)}")


def ensure_cifar_files(resources_dir: Path, layout: CifarLayout, download_allowed: bool) -> Path:
    """The folder holding the unpacked pickles, unpacking (and first downloading) the archive
    when they are missing."""
    folder = resources_dir / layout.folder
    if not _files_present(folder, layout):
        archive = resources_dir / layout.archive
        fetch_archive(url=layout.url, archive=archive, md5=layout.archive_md5,
                      download_allowed=download_allowed,
                      manual_hint=_manual_hint(folder, layout))
        extract(archive, resources_dir)
        if not _files_present(folder, layout):
            raise UserError(f"{archive} unpacked without the expected files; "
                            f"{_manual_hint(folder, layout)}")
    return folder


def verify_md5(folder: Path, files) -> None:
    for name, expected in files:
        path = folder / name
        if md5_of(path) != expected:
            raise UserError(f"{path} does not match torchvision's md5 {expected}: it is "
                            "damaged or not the official file; delete the folder and run "
                            "again to download the dataset anew")


def read_batches(folder: Path, files, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) from the listed batch files."""
    images, labels = [], []
    for name, _ in files:
        path = folder / name
        entry = read_pickle(path)
        if "data" not in entry or label_key not in entry:
            raise UserError(f"{path} lacks the key 'data' or '{label_key}' "
                            f"(it has {sorted(entry)}); it is not a CIFAR batch of this variant")
        data = np.asarray(entry["data"])
        batch_labels = np.asarray(entry[label_key], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise UserError(f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 "
                            "(N, 3072); the file is not an official CIFAR batch")
        if len(batch_labels) != len(data):
            raise UserError(f"{path}: {len(data)} images but {len(batch_labels)} labels")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def read_class_names(folder: Path, layout: CifarLayout) -> list[str]:
    path = folder / layout.meta_file[0]
    entry = read_pickle(path)
    if layout.names_key not in entry:
        raise UserError(f"{path} lacks the key '{layout.names_key}' (it has {sorted(entry)})")
    return [str(name) for name in entry[layout.names_key]]


def load_cifar_arrays(dataset: str, options: dict,
                      resources_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The official train (50,000) and test (10,000) splits of `dataset` (cifar10, cifar100)."""
    layout = cifar_layout(dataset)
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise UserError(f"config: dataset '{dataset}' has no option {sorted(unknown)[0]!r}; "
                        f"allowed: {', '.join(OPTIONS)}")
    settings = {**OPTIONS, **options}
    folder = ensure_cifar_files(Path(resources_dir), layout, bool(settings["download"]))
    verify_md5(folder, (*layout.train_files, *layout.test_files, layout.meta_file))
    train_x, train_y = read_batches(folder, layout.train_files, layout.label_key)
    test_x, test_y = read_batches(folder, layout.test_files, layout.label_key)
    classes = read_class_names(folder, layout)
    for split, labels in (("train", train_y), ("test", test_y)):
        if labels.min() < 0 or labels.max() >= len(classes):
            raise UserError(f"{folder}: a {split} label lies outside 0..{len(classes) - 1} "
                            f"(the {len(classes)} classes in {layout.meta_file[0]})")
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
    meta = {
        "kind": "image",
        "shape": [3, 32, 32],
        "classes": classes,
        "source": f"{layout.title} python version ({layout.url}), md5-checked against "
                  "torchvision's list",
        "raw_md5": {name: md5 for name, md5 in
                    (*layout.train_files, *layout.test_files, layout.meta_file)},
        "options": settings,
        # the train batches in file order, nothing dropped: prepared example i is the
        # dataset's example i (data_batch_1 rows 0-9999, then data_batch_2, ...)
        "train_source_rows": {"rows": int(len(train_y)), "dropped": []},
    }
    return arrays, meta


def load_cifar10_arrays(options: dict, resources_dir: Path):
    """CIFAR-10: 10 classes, labels from each batch's `labels`, names from `batches.meta`."""
    return load_cifar_arrays("cifar10", options, resources_dir)


def load_cifar100_arrays(options: dict, resources_dir: Path):
    """CIFAR-100: the 100 fine classes (`fine_labels`, names from `meta`)."""
    return load_cifar_arrays("cifar100", options, resources_dir)
