"""Fake result trees for the report tests: the real file contracts (metrics.json, history.csv,
subset records, proxy metrics, score files, CREST's selections.csv / selected.npz) filled with
numbers the tests choose, so every expected value can be derived by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from prunebench.config import load_schema, validate_config
from prunebench.methods import METHODS
from prunebench.plan import ExperimentPlan, Run

from .conftest import SCHEMA

DATASET, MODEL, N_TRAIN, EPOCHS = "mnist1d", "mnist1d_cnn", 40, 3
FULL_STEPS = 30


def toy_config(methods: list[str], seeds=(0, 1, 2), fractions=(0.5,), **blocks) -> dict:
    """A resolved config (validated, defaults filled) for one small dataset; `blocks` adds
    top-level keys (e.g. reference_results)."""
    return validate_config({**blocks,
        "experiment": "toy", "protocol": "budget", "device": "cpu",
        "datasets": {DATASET: {"model": MODEL, "epochs": EPOCHS,
                               "options": {"train_size": N_TRAIN, "test_size": 20}}},
        "methods": methods, "fractions": list(fractions), "seeds": list(seeds),
        "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1},
    }, load_schema(SCHEMA))


def toy_plan() -> ExperimentPlan:
    """The paths of toy_config's experiment (they do not depend on its methods)."""
    return ExperimentPlan(toy_config(["full"]))


def run_dir(root: Path, method: str, fraction: float, seed: int) -> Path:
    return root / toy_plan().run_dir(Run(DATASET, method, fraction, seed))


def write_run(root: Path, method: str, fraction: float, seed: int, *, acc: float,
              training: float, evaluation: float = 1.0, selection: float = 0.0,
              steps: int | None = None, subset_selection_s: float | None = None,
              extra_time: dict | None = None, counts: dict | None = None) -> Path:
    """metrics.json + history.csv of one run; history's last row matches the metrics."""
    out = run_dir(root, method, fraction, seed)
    out.mkdir(parents=True, exist_ok=True)
    kind = METHODS[method].kind
    score = METHODS[method].score
    steps = steps if steps is not None else round(FULL_STEPS * fraction)
    time = {"scoring": 0.0, "selection": selection, "training": training,
            "evaluation": evaluation, **(extra_time or {})}
    metrics = {
        "experiment": "toy", "dataset": DATASET, "model": MODEL, "method": method, "kind": kind,
        "fraction": fraction, "seed": seed, "score": score, "protocol": "budget",
        "subset_selection_s": subset_selection_s or 0.0 if kind == "static" else 0.0,
        "test_acc": acc, "test_loss": 1 - acc, "epochs": EPOCHS, "steps": steps,
        "full_steps": FULL_STEPS, "examples_seen": steps * 8, "n_train": N_TRAIN,
        "n_used": int(N_TRAIN * fraction), "time": time,
        "wall_time_s": selection + training + evaluation, "device": "cpu", "threads": 1,
        "torch": "2.9.0", "python": "3.11.2",
    }
    if counts is not None:
        metrics["counts"] = counts
    (out / "metrics.json").write_text(json.dumps(metrics))
    lines = ["epoch,step,lr,train_loss,test_loss,test_acc,examples_seen,time_scoring,"
             "time_selection,time_training,time_evaluation"]
    for epoch in range(1, EPOCHS + 1):
        share = epoch / EPOCHS
        lines.append(f"{epoch},{round(steps * share)},0.1,1.0,1.0,{acc * share:.4f},"
                     f"{round(steps * share) * 8},0,{selection * share},{training * share},"
                     f"{evaluation * share}")
    (out / "history.csv").write_text("\n".join(lines) + "\n")
    return out


def write_selection_log(out: Path, steps: list[int], reasons: list[str],
                        pool_sizes: list[int], picked: list[list[int]]) -> None:
    """selections.csv and selected.npz as the CREST sampler writes them."""
    rows = ["step,epoch,reason,rel_error,pool_size,n_selected,selection_s"]
    for step, reason, pool, idx in zip(steps, reasons, pool_sizes, picked, strict=True):
        rel_error = "0.25" if reason == "check failed" else ""
        rows.append(f"{step},{step // 10 + 1},{reason},{rel_error},{pool},{len(idx)},0.1")
    (out / "selections.csv").write_text("\n".join(rows) + "\n")
    sizes = [len(i) for i in picked]
    np.savez(out / "selected.npz", steps=np.array(steps, dtype=np.int64),
             offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
             indices=np.concatenate([np.array(i, dtype=np.int64) for i in picked]),
             weights=np.ones(sum(sizes), dtype=np.float32))


def write_proxies(root: Path, costs: dict[str, float], seeds=(0, 1),
                  trained_for: str = "toy") -> list[str]:
    paths = []
    for seed in seeds:
        out = root / toy_plan().proxy_dir(DATASET, seed)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(
            {"dataset": DATASET, "model": MODEL, "seed": seed, "score_cost_s": costs,
             "trained_for": trained_for}))
        paths.append(str(out / "metrics.json"))
    return paths


def write_scores(root: Path, scores: dict[str, np.ndarray]) -> list[str]:
    paths = []
    for name, values in scores.items():
        path = root / toy_plan().score_file(DATASET, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, values.astype(np.float32))
        paths.append(str(path))
    return paths


def toy_scores() -> dict[str, np.ndarray]:
    """el2n rises with the index, grand falls, forgetting = index // 10 with the last 4 +inf."""
    index = np.arange(N_TRAIN, dtype=np.float64)
    forgetting = index // 10
    forgetting[-4:] = np.inf
    return {"el2n": index / N_TRAIN, "grand": (N_TRAIN - index) / N_TRAIN,
            "forgetting": forgetting}
