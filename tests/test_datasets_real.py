"""CIFAR-10/100, TinyImageNet and SNLI: the real preparation code on files in each real format."""

from __future__ import annotations

import pickle
import shutil
import time
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from prunebench.data import cifar, hub, load_prepared, prepare_dataset, snli, tinyimagenet
from prunebench.data.prepared import sha256_of
from prunebench.data.resources import md5_of
from prunebench.errors import UserError

from . import dataset_fixtures as fx

REFUSED = "http://127.0.0.1:9"  # the discard port: nothing listens, so a connection is refused


@pytest.fixture
def cifar_files(tmp_path, monkeypatch, request):
    """Fixture pickles, with torchvision's layout patched to carry their md5 sums."""
    dataset = request.param
    resources = tmp_path / "resources" / dataset
    written = fx.write_cifar(resources, dataset)
    layout = fx.fixture_layout(dataset, resources)
    monkeypatch.setattr(cifar, "cifar_layout", lambda name: layout)
    return dataset, resources, written


@pytest.mark.parametrize("cifar_files", ["cifar10", "cifar100"], indirect=True)
def test_cifar_pickles_round_trip_exactly(cifar_files, tmp_path):
    dataset, resources, written = cifar_files
    meta = prepare_dataset(dataset, {}, tmp_path / "out", resources)
    data = load_prepared(tmp_path / "out")
    assert data.train_x.dtype == np.uint8 and data.train_x.shape == (20, 3, 32, 32)
    assert data.test_x.shape == (6, 3, 32, 32) and data.train_y.dtype == np.int64
    for key in ("train_x", "train_y", "test_x", "test_y"):
        assert np.array_equal(getattr(data, key), written[key]), key
    assert meta["classes"] == fx.CIFAR_CLASS_NAMES[dataset]
    assert meta["num_classes"] == len(fx.CIFAR_CLASS_NAMES[dataset]) and meta["kind"] == "image"
    assert meta["files"]["train_x.npy"]["sha256"] == sha256_of(tmp_path / "out" / "train_x.npy")
    layout = cifar.cifar_layout(dataset)
    first = layout.train_files[0][0]
    assert meta["raw_md5"][first] == md5_of(resources / layout.folder / first)
    # the pickle's 3,072 bytes per image are the red, then green, then blue 32x32 planes
    with open(resources / layout.folder / first, "rb") as fh:
        raw = pickle.load(fh, encoding="latin1")["data"][0]
    assert np.array_equal(data.train_x[0, 0].ravel(), raw[:1024])
    assert np.array_equal(data.train_x[0, 2].ravel(), raw[2048:])
    expected_mean = (written["train_x"] / 255.0).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(meta["mean"], expected_mean, rtol=1e-9)


def test_cifar_files_are_checked_against_torchvision_md5(tmp_path):
    resources = tmp_path / "resources" / "cifar10"
    fx.write_cifar(resources, "cifar10")  # fixture bytes cannot match the official sums
    with pytest.raises(UserError) as err:
        prepare_dataset("cifar10", {}, tmp_path / "out", resources)
    message = str(err.value)
    assert "data_batch_1" in message and "c99cafc152244af753f735de768cd75f" in message
    assert "torchvision's md5" in message
    assert not (tmp_path / "out" / "meta.json").exists()


def test_truncated_cifar_pickle_names_the_file(tmp_path, monkeypatch):
    resources = tmp_path / "resources" / "cifar10"
    fx.write_cifar(resources, "cifar10")
    damaged = resources / "cifar-10-batches-py" / "data_batch_3"
    damaged.write_bytes(damaged.read_bytes()[:1500])
    layout = fx.fixture_layout("cifar10", resources)  # md5 of the damaged file: parsing must fail
    monkeypatch.setattr(cifar, "cifar_layout", lambda name: layout)
    with pytest.raises(UserError, match=r"data_batch_3 is not a readable CIFAR pickle"):
        prepare_dataset("cifar10", {}, tmp_path / "out", resources)


def test_cifar_pickle_cannot_run_code(tmp_path):
    evil = tmp_path / "data_batch_1"

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    evil.write_bytes(pickle.dumps({"data": Payload()}, protocol=2))
    with pytest.raises(UserError, match=r"refers to \w+\.print, which a CIFAR file never does"):
        cifar.read_pickle(evil)


def test_cifar_unpacks_the_official_archive(tmp_path, monkeypatch):
    resources = tmp_path / "resources" / "cifar100"
    written = fx.write_cifar(resources, "cifar100")
    files_layout = fx.fixture_layout("cifar100", resources)
    archive = fx.pack_cifar_archive(resources, "cifar100")
    assert archive.name == "cifar-100-python.tar.gz"
    assert not (resources / "cifar-100-python").exists()
    layout = replace(files_layout, archive_md5=md5_of(archive))
    monkeypatch.setattr(cifar, "cifar_layout", lambda name: layout)
    prepare_dataset("cifar100", {}, tmp_path / "out", resources)
    assert (resources / "cifar-100-python" / "train").is_file()
    assert np.array_equal(load_prepared(tmp_path / "out").test_x, written["test_x"])


def test_cifar_without_files_or_network_fails_fast_naming_path_and_url(tmp_path, monkeypatch):
    real = cifar.cifar_layout("cifar10")
    url = f"{REFUSED}/~kriz/cifar-10-python.tar.gz"
    monkeypatch.setattr(cifar, "cifar_layout", lambda name: replace(real, url=url))
    resources = tmp_path / "resources" / "cifar10"
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        prepare_dataset("cifar10", {}, tmp_path / "out", resources)
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert f"cannot download {url}" in message
    assert f"put cifar-10-python.tar.gz in {resources.resolve()}/" in message
    assert "data_batch_1" in message and "batches.meta" in message
    assert not list(resources.glob("*.part"))  # no half-written download left behind


def test_cifar_download_false_says_where_to_put_the_files(tmp_path):
    resources = tmp_path / "resources" / "cifar10"
    with pytest.raises(UserError, match="option download is false") as err:
        prepare_dataset("cifar10", {"download": False}, tmp_path / "out", resources)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in str(err.value)
    with pytest.raises(UserError, match="has no option 'size'"):
        prepare_dataset("cifar10", {"size": 3}, tmp_path / "out", resources)


def test_tinyimagenet_tree_is_read_in_class_order_with_val_as_test(tmp_path):
    resources = tmp_path / "resources" / "tinyimagenet"
    tree = fx.write_tinyimagenet(resources)
    meta = prepare_dataset("tinyimagenet", {}, tmp_path / "out", resources)
    data = load_prepared(tmp_path / "out")
    assert data.train_x.shape == (9, 3, 64, 64) and data.train_x.dtype == np.uint8
    assert data.test_x.shape == (5, 3, 64, 64)
    assert data.train_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert meta["wnids"] == tree["wnids"]  # sorted, although wnids.txt is not
    assert data.test_y.tolist() == [tree["wnids"].index(w) for w in tree["val_wnids"]]
    assert meta["classes"][0] == "goldfish, Carassius auratus"
    # pixels: JPEG at quality 95 of a smooth image stays within a few levels
    root = tree["root"]
    first_train = root / "train" / tree["wnids"][0] / "images" / f"{tree['wnids'][0]}_0.JPEG"
    original = tree["pixels"][first_train].transpose(2, 0, 1).astype(float)
    assert np.abs(data.train_x[0] - original).mean() < 3
    val_2 = tree["pixels"][root / "val" / "images" / "val_2.JPEG"].transpose(2, 0, 1)
    assert np.abs(data.test_x[2] - val_2.astype(float)).mean() < 3
    # the grayscale JPEG became RGB with three equal channels
    gray = data.train_x[1]
    assert np.array_equal(gray[0], gray[1]) and np.array_equal(gray[1], gray[2])
    gray_source = tree["pixels"][root / "train" / tree["wnids"][0] / "images" /
                                 f"{tree['wnids'][0]}_1.JPEG"]
    assert np.abs(gray[0] - gray_source.astype(float)).mean() < 3


def test_tinyimagenet_missing_val_annotations_names_the_file(tmp_path):
    resources = tmp_path / "resources" / "tinyimagenet"
    tree = fx.write_tinyimagenet(resources)
    (tree["root"] / "val" / "val_annotations.txt").unlink()
    with pytest.raises(UserError, match=r"val_annotations\.txt is missing"):
        prepare_dataset("tinyimagenet", {}, tmp_path / "out", resources)


def test_tinyimagenet_annotation_with_unknown_wnid_is_refused(tmp_path):
    resources = tmp_path / "resources" / "tinyimagenet"
    tree = fx.write_tinyimagenet(resources)
    annotations = tree["root"] / "val" / "val_annotations.txt"
    annotations.write_text(annotations.read_text() + "val_0.JPEG\tn00000001\t0\t0\t1\t1\n")
    with pytest.raises(UserError, match="line 6: wnid 'n00000001' is not in wnids.txt"):
        prepare_dataset("tinyimagenet", {}, tmp_path / "out", resources)


def test_tinyimagenet_unpacks_the_official_zip(tmp_path):
    resources = tmp_path / "resources" / "tinyimagenet"
    tree = fx.write_tinyimagenet(resources)
    with zipfile.ZipFile(resources / "tiny-imagenet-200.zip", "w") as zf:
        for path in sorted(tree["root"].rglob("*")):
            zf.write(path, path.relative_to(resources))
    shutil.rmtree(tree["root"])
    meta = prepare_dataset("tinyimagenet", {}, tmp_path / "out", resources)
    assert meta["n_train"] == 9 and (tree["root"] / "wnids.txt").is_file()


def test_tinyimagenet_offline_fails_fast_naming_path_and_url(tmp_path, monkeypatch):
    url = f"{REFUSED}/tiny-imagenet-200.zip"
    monkeypatch.setattr(tinyimagenet, "URL", url)
    resources = tmp_path / "resources" / "tinyimagenet"
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        prepare_dataset("tinyimagenet", {}, tmp_path / "out", resources)
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert url in message and f"tiny-imagenet-200.zip in {resources.resolve()}/" in message
    assert "wnids.txt" in message


def _labelled(records):
    return [r for r in records if r["gold_label"] != "-"]


def test_snli_jsonl_is_tokenized_into_ids_mask_and_types(tmp_path):
    resources = tmp_path / "resources" / "snli"
    records = fx.write_snli_jsonl(resources)
    options = {"tokenizer": "wordpiece", "max_length": 20, "vocab_size": 300}
    meta = prepare_dataset("snli", options, tmp_path / "out", resources)
    data = load_prepared(tmp_path / "out")
    train = _labelled(records["train"])
    assert data.train_x.dtype == np.int32 and data.train_x.shape == (len(train), 3, 20)
    assert data.test_x.shape == (len(_labelled(records["test"])), 3, 20)
    mapping = {"entailment": 0, "neutral": 1, "contradiction": 2}
    assert data.train_y.tolist() == [mapping[r["gold_label"]] for r in train]
    assert meta["removed_unlabelled"] == {"train": 60 - len(train),
                                          "test": 21 - len(_labelled(records["test"]))}
    assert meta["kind"] == "text" and meta["shape"] == [3, 20]
    assert meta["classes"] == ["entailment", "neutral", "contradiction"]
    assert meta["mean"] == [0.0, 0.0, 0.0] and meta["std"] == [1.0, 1.0, 1.0]
    tokenizer_file = tmp_path / "out" / "tokenizer.json"
    assert meta["extra_files"]["tokenizer.json"]["sha256"] == sha256_of(tokenizer_file)
    assert meta["tokenizer"]["vocab_size"] <= 300
    assert meta["raw_sha256"]["snli_1.0_train.jsonl"] == sha256_of(resources /
                                                                   "snli_1.0_train.jsonl")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    ids, mask, types = data.train_x[0]
    n_real = int(mask.sum())
    assert mask[:n_real].all() and not mask[n_real:].any()
    assert (ids[n_real:] == meta["tokenizer"]["pad_token_id"]).all()
    tokens = [tokenizer.id_to_token(int(i)) for i in ids[:n_real]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 2
    first_sep = tokens.index("[SEP]")
    assert types[:first_sep + 1].sum() == 0 and types[first_sep + 1:n_real].all()
    premise = tokenizer.decode([int(i) for i in ids[1:first_sep]])
    assert premise.replace(" .", ".") == train[0]["sentence1"].lower()


def test_snli_preparation_is_reproducible(tmp_path):
    resources = tmp_path / "resources" / "snli"
    fx.write_snli_jsonl(resources, n_train=90)
    options = {"tokenizer": "wordpiece", "max_length": 16, "vocab_size": 150}
    first = prepare_dataset("snli", options, tmp_path / "a", resources)
    second = prepare_dataset("snli", options, tmp_path / "b", resources)
    assert first["files"] == second["files"] and first["extra_files"] == second["extra_files"]


def test_snli_in_the_unzipped_snli_1_0_folder_and_limits(tmp_path):
    resources = tmp_path / "resources" / "snli"
    records = fx.write_snli_jsonl(resources / "snli_1.0")
    meta = prepare_dataset("snli", {"limit_train": 10, "limit_test": 4, "max_length": 32},
                           tmp_path / "out", resources)
    assert meta["n_train"] == 10 and meta["n_test"] == 4
    assert meta["tokenizer"]["name"] == "minilm" and meta["tokenizer"]["vocab_size"] == 30522
    assert "official SNLI 1.0 JSONL" in meta["source"]
    data = load_prepared(tmp_path / "out")
    assert data.train_x[0, 0, 0] == 101  # BERT's [CLS]
    assert len(_labelled(records["train"])) > 10


def test_empty_snli_jsonl_names_the_file(tmp_path):
    resources = tmp_path / "resources" / "snli"
    fx.write_snli_jsonl(resources)
    (resources / "snli_1.0_test.jsonl").write_text("")
    with pytest.raises(UserError, match=r"snli_1\.0_test\.jsonl holds no labelled SNLI"):
        prepare_dataset("snli", {"tokenizer": "wordpiece"}, tmp_path / "out", resources)


def test_snli_bad_record_and_bad_options(tmp_path):
    resources = tmp_path / "resources" / "snli"
    fx.write_snli_jsonl(resources)
    with open(resources / "snli_1.0_train.jsonl", "a") as fh:
        fh.write('{"gold_label": "maybe", "sentence1": "a", "sentence2": "b"}\n')
    with pytest.raises(UserError, match="line 61: gold_label 'maybe'"):
        prepare_dataset("snli", {}, tmp_path / "out", resources)
    with pytest.raises(UserError, match="max_length=4 must be an integer in 8..512"):
        prepare_dataset("snli", {"max_length": 4}, tmp_path / "out", resources)
    with pytest.raises(UserError, match="choose one of: auto, hf, jsonl"):
        prepare_dataset("snli", {"source": "csv"}, tmp_path / "out", resources)


@pytest.fixture
def hub_offline(monkeypatch):
    """Offline mode as a user sets it; restored after the test (the code also sets it)."""
    import datasets.config
    import huggingface_hub.constants

    for name in hub.OFFLINE_SWITCHES:
        monkeypatch.setenv(name, "1")
    monkeypatch.setattr(hub, "_decided", None)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


def test_snli_from_hf_layout_drops_label_minus_one(tmp_path, hub_offline):
    labels = fx.write_snli_parquet(tmp_path / "snli_hub_copy")
    options = {"source": "hf", "hf_name": str(tmp_path / "snli_hub_copy"), "max_length": 16,
               "tokenizer": "wordpiece", "vocab_size": 200}
    meta = prepare_dataset("snli", options, tmp_path / "out", tmp_path / "resources" / "snli")
    data = load_prepared(tmp_path / "out")
    assert data.train_y.tolist() == [label for label in labels["train"] if label >= 0]
    assert data.test_y.tolist() == [label for label in labels["test"] if label >= 0]
    assert meta["removed_unlabelled"]["train"] == labels["train"].count(-1) > 0
    assert "Hugging Face datasets" in meta["source"]


def test_snli_offline_with_nothing_fails_fast_naming_the_path(tmp_path, hub_offline):
    resources = tmp_path / "resources" / "snli"
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        prepare_dataset("snli", {}, tmp_path / "out", resources)
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert f"snli_1.0_train.jsonl and snli_1.0_test.jsonl (from {snli.ZIP_URL}) in " \
           f"{resources.resolve()}/" in message
    assert "no network" in message
