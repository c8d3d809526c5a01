"""One training job: the `full` reference or a static subset, under the experiment's protocol."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import read_npy
from ..errors import UserError
from ..methods import METHODS
from .budget import full_steps, plan_steps
from .loop import train_loop
from .outputs import write_run_outputs
from .samplers import SubsetSampler
from .setup import open_run_tracker, set_up_run


def load_subset(path: str | Path, n_train: int) -> np.ndarray:
    """Indices written by `prunebench select`, checked: sorted, unique, inside the training set."""
    indices = read_npy(path, what="subset file", rule="select_subset")
    ok = (indices.ndim == 1 and indices.dtype == np.int64 and len(indices) > 0
          and np.all(np.diff(indices) > 0) and indices[0] >= 0 and indices[-1] < n_train)
    if not ok:
        raise UserError(f"subset file {path} is not a sorted list of unique int64 indices below "
                        f"{n_train}; rebuild it with snakemake --forcerun select_subset {path}")
    return indices


def run_training(*, data_dir, spec: dict, method: str, fraction: float, seed: int,
                 out_dir, subset_path=None, score: str | None = None,
                 threads: int | None = None) -> dict:
    """Train one run and write history.csv + metrics.json into `out_dir`; returns the metrics."""
    if method not in METHODS:
        raise UserError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    kind = METHODS[method]["kind"]
    if kind == "static" and subset_path is None:
        raise UserError(f"method {method!r} trains on a selected subset: pass --subset")
    started = time.perf_counter()
    run = set_up_run(data_dir=data_dir, spec=spec, seed=seed, threads=threads)
    settings, device, data = run.settings, run.device, run.data
    if kind == "reference":
        indices = np.arange(data.n_train, dtype=np.int64)
    else:
        indices = load_subset(subset_path, data.n_train)
    plan = plan_steps(protocol=spec["protocol"], kind=kind, n_train=data.n_train,
                      n_used=len(indices), batch_size=settings.batch_size, epochs=settings.epochs)
    sampler = SubsetSampler(torch.from_numpy(indices).to(device), settings.batch_size,
                            run.order_generator)
    timers = run.timers
    tracker = open_run_tracker(spec, out_dir, group_parts=[method, f"f{fraction}"], seed=seed,
                               job_type="train", extra={"method": method, "fraction": fraction})
    result = train_loop(run.model, data, sampler, plan, settings, device=device, timers=timers,
                        generator=run.augment_generator,
                        on_epoch=lambda row: tracker.log(row, row["step"]))
    last = result.history[-1]
    metrics = {
        "experiment": spec["experiment"], "dataset": spec["dataset"], "model": settings.model,
        "method": method, "kind": kind, "fraction": fraction, "seed": seed, "score": score,
        "subset": str(subset_path) if subset_path else None,
        "protocol": spec["protocol"],
        "test_acc": last["test_acc"], "test_loss": last["test_loss"],
        "train_loss": last["train_loss"], "epochs": plan.epochs,
        "steps_per_epoch": plan.steps_per_epoch, "steps": result.steps,
        "full_steps": full_steps(data.n_train, settings.batch_size, settings.epochs),
        "examples_seen": result.examples_seen, "n_train": data.n_train, "n_used": len(indices),
        "time": timers.snapshot(), "wall_time_s": round(time.perf_counter() - started, 6),
        "device": str(device), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
    }
    write_run_outputs(out_dir, result.history, metrics)
    tracker.finish({k: metrics[k] for k in ("test_acc", "test_loss", "steps", "examples_seen")})
    return metrics
