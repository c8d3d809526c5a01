"""Prepared format: the embedded sources, checksums, and clear errors for broken files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from prunebench.data import load_prepared, prepare_dataset
from prunebench.data.augment import augment_batch, random_crop
from prunebench.data.prepared import sha256_of
from prunebench.errors import UserError


def test_digits_prepared_format(digits_dir):
    data = load_prepared(digits_dir)
    assert data.train_x.dtype == np.uint8 and data.train_x.shape[1:] == (1, 8, 8)
    assert data.train_y.dtype == np.int64
    assert len(data.train_y) + len(data.test_y) == 1797
    assert len(data.test_y) == 450  # 25% stratified
    # stratified: every class in the test set in proportion (within one example)
    train_share = np.bincount(data.train_y) / len(data.train_y)
    test_share = np.bincount(data.test_y) / len(data.test_y)
    assert np.abs(train_share - test_share).max() < 0.01
    assert data.train_x.max() == 255 and data.train_x.min() == 0
    meta = data.meta
    assert meta["kind"] == "image" and meta["num_classes"] == 10
    assert meta["files"]["train_x.npy"]["sha256"] == sha256_of(digits_dir / "train_x.npy")
    assert len(meta["mean"]) == 1 and 0 < meta["std"][0] < 1


def test_digits_split_is_fixed(digits_dir, tmp_path):
    again = tmp_path / "digits"
    prepare_dataset("digits", {}, again)
    for name in ("train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"):
        assert sha256_of(again / name) == sha256_of(digits_dir / name)


def test_mnist1d_sizes_and_kind(mnist1d_small_dir):
    data = load_prepared(mnist1d_small_dir)
    assert data.train_x.shape == (400, 1, 40) and data.train_x.dtype == np.float32
    assert data.test_x.shape == (100, 1, 40)
    assert data.meta["kind"] == "signal"
    assert set(np.unique(data.train_y)) == set(range(10))


def test_mnist1d_bad_options(tmp_path):
    with pytest.raises(UserError, match="multiple of 10"):
        prepare_dataset("mnist1d", {"train_size": 401, "test_size": 100}, tmp_path / "m")
    with pytest.raises(UserError, match="has no option 'size'"):
        prepare_dataset("mnist1d", {"size": 5}, tmp_path / "m")
    with pytest.raises(UserError, match="unknown dataset 'cifar'"):
        prepare_dataset("cifar", {}, tmp_path / "c")


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "train_x.npy").unlink(), "train_x.npy is missing"),
    (lambda d: (d / "meta.json").unlink(), "meta.json is missing"),
    (lambda d: (d / "meta.json").write_text("{not json"), "meta.json is corrupt"),
    (lambda d: (d / "test_y.npy").write_bytes((d / "test_y.npy").read_bytes()[:-8]),
     "test_y.npy is corrupt"),
])
def test_broken_files_name_the_file_and_the_rule(digits_dir, tmp_path, damage, expected):
    copy = tmp_path / "digits"
    shutil.copytree(digits_dir, copy)
    damage(copy)
    with pytest.raises(UserError) as err:
        load_prepared(copy)
    assert expected in str(err.value)
    assert "prepare_dataset" in str(err.value)


def test_wrong_shape_in_meta_is_caught(digits_dir, tmp_path):
    copy = tmp_path / "digits"
    shutil.copytree(digits_dir, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["files"]["train_y.npy"]["shape"] = [5]
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="has shape"):
        load_prepared(copy)


def test_random_crop_moves_content_and_pads_with_zeros():
    x = torch.ones(64, 1, 4, 4, dtype=torch.uint8)
    out = random_crop(x, 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    # any shift leaves at most one row and one column of padding
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() <= 7 and zeros.min() == 0 and (zeros > 0).any()


def test_augment_is_deterministic_per_generator_and_flip_mirrors():
    x = torch.arange(8 * 2 * 5, dtype=torch.float32).view(8, 2, 5)
    a = augment_batch(x, generator=torch.Generator().manual_seed(3), crop_padding=2, flip=True)
    b = augment_batch(x, generator=torch.Generator().manual_seed(3), crop_padding=2, flip=True)
    assert torch.equal(a, b)
    flipped = augment_batch(x, generator=torch.Generator().manual_seed(3), flip=True)
    for row, orig in zip(flipped, x, strict=True):
        assert torch.equal(row, orig) or torch.equal(row, orig.flip(-1))
