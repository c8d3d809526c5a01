"""Text: the prepared (N, 3, L) layout, WordPiece trained on the split, the text models, scores
on text, and the whole DAG on a tiny SNLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from prunebench.data import load_prepared, prepare_dataset
from prunebench.data.tensors import TensorData
from prunebench.data.text_tokenizer import packaged_minilm_dir, train_wordpiece
from prunebench.errors import UserError
from prunebench.models import build_model
from prunebench.scores import el2n_scores, grand_last_scores, grand_scores

from . import dataset_fixtures as fx
from .test_pipeline import snakemake

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def snli_wordpiece(tmp_path_factory):
    root = tmp_path_factory.mktemp("snli")
    fx.write_snli_jsonl(root / "resources")
    prepare_dataset("snli", {"tokenizer": "wordpiece", "max_length": 24, "vocab_size": 400},
                    root / "out", root / "resources")
    return TensorData.from_prepared(load_prepared(root / "out"), CPU)


@pytest.fixture(scope="module")
def snli_minilm(tmp_path_factory):
    root = tmp_path_factory.mktemp("snli_minilm")
    fx.write_snli_jsonl(root / "resources", n_train=12, n_test=6)
    prepare_dataset("snli", {"max_length": 24}, root / "out", root / "resources")
    return TensorData.from_prepared(load_prepared(root / "out"), CPU)


def tiny_bert(data: TensorData, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("bert_tiny", data.input_shape, data.num_classes, meta=data.meta).eval()


def test_wordpiece_is_built_from_the_split_and_deterministic():
    texts = [r["sentence1"] + " " + r["sentence2"] for r in fx.snli_records(60)]
    first, second = train_wordpiece(texts, 300), train_wordpiece(texts, 300)
    assert first.get_vocab() == second.get_vocab()
    vocab = first.get_vocab()
    assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
    assert {"guitar", "bicycle", "a", "##a", "."} <= set(vocab)
    pair = first.encode("A man sits.", "A man sleeps")
    assert pair.tokens == ["[CLS]", "a", "man", "sits", ".", "[SEP]", "a", "man", "sleeps",
                           "[SEP]"]
    assert pair.type_ids == [0] * 6 + [1] * 4
    # a small vocabulary keeps the most frequent words; others are spelled in pieces
    characters = len({c for text in texts for c in text.lower() if not c.isspace()})
    small = train_wordpiece(texts, 5 + 2 * characters + 1)
    assert small.get_vocab_size() == 5 + 2 * characters + 1 and "a" in small.get_vocab()
    spelled = ["b", "##i", "##c", "##y", "##c", "##l", "##e"]
    assert small.encode("bicycle", add_special_tokens=False).tokens == spelled
    assert small.encode("xylophone", add_special_tokens=False).tokens == ["[UNK]"]  # no x


def test_text_tensors_are_ids_never_scaled_or_augmented(snli_wordpiece):
    data = snli_wordpiece
    assert data.kind == "text" and data.input_shape == (3, 24)
    assert data.train_x.dtype == torch.int32
    x, y = data.train_batch(torch.arange(5), {"crop_padding": 0, "flip": False},
                            torch.Generator().manual_seed(0))
    assert x.dtype == torch.int64 and torch.equal(x, data.train_x[:5].long())
    assert torch.equal(y, data.train_y[:5])
    batch, _ = next(data.eval_batches("test", 4))
    assert torch.equal(batch, data.test_x[:4].long())
    with pytest.raises(UserError, match="'snli' is text, which is never augmented.*crop_padding"):
        data.train_batch(torch.arange(5), {"crop_padding": 2}, torch.Generator())
    with pytest.raises(UserError, match="augment.flip"):
        data.train_batch(torch.arange(5), {"flip": True}, torch.Generator())


def test_bert_tiny_forward_matches_its_head_and_ignores_padding(snli_wordpiece):
    data = snli_wordpiece
    model = tiny_bert(data)
    embedding = model.body.encoder.embeddings.word_embeddings
    assert embedding.num_embeddings == data.meta["tokenizer"]["vocab_size"]
    assert model.head.in_features == 128 and model.head.out_features == 3
    x = data.normalize(data.train_x[:6])
    with torch.no_grad():
        logits = model(x)
        torch.testing.assert_close(logits, model.head(model.forward_features(x)))
        # scorers hand over float copies of the ids: the same numbers, the same logits
        torch.testing.assert_close(model(x.float()), logits)
        # what sits under attention_mask 0 cannot matter
        changed = x.clone()
        padding = changed[:, 1] == 0
        assert padding.any()
        changed[:, 0][padding] = 7
        torch.testing.assert_close(model(changed), logits)
    assert logits.shape == (6, 3) and torch.isfinite(logits).all()


def test_el2n_and_grand_last_on_text_match_hand_computation(snli_wordpiece):
    data = snli_wordpiece
    model = tiny_bert(data, seed=3)
    el2n = el2n_scores(model, data.eval_batches("train", 16))
    last = grand_last_scores(model, data.eval_batches("train", 16))
    assert el2n.shape == last.shape == (data.n_train,) and el2n.dtype == np.float32
    x, y = data.normalize(data.train_x), data.train_y
    with torch.no_grad():
        logits = model(x)
    onehot = nn.functional.one_hot(y, 3).float()
    np.testing.assert_allclose(el2n, (logits.softmax(1) - onehot).norm(dim=1).numpy(), rtol=1e-5)
    # grand_last is the norm of the head's gradient: check two examples with autograd
    for i in (0, 5):
        model.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        norm = torch.cat([model.head.weight.grad.ravel(), model.head.bias.grad]).norm()
        assert last[i] == pytest.approx(norm.item(), rel=1e-4)


def test_full_grand_on_text_equals_a_per_example_autograd_loop(snli_wordpiece):
    data = snli_wordpiece
    model = tiny_bert(data, seed=1)
    scores = grand_scores(model, data.eval_batches("train", 8, torch.arange(6)), chunk_size=4)
    x, y = data.normalize(data.train_x[:6]), data.train_y[:6]
    for i in range(6):
        model.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        norm = torch.cat([p.grad.ravel() for p in model.parameters() if p.grad is not None]).norm()
        assert scores[i] == pytest.approx(norm.item(), rel=1e-4)


def test_minilm_loads_the_packaged_weights(snli_minilm):
    from safetensors import safe_open

    data = snli_minilm
    torch.manual_seed(0)
    model = build_model("minilm", data.input_shape, data.num_classes, meta=data.meta).eval()
    with safe_open(str(packaged_minilm_dir() / "model.safetensors"), "pt") as weights:
        expected = weights.get_tensor("embeddings.word_embeddings.weight")
    assert torch.equal(model.body.encoder.embeddings.word_embeddings.weight.detach(), expected)
    assert model.head.in_features == 384
    with torch.no_grad():
        logits = model(data.normalize(data.train_x[:4]))
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()


def test_text_model_and_data_must_agree(snli_wordpiece):
    data = snli_wordpiece
    with pytest.raises(UserError, match="tokenized with 'wordpiece'; set the dataset option"):
        build_model("minilm", data.input_shape, 3, meta=data.meta)
    with pytest.raises(UserError, match="use the model 'bert_tiny'"):
        build_model("hf_pretrained", data.input_shape, 3, meta=data.meta)
    with pytest.raises(UserError, match="cannot read text"):
        build_model("mnist1d_cnn", data.input_shape, 3, meta=data.meta)
    with pytest.raises(UserError, match="needs a text dataset"):
        build_model("bert_tiny", (1, 40), 10, meta={"kind": "signal"})
    with pytest.raises(UserError, match=r"meta=data\.meta"):
        build_model("bert_tiny", (3, 24), 3)


def test_hf_pretrained_from_a_local_folder_and_offline_hub_id(tmp_path, monkeypatch):
    from prunebench.data import hub

    resources = tmp_path / "resources"
    fx.write_snli_jsonl(resources, n_train=6, n_test=3)
    folder = str(packaged_minilm_dir())
    prepare_dataset("snli", {"tokenizer": folder, "max_length": 16}, tmp_path / "out", resources)
    data = TensorData.from_prepared(load_prepared(tmp_path / "out"), CPU)
    model = build_model("hf_pretrained", data.input_shape, 3, meta=data.meta).eval()
    with torch.no_grad():
        assert model(data.normalize(data.train_x[:2])).shape == (2, 3)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_decided", None)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    meta = {**data.meta, "tokenizer": {**data.meta["tokenizer"], "name": "nobody/no-such-model"}}
    with pytest.raises(UserError, match="no network and no copy in the Hugging Face cache"):
        build_model("hf_pretrained", data.input_shape, 3, meta=meta)


TEXT_DAG = {
    "experiment": "text",
    "protocol": "budget",
    "device": "cpu",
    "datasets": {"snli": {
        "model": "bert_tiny", "epochs": 2, "batch_size": 16, "lr": 0.05, "eval_batch_size": 64,
        "options": {"tokenizer": "wordpiece", "max_length": 24, "vocab_size": 300},
    }},
    "methods": ["random", "el2n", "grand_last", "forgetting", "crest"],
    "options": {"crest": {"subset_size": 24, "num_subsets": 2, "check_interval": 2,
                          "drop_interval": 1, "drop_watch": 1}},
    "fractions": [0.5],
    "seeds": [0],
    "proxy": {"seeds": 1, "epochs": 2, "score_epoch": 1,
              "scores": ["el2n", "grand_last", "forgetting"]},
}


def test_snli_runs_through_the_whole_dag(tmp_path):
    # 98 records, every 7th without a gold label: 84 training examples
    fx.write_snli_jsonl(tmp_path / "resources" / "snli", n_train=98, n_test=30)
    configfile = tmp_path / "text.yaml"
    configfile.write_text(yaml.safe_dump(TEXT_DAG))
    done = snakemake(tmp_path, configfile)
    assert done.returncode == 0, done.stderr[-4000:]
    meta = json.loads((tmp_path / "results/data/snli/meta.json").read_text())
    n_train = meta["n_train"]
    assert n_train == 84
    assert meta["kind"] == "text" and (tmp_path / "results/data/snli/tokenizer.json").is_file()
    results = tmp_path / "results" / "text"
    summary = pd.read_csv(results / "summary.csv")
    assert set(summary.method) == {"full", *TEXT_DAG["methods"]}
    assert summary.test_acc.between(0, 1).all()
    for score in ("el2n", "grand_last", "forgetting"):
        scores = np.load(results / "scores/snli/bert_tiny" / f"{score}.npy")
        assert scores.shape == (n_train,)
    el2n = np.load(results / "scores/snli/bert_tiny/el2n.npy")
    assert np.isfinite(el2n).all() and (el2n >= 0).all() and el2n.std() > 0
    subset = np.load(results / "subsets/snli/bert_tiny/grand_last/f0.5/seed0.npy")
    assert len(subset) == n_train // 2 and np.all(np.diff(subset) > 0)
    steps_full = 2 * 6  # 2 epochs of ceil(84 / 16)
    assert (summary[summary.method == "full"].steps == steps_full).all()
    crest = summary[summary.method == "crest"]
    assert (crest.steps == 2 * 3).all() and (crest.time_selection > 0).all()  # ceil(42 / 16)
    crest_run = results / "runs/snli/bert_tiny/crest/f0.5/seed0"
    assert json.loads((crest_run / "metrics.json").read_text())["time"]["selection/hessian"] > 0
