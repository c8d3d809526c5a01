"""`prunebench export CONFIG`: per-example scores and subsets, with their provenance, in one
Parquet file per dataset (results/<experiment>/export/<dataset>.parquet), for others to join
on the dataset's own example order.

One row per training example: `index` (the prepared order), `source_index` (the example's row
in the dataset's own train split, where the preparation recorded it: CIFAR and SNLI), `label`
(the label trained on; with label noise also `clean_label` and `noisy`, True where it flipped);
then every score the proxies computed, per seed (`<score>_seed<k>`) and the mean over seeds
(`<score>_mean`, where a mean file exists); then each static subset's membership
(`in_<method>_f<fraction>_seed<seed>`, bool) and how often each dynamic run selected the example
(`selected_<method>_f<fraction>_seed<seed>`, int32: in how many of the run's logged selections,
for the methods that log them: CREST, CRAIG, GradMatch, GLISTER, RS2).
The file's metadata (key `prunebench`, JSON) records the dataset, its preparation options, the
SHA-256 of the prepared files, the proxy recipe and its digest, the proxy seeds, the prunebench
version and git commit, and for each column the file it was read from with that file's SHA-256.

Every path comes from `prunebench.plan` / `prunebench.paths`; none is parsed back into values.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from . import __version__, paths
from .atomic import write_atomically
from .data.prepared import load_label_noise, read_meta, sha256_of
from .errors import UserError
from .methods import method_entry, proxy_array_file
from .plan import ExperimentPlan

METADATA_KEY = b"prunebench"
# Datasets whose prepared train order is the dataset's own by construction, for folders
# prepared before meta.json recorded `train_source_rows` (CIFAR: the batches in file order).
IDENTITY_ORDER = ("cifar10", "cifar100")


def source_index(dataset: str, meta: dict) -> np.ndarray | None:
    """Each prepared train example's row in the dataset's own train split, or None when the
    preparation did not record it (digits, MNIST-1D, TinyImageNet: no order to join on)."""
    n_train = int(meta["n_train"])
    rows = meta.get("train_source_rows")
    if rows is None:
        return np.arange(n_train, dtype=np.int64) if dataset in IDENTITY_ORDER else None
    kept = np.delete(np.arange(int(rows["rows"]), dtype=np.int64),
                     np.asarray(rows["dropped"], dtype=np.int64))
    return kept[:n_train]  # a limit (limit_train) keeps the first labelled examples


def prepared_sha256(data_dir: Path, meta: dict) -> dict[str, str]:
    """The SHA-256 of each prepared array, hashed now and checked against meta.json's."""
    hashes = {}
    for name, entry in meta["files"].items():
        hashes[name] = sha256_of(data_dir / name)
        if hashes[name] != entry["sha256"]:
            raise UserError(f"prepared dataset file {data_dir / name} does not match its "
                            f"meta.json checksum; rebuild it with snakemake --forcerun "
                            f"prepare_dataset {data_dir / 'meta.json'}")
    return hashes


def git_commit() -> str | None:
    """The commit of the prunebench checkout this code runs from; None outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _load_column(path: Path, n_train: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); rebuild it with snakemake --forcerun "
                        f"{path}") from exc
    if array.shape != (n_train,):
        raise UserError(f"{path} has shape {array.shape}, expected ({n_train},) for the "
                        f"{n_train} training examples; rebuild it with snakemake --forcerun "
                        f"{path}")
    return array


def score_sources(plan: ExperimentPlan, dataset: str) -> dict[str, str]:
    """Column name -> score file: each proxy seed's arrays, then the means over seeds."""
    if not plan.needs_proxy():
        return {}
    scores = plan.proxy["scores"]
    sources = {}
    for score in scores:
        for seed in range(plan.proxy["seeds"]):
            name = proxy_array_file(score, plan.proxy["score_epoch"])
            sources[f"{score}_seed{seed}"] = f"{plan.proxy_dir(dataset, seed)}/{name}"
        sources[f"{score}_mean"] = plan.score_file(dataset, score)
    return sources


def subset_sources(plan: ExperimentPlan, dataset: str) -> dict[str, tuple[str, str]]:
    """Column name -> (kind, file): static runs' subset indices, dynamic runs' selected.npz."""
    sources = {}
    for run in plan.runs():
        if run.dataset != dataset:
            continue
        label = f"{run.method}_f{paths.fraction_label(run.fraction)}_seed{run.seed}"
        kind = method_entry(run.method, plan.config).kind
        if kind == "static":
            sources[f"in_{label}"] = ("subset", plan.subset_file(run))
        elif kind == "dynamic":
            sources[f"selected_{label}"] = ("selected", f"{plan.run_dir(run)}/selected.npz")
    return sources


def _selection_counts(path: Path, n_train: int) -> np.ndarray | None:
    """How many of a run's logged selections picked each example; None when it logged none."""
    with np.load(path, allow_pickle=False) as saved:
        indices = saved["indices"] if "indices" in saved.files else np.zeros(0, np.int64)
        if not len(saved["steps"] if "steps" in saved.files else indices):
            return None
    if len(indices) and (indices.min() < 0 or indices.max() >= n_train):
        raise UserError(f"{path} selects examples outside 0..{n_train - 1}; rebuild the run")
    return np.bincount(indices.astype(np.int64), minlength=n_train).astype(np.int32)


def export_table(plan: ExperimentPlan, dataset: str):
    """The export of one dataset as a pyarrow Table (metadata included), and the files that
    were not there yet (their columns are left out)."""
    import pyarrow as pa

    data_dir = Path(plan.data_dir(dataset))
    meta = read_meta(data_dir)
    n_train = int(meta["n_train"])
    labels = _load_column(data_dir / "train_y.npy", n_train)
    columns: dict[str, np.ndarray] = {"index": np.arange(n_train, dtype=np.int64)}
    order = source_index(plan.loader(dataset), meta)
    if order is not None:
        columns["source_index"] = order
    columns["label"] = labels.astype(np.int64)
    noise = load_label_noise(data_dir)
    if noise is not None:
        columns["clean_label"] = noise["train_y_clean"].astype(np.int64)
        columns["noisy"] = noise["train_noisy"]
    provenance, missing = {}, []
    for column, path in score_sources(plan, dataset).items():
        if not Path(path).exists():
            missing.append(path)
            continue
        columns[column] = _load_column(Path(path), n_train)
        provenance[column] = {"file": path, "sha256": sha256_of(Path(path))}
    for column, (kind, path) in subset_sources(plan, dataset).items():
        if not Path(path).exists():
            missing.append(path)
            continue
        if kind == "subset":
            member = np.zeros(n_train, dtype=bool)
            member[np.load(path, allow_pickle=False)] = True
            columns[column] = member
        else:
            counts = _selection_counts(Path(path), n_train)
            if counts is None:
                continue  # the method logs no selections (random_epoch, InfoBatch)
            columns[column] = counts
        provenance[column] = {"file": path, "sha256": sha256_of(Path(path))}
    table = pa.table(columns)
    metadata = {
        "dataset": dataset,
        "data_key": plan.data_key(dataset),
        "n_train": n_train,
        "classes": meta.get("classes"),
        "loader": plan.loader(dataset),
        "preparation_options": meta.get("options", {}),
        "label_noise": meta.get("label_noise"),
        "prepared_sha256": prepared_sha256(data_dir, meta),
        "source_order": ("the dataset's own train order (source_index)" if order is not None
                         else "not recorded by the preparation: index is the prepared order"),
        "proxy_recipe": plan.proxy_spec(dataset).as_dict() if plan.needs_proxy() else None,
        "proxy_digest": plan.proxy_key(dataset) if plan.needs_proxy() else None,
        "proxy_seeds": list(range(plan.proxy["seeds"])) if plan.needs_proxy() else [],
        "experiment": plan.experiment,
        "prunebench_version": __version__,
        "git_commit": git_commit(),
        "columns": provenance,
    }
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    return table, missing


def write_export(plan: ExperimentPlan, dataset: str) -> tuple[str, object, list[str]]:
    """Write results/<experiment>/export/<dataset>.parquet atomically."""
    import pyarrow.parquet as pq

    table, missing = export_table(plan, dataset)
    out = paths.export_file(plan.experiment, dataset)
    write_atomically(out, lambda tmp: pq.write_table(table, tmp))
    return out, table, missing


def read_export_metadata(path: str | Path) -> dict:
    """The provenance a file from `prunebench export` carries."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[METADATA_KEY])
