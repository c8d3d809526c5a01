"""SNLI (Bowman et al. 2015): premise/hypothesis pairs labelled entailment, neutral, contradiction.

Two sources, the same examples:
- the official JSONL files snli_1.0_{train,test}.jsonl (from snli_1.0.zip), when a user has put
  them in resources/snli/ (or resources/snli/snli_1.0/); `gold_label` "-" (no annotator
  majority) is removed;
- Hugging Face `datasets` (`stanfordnlp/snli`, cached under resources/snli/hf/); label -1 (the
  same unlabelled pairs) is removed.
Labels follow the HF map: entailment 0, neutral 1, contradiction 2. The test split is SNLI's
test split. Pairs are tokenized once here (see text_tokenizer.py) into int32 (N, 3, L).
Prepared example i is not row i of the source split (unlabelled rows are gone): meta.json's
`train_source_rows` names the dropped rows, from which the export maps back to SNLI's order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from .hub import local_only
from .prepared import sha256_of
from .text_tokenizer import CHANNELS, PACKAGED_MINILM, encode_pairs, make_pair_tokenizer

LABELS = ["entailment", "neutral", "contradiction"]
LABEL_IDS = {name: k for k, name in enumerate(LABELS)}
JSONL_FILES = {"train": "snli_1.0_train.jsonl", "test": "snli_1.0_test.jsonl"}
ZIP_URL = "https://nlp.stanford.edu/projects/snli/snli_1.0.zip"
OPTIONS = {"max_length": 128, "tokenizer": PACKAGED_MINILM, "vocab_size": 8000,
           "limit_train": None, "limit_test": None, "source": "auto",
           "hf_name": "stanfordnlp/snli"}

# premises, hypotheses, labels, the source rows dropped (unlabelled; rows count from 0)
Split = tuple[list[str], list[str], np.ndarray, list[int]]


def check_options(options: dict) -> dict:
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise UserError(f"config: dataset 'snli' has no option {sorted(unknown)[0]!r}; "
                        f"allowed: {', '.join(OPTIONS)}")
    settings = {**OPTIONS, **options}
    if not isinstance(settings["max_length"], int) or not 8 <= settings["max_length"] <= 512:
        raise UserError(f"config: snli option max_length={settings['max_length']!r} must be an "
                        "integer in 8..512")
    if not isinstance(settings["vocab_size"], int) or settings["vocab_size"] < 100:
        raise UserError(f"config: snli option vocab_size={settings['vocab_size']!r} must be an "
                        "integer >= 100")
    for key in ("limit_train", "limit_test"):
        value = settings[key]
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UserError(f"config: snli option {key}={value!r} must be a positive integer "
                            "or null (all examples)")
    if settings["source"] not in ("auto", "hf", "jsonl"):
        raise UserError(f"config: snli option source={settings['source']!r}; choose one of: "
                        "auto, hf, jsonl")
    for key in ("tokenizer", "hf_name"):
        if not isinstance(settings[key], str) or not settings[key]:
            raise UserError(f"config: snli option {key} must be a non-empty string")
    return settings


def find_jsonl_folder(resources_dir: Path) -> Path | None:
    """resources/snli/ or resources/snli/snli_1.0/, whichever holds the train and test files."""
    for folder in (resources_dir, resources_dir / "snli_1.0"):
        if all((folder / name).is_file() for name in JSONL_FILES.values()):
            return folder
    return None


def read_jsonl(path: Path) -> Split:
    """Pairs and labels of one official SNLI JSONL file; `-` gold labels are dropped."""
    premises, hypotheses, labels, removed = [], [], [], []
    row = -1
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row += 1
            try:
                record = json.loads(line)
                gold, premise = record["gold_label"], record["sentence1"]
                hypothesis = record["sentence2"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise UserError(f"{path} line {number} is not an SNLI record with gold_label, "
                                f"sentence1 and sentence2 ({type(exc).__name__}: {exc})") from exc
            if gold == "-":
                removed.append(row)
                continue
            if gold not in LABEL_IDS:
                raise UserError(f"{path} line {number}: gold_label {gold!r} is not one of "
                                f"{', '.join(LABELS)} or '-'")
            premises.append(premise)
            hypotheses.append(hypothesis)
            labels.append(LABEL_IDS[gold])
    if not labels:
        raise UserError(f"{path} holds no labelled SNLI examples; replace it with the official "
                        f"file from {ZIP_URL}")
    return premises, hypotheses, np.asarray(labels, dtype=np.int64), removed


def read_hf(name: str, cache_dir: Path) -> dict[str, Split]:
    """The train and test splits through `datasets.load_dataset`; label -1 dropped."""
    offline = local_only(name)  # decides (and sets) offline mode before `datasets` is imported
    from datasets import load_dataset

    try:
        loaded = load_dataset(name, cache_dir=str(cache_dir))
    except Exception as exc:  # the HF libraries raise many types; all mean "not loadable"
        why = "no network and nothing in the cache" if offline else "the Hub did not provide it"
        raise UserError(
            f"SNLI cannot be loaded through Hugging Face datasets from {name!r} ({why}: "
            f"{type(exc).__name__}: {str(exc)[:200]}); either put the official "
            f"{JSONL_FILES['train']} and {JSONL_FILES['test']} (from {ZIP_URL}) in "
            f"{cache_dir.parent.resolve()}/, or run once with network to fill the cache "
            f"{cache_dir.resolve()}/") from exc
    splits = {}
    for split in ("train", "test"):
        if split not in loaded:
            raise UserError(f"the dataset {name!r} has no {split!r} split "
                            f"(it has {', '.join(loaded)})")
        missing = {"premise", "hypothesis", "label"} - set(loaded[split].column_names)
        if missing:
            raise UserError(f"the dataset {name!r} split {split!r} lacks the columns "
                            f"{sorted(missing)}; it is not SNLI")
        table = loaded[split].with_format("arrow")  # whole columns at once, not row by row
        labels = np.asarray(table["label"].to_pylist(), dtype=np.int64)
        keep = np.flatnonzero(labels >= 0)
        premises, hypotheses = table["premise"].to_pylist(), table["hypothesis"].to_pylist()
        splits[split] = ([premises[i] for i in keep], [hypotheses[i] for i in keep],
                         labels[keep], np.flatnonzero(labels < 0).tolist())
        if not len(keep):
            raise UserError(f"the dataset {name!r} split {split!r} holds no labelled examples")
    return splits


def read_splits(settings: dict, resources_dir: Path) -> tuple[dict[str, Split], dict]:
    """The train and test splits, and where they came from (with the raw files' sha256)."""
    folder = find_jsonl_folder(resources_dir)
    source = settings["source"]
    if source == "jsonl" or (source == "auto" and folder is not None):
        if folder is None:
            raise UserError(f"source is 'jsonl' but {resources_dir.resolve()}/ lacks "
                            f"{JSONL_FILES['train']} and {JSONL_FILES['test']}; unzip "
                            f"{ZIP_URL} there")
        splits = {split: read_jsonl(folder / name) for split, name in JSONL_FILES.items()}
        origin = {"source": f"official SNLI 1.0 JSONL files in {folder}",
                  "raw_sha256": {name: sha256_of(folder / name) for name in JSONL_FILES.values()}}
        return splits, origin
    splits = read_hf(settings["hf_name"], resources_dir / "hf")
    return splits, {"source": f"Hugging Face datasets {settings['hf_name']!r}"}


def _limit(split: Split, limit: int | None) -> Split:
    premises, hypotheses, labels, removed = split
    if limit is None:
        return split
    return premises[:limit], hypotheses[:limit], labels[:limit], removed


def load_snli_arrays(options: dict, resources_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Tokenized SNLI in the prepared format: x int32 (N, 3, max_length), y int64."""
    settings = check_options(options)
    splits, origin = read_splits(settings, Path(resources_dir))
    train = _limit(splits["train"], settings["limit_train"])
    test = _limit(splits["test"], settings["limit_test"])
    pair_tokenizer = make_pair_tokenizer(settings["tokenizer"], [*train[0], *train[1]],
                                         settings["vocab_size"])
    max_length = settings["max_length"]
    train_x, train_cut = encode_pairs(pair_tokenizer, train[0], train[1], max_length)
    test_x, test_cut = encode_pairs(pair_tokenizer, test[0], test[1], max_length)
    arrays = {"train_x": train_x, "train_y": train[2], "test_x": test_x, "test_y": test[2]}
    meta = {
        "kind": "text",
        "shape": [3, max_length],
        "channels": CHANNELS,
        "classes": LABELS,
        **origin,
        "source": f"SNLI 1.0 ({origin['source']}); test split = SNLI test",
        "tokenizer": pair_tokenizer.info,
        "max_length": max_length,
        "removed_unlabelled": {"train": len(train[3]), "test": len(test[3])},
        # prepared train example i is source row np.delete(arange(rows), dropped)[i]
        "train_source_rows": {"rows": len(splits["train"][2]) + len(train[3]),
                              "dropped": train[3]},
        "truncated_pairs": {"train": train_cut, "test": test_cut},
        "options": settings,
        "extra_files": pair_tokenizer.files,
    }
    return arrays, meta
