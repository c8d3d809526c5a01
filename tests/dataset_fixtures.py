"""Tiny copies of the real datasets' on-disk formats, written the way the originals are.

- CIFAR: the python pickles (protocol 2, str keys, `data` uint8 (N, 3072) as R, G, B planes),
  in the folder and file names torchvision expects, and their .tar.gz.
- TinyImageNet: the tiny-imagenet-200 tree with real JPEG files, one of them grayscale.
- SNLI: the official JSONL records, and the Hugging Face parquet layout of `stanfordnlp/snli`.
Each writer returns what the preparation code should read back.
"""

from __future__ import annotations

import json
import pickle
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from prunebench.data import cifar
from prunebench.data.resources import md5_of

CIFAR_CLASS_NAMES = {
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
    "cifar100": [f"fine_class_{k}" for k in range(100)],
}


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def write_cifar(resources: Path, dataset: str, *, per_batch: int = 4, n_test: int = 6,
                seed: int = 0) -> dict[str, np.ndarray]:
    """A CIFAR-10 (5 train batches + test_batch + batches.meta) or CIFAR-100 (train + test +
    meta) folder under `resources`; returns the NCHW images and labels written."""
    layout = cifar.cifar_layout(dataset)
    folder = resources / layout.folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = CIFAR_CLASS_NAMES[dataset]
    written = {"train_x": [], "train_y": [], "test_x": [], "test_y": []}
    batches = [("train", name, per_batch) for name, _ in layout.train_files]
    batches += [("test", name, n_test) for name, _ in layout.test_files]
    if dataset == "cifar100":  # one big train file
        batches[0] = ("train", batches[0][1], per_batch * 5)
    for split, name, n in batches:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, len(classes), size=n).tolist()
        entry = {"batch_label": f"fixture batch {name}", "data": images.reshape(n, 3072),
                 "filenames": [f"img_{name}_{i}.png" for i in range(n)],
                 layout.label_key: labels}
        if dataset == "cifar100":
            entry["coarse_labels"] = [label // 5 for label in labels]
        _dump(folder / name, entry)
        written[f"{split}_x"].append(images)
        written[f"{split}_y"].append(np.asarray(labels, dtype=np.int64))
    if dataset == "cifar10":
        meta = {"num_cases_per_batch": per_batch, "label_names": classes, "num_vis": 3072}
    else:
        meta = {"fine_label_names": classes,
                "coarse_label_names": [f"coarse_{k}" for k in range(20)]}
    _dump(folder / layout.meta_file[0], meta)
    return {key: np.concatenate(parts) for key, parts in written.items()}


def fixture_layout(dataset: str, resources: Path) -> cifar.CifarLayout:
    """torchvision's layout with the md5 sums of the fixture files (and archive, if any)."""
    layout = cifar.cifar_layout(dataset)
    folder = resources / layout.folder

    def sums(files):
        return tuple((name, md5_of(folder / name) if (folder / name).exists() else md5)
                     for name, md5 in files)

    archive = resources / layout.archive
    return replace(layout, train_files=sums(layout.train_files),
                   test_files=sums(layout.test_files), meta_file=sums([layout.meta_file])[0],
                   archive_md5=md5_of(archive) if archive.exists() else layout.archive_md5)


def pack_cifar_archive(resources: Path, dataset: str) -> Path:
    """cifar-*-python.tar.gz holding the folder, as the official download does; the folder
    itself is removed so only the archive is left."""
    layout = cifar.cifar_layout(dataset)
    archive = resources / layout.archive
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(resources / layout.folder, arcname=layout.folder)
    for path in (resources / layout.folder).iterdir():
        path.unlink()
    (resources / layout.folder).rmdir()
    return archive


def _smooth_image(rng, gray: bool = False) -> np.ndarray:
    """A low-frequency 64x64 image (HWC, or HW if gray): JPEG keeps it within a few levels."""
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    channels = 1 if gray else 3
    planes = []
    for _ in range(channels):
        a, b, c = rng.uniform(20, 100, size=3)
        planes.append(a + b * xx + c * yy * xx)
    image = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return image[..., 0] if gray else image


def write_tinyimagenet(resources: Path, *, wnids=("n01443537", "n01629819", "n01641577"),
                       per_class: int = 3, n_val: int = 5, seed: int = 0) -> dict:
    """A tiny-imagenet-200 tree; returns the written HWC arrays per file and the val labels."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = resources / "tiny-imagenet-200"
    (root / "val" / "images").mkdir(parents=True, exist_ok=True)
    # wnids.txt is not sorted in the release; the class order is the sorted one
    (root / "wnids.txt").write_text("\n".join(reversed(wnids)) + "\n")
    words = {"n01443537": "goldfish, Carassius auratus", "n01629819": "European fire salamander",
             "n01641577": "bullfrog, Rana catesbeiana", "n99999999": "not in this release"}
    (root / "words.txt").write_text("".join(f"{w}\t{name}\n" for w, name in words.items()))
    pixels = {}
    for wnid in wnids:
        folder = root / "train" / wnid / "images"
        folder.mkdir(parents=True)
        boxes = []
        for i in range(per_class):
            gray = wnid == wnids[0] and i == 1
            image = _smooth_image(rng, gray=gray)
            path = folder / f"{wnid}_{i}.JPEG"
            Image.fromarray(image, mode="L" if gray else "RGB").save(path, "JPEG", quality=95)
            pixels[path] = image
            boxes.append(f"{wnid}_{i}.JPEG\t0\t0\t63\t63")
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("\n".join(boxes) + "\n")
    lines, val_wnids = [], []
    for i in range(n_val):
        wnid = wnids[i % len(wnids)]
        image = _smooth_image(rng)
        path = root / "val" / "images" / f"val_{i}.JPEG"
        Image.fromarray(image).save(path, "JPEG", quality=95)
        pixels[path] = image
        lines.append(f"val_{i}.JPEG\t{wnid}\t{i}\t{i + 1}\t{40 + i}\t{50 + i}")
        val_wnids.append(wnid)
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return {"root": root, "pixels": pixels, "val_wnids": val_wnids, "wnids": sorted(wnids)}


SUBJECTS = ["A man", "A woman", "Two dogs", "A child", "The old musician", "Three girls"]
ACTIONS = ["is playing a guitar", "runs across the park", "sits on a bench",
           "is eating an apple", "rides a red bicycle", "sleeps in the sun"]
PLACES = ["outside", "in the city", "near the river", "at the beach", "indoors", "at night"]
GOLD = ["entailment", "neutral", "contradiction"]


def snli_records(n: int, *, seed: int = 0, unlabelled_every: int = 7) -> list[dict]:
    """SNLI-style records; every `unlabelled_every`-th has gold_label '-' (no majority)."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        subject, action = rng.choice(SUBJECTS), rng.choice(ACTIONS)
        place = rng.choice(PLACES)
        gold = GOLD[i % 3]
        premise = f"{subject} {action} {place}."
        if gold == "entailment":
            hypothesis = f"{subject} {action}."
        elif gold == "neutral":
            hypothesis = f"{subject} {action} with a friend {place}."
        else:
            hypothesis = f"{subject} {rng.choice([a for a in ACTIONS if a != action])}."
        if unlabelled_every and i % unlabelled_every == unlabelled_every - 1:
            gold = "-"
        records.append({
            "annotator_labels": [gold if gold != "-" else "neutral"],
            "captionID": f"{i}.jpg#0", "gold_label": gold, "pairID": f"{i}.jpg#0r1",
            "sentence1": premise, "sentence2": hypothesis,
            "sentence1_binary_parse": "( x )", "sentence2_binary_parse": "( x )",
        })
    return records


def write_snli_jsonl(folder: Path, *, n_train: int = 60, n_test: int = 21, seed: int = 0,
                     unlabelled_every: int = 7) -> dict[str, list[dict]]:
    """snli_1.0_{train,dev,test}.jsonl in `folder`; returns the records of each split."""
    folder.mkdir(parents=True, exist_ok=True)
    splits = {split: snli_records(n, seed=seed + k, unlabelled_every=unlabelled_every)
              for k, (split, n) in enumerate([("train", n_train), ("dev", 9), ("test", n_test)])}
    for split, records in splits.items():
        text = "".join(json.dumps(record) + "\n" for record in records)
        (folder / f"snli_1.0_{split}.jsonl").write_text(text)
    return splits


def write_snli_parquet(folder: Path, *, n_train: int = 30, n_test: int = 12) -> dict:
    """The Hub repository layout of stanfordnlp/snli (plain_text/<split>-00000-of-00001.parquet,
    columns premise, hypothesis, label with -1 for no majority)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "plain_text").mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, seed in (("train", n_train, 3), ("validation", 6, 4), ("test", n_test, 5)):
        records = snli_records(n, seed=seed, unlabelled_every=5)
        labels = [GOLD.index(r["gold_label"]) if r["gold_label"] != "-" else -1 for r in records]
        table = pa.table({"premise": [r["sentence1"] for r in records],
                          "hypothesis": [r["sentence2"] for r in records],
                          "label": pa.array(labels, type=pa.int64())})
        pq.write_table(table, folder / "plain_text" / f"{split}-00000-of-00001.parquet")
        out[split] = labels
    return out
