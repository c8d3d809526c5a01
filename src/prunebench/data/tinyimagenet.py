"""TinyImageNet (the CS231n release): 200 classes of 64 x 64 JPEGs, read from the official layout.

    tiny-imagenet-200/wnids.txt                 the 200 WordNet ids, one a line
    tiny-imagenet-200/words.txt                 wnid <TAB> human-readable names
    tiny-imagenet-200/train/<wnid>/images/*.JPEG   500 per class
    tiny-imagenet-200/val/images/*.JPEG          10,000, labelled by
    tiny-imagenet-200/val/val_annotations.txt    file <TAB> wnid <TAB> x0 <TAB> y0 <TAB> x1 <TAB> y1

The official validation split is our test split (the test images have no labels). Class k is
the k-th wnid in sorted order (torchvision's ImageFolder order). A few JPEGs are grayscale;
every image is converted to RGB, then stored uint8 N x 3 x 64 x 64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .resources import extract, fetch_archive

URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
ARCHIVE = "tiny-imagenet-200.zip"
FOLDER = "tiny-imagenet-200"
SIZE = 64
OPTIONS = {"download": True}


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"{path} is missing; the TinyImageNet folder is incomplete - delete it "
                        f"and run again to unpack {ARCHIVE} anew")
    return [line.rstrip("\r\n") for line in path.read_text().splitlines() if line.strip()]


def read_class_ids(root: Path) -> list[str]:
    """The wnids of wnids.txt, sorted (ImageFolder's class order)."""
    wnids = sorted({line.strip() for line in _read_lines(root / "wnids.txt")})
    if not wnids:
        raise UserError(f"{root / 'wnids.txt'} lists no classes")
    return wnids


def read_class_names(root: Path, wnids: list[str]) -> list[str]:
    """Each wnid's names from words.txt ("goldfish, Carassius auratus"); the wnid if absent."""
    names = {}
    for line in _read_lines(root / "words.txt"):
        wnid, _, words = line.partition("\t")
        names[wnid.strip()] = words.strip()
    return [names.get(wnid) or wnid for wnid in wnids]


def read_image(path: Path) -> np.ndarray:
    """One JPEG as uint8 (3, 64, 64), grayscale and CMYK converted to RGB."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path} is not a readable image ({exc}); delete the TinyImageNet "
                        f"folder and run again to unpack {ARCHIVE} anew") from exc
    if rgb.size != (SIZE, SIZE):
        raise UserError(f"{path} is {rgb.size[0]}x{rgb.size[1]}, but every TinyImageNet image "
                        f"is {SIZE}x{SIZE}; the folder is not the official release")
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def read_images(paths: list[Path]) -> np.ndarray:
    images = np.empty((len(paths), 3, SIZE, SIZE), dtype=np.uint8)
    for i, path in enumerate(paths):
        images[i] = read_image(path)
    return images


def train_files(root: Path, wnids: list[str]) -> tuple[list[Path], np.ndarray]:
    """train/<wnid>/images/*.JPEG, class by class, files in name order."""
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        folder = root / "train" / wnid / "images"
        files = sorted(folder.glob("*.JPEG"))
        if not files:
            raise UserError(f"{folder} holds no .JPEG images; the TinyImageNet folder is "
                            f"incomplete - delete it and run again to unpack {ARCHIVE} anew")
        paths += files
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def val_files(root: Path, wnids: list[str]) -> tuple[list[Path], np.ndarray]:
    """val/images/* labelled by val/val_annotations.txt, in the annotation file's order."""
    annotations = root / "val" / "val_annotations.txt"
    index = {wnid: k for k, wnid in enumerate(wnids)}
    paths, labels = [], []
    for number, line in enumerate(_read_lines(annotations), start=1):
        fields = line.split("\t")
        if len(fields) < 2:
            raise UserError(f"{annotations} line {number} has no tab-separated file and wnid: "
                            f"{line!r}")
        name, wnid = fields[0].strip(), fields[1].strip()
        if wnid not in index:
            raise UserError(f"{annotations} line {number}: wnid {wnid!r} is not in wnids.txt")
        path = root / "val" / "images" / name
        if not path.is_file():
            raise UserError(f"{path}, listed in {annotations} line {number}, is missing")
        paths.append(path)
        labels.append(index[wnid])
    if not paths:
        raise UserError(f"{annotations} lists no images")
    return paths, np.asarray(labels, dtype=np.int64)


def ensure_tinyimagenet(resources_dir: Path, download_allowed: bool) -> Path:
    """The unpacked tiny-imagenet-200 folder, unpacking (and first downloading) the zip."""
    root = resources_dir / FOLDER
    if (root / "wnids.txt").is_file():
        return root
    archive = resources_dir / ARCHIVE
    fetch_archive(url=URL, archive=archive, md5=None, download_allowed=download_allowed,
                  manual_hint=f"put the unpacked folder there instead: {root.resolve()}/ with "
                              "wnids.txt, words.txt, train/ and val/")
    extract(archive, resources_dir)
    if not (root / "wnids.txt").is_file():
        raise UserError(f"{archive} unpacked without {FOLDER}/wnids.txt; it is not the official "
                        f"archive - delete it and download {URL} again")
    return root


def load_tinyimagenet_arrays(options: dict,
                             resources_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """100,000 training and 10,000 test (official validation) images of 200 classes."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise UserError(f"config: dataset 'tinyimagenet' has no option {sorted(unknown)[0]!r}; "
                        f"allowed: {', '.join(OPTIONS)}")
    settings = {**OPTIONS, **options}
    root = ensure_tinyimagenet(Path(resources_dir), bool(settings["download"]))
    wnids = read_class_ids(root)
    classes = read_class_names(root, wnids)
    train_paths, train_y = train_files(root, wnids)
    test_paths, test_y = val_files(root, wnids)
    arrays = {"train_x": read_images(train_paths), "train_y": train_y,
              "test_x": read_images(test_paths), "test_y": test_y}
    meta = {
        "kind": "image",
        "shape": [3, SIZE, SIZE],
        "classes": classes,
        "wnids": wnids,
        "source": f"TinyImageNet ({URL}); test split = the official validation split",
        "options": settings,
    }
    return arrays, meta
