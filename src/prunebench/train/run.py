"""One training job: `full`, a static subset or a dynamic method, under the protocol."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .. import math_mode
from ..atomic import read_npy
from ..data.prepared import load_label_noise
from ..errors import UserError
from ..implementations import implementation
from ..jobspec import TrainSpec
from ..ops import Ops
from ..options import build_options
from ..paths import fraction_label
from ..tracking import train_lineage
from .budget import full_steps, plan_steps
from .device import hardware_name, peak_gpu_memory_mb
from .loop import train_loop
from .noise import VisitCounts, run_noise_metrics
from .outputs import write_run_outputs, write_selection_log
from .passes import SubsetSampler
from .samplers import SamplerSetup
from .setup import RunParts, open_run_tracker, run_checkpoint, set_up_run


def load_subset(path: str | Path, n_train: int) -> np.ndarray:
    """Indices written by `prunebench select`, checked: sorted, unique, inside the training set."""
    indices = read_npy(path, what="subset file", rule="select_subset")
    ok = (indices.ndim == 1 and indices.dtype == np.int64 and len(indices) > 0
          and np.all(np.diff(indices) > 0) and indices[0] >= 0 and indices[-1] < n_train)
    if not ok:
        raise UserError(f"subset file {path} is not a sorted list of unique int64 indices below "
                        f"{n_train}; rebuild it with snakemake --forcerun select_subset {path}")
    return indices


def make_sampler(job: TrainSpec, run: RunParts, subset_path):
    """The sampler of the job's method and the examples per epoch its step budget is computed
    from; a dynamic method's sampler gets its options dataclass built from `job.options`."""
    entry, data = job.method_entry, run.data
    batch_size = run.settings.batch_size
    if entry.kind == "dynamic":
        sampler_class, options_class = implementation(entry)
        setup = SamplerSetup(
            labels=data.train_y, num_classes=data.num_classes, fraction=job.fraction,
            batch_size=batch_size, eval_batch_size=run.settings.eval_batch_size,
            epochs=run.settings.epochs, generator=run.order_generator,
            options=build_options(options_class, job.options))
        return sampler_class(setup), setup.n_budget
    if entry.kind == "reference":
        indices = np.arange(data.n_train, dtype=np.int64)
    else:
        indices = load_subset(subset_path, data.n_train)
    sampler = SubsetSampler(torch.from_numpy(indices).to(run.device), batch_size,
                            run.order_generator)
    return sampler, len(indices)


def subset_selection_seconds(subset_path) -> float:
    """The select job's own timer, from the JSON record beside the subset (a declared input)."""
    record = Path(subset_path).with_suffix(".json")
    try:
        return float(json.loads(record.read_text())["selection_s"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read the selection record {record} ({exc}); rebuild it with "
                        f"snakemake --forcerun select_subset {subset_path}") from exc


def run_training(job: TrainSpec, ops: Ops, *, data_dir, seed: int, out_dir, subset_path=None,
                 threads: int | None = None) -> dict:
    """Train one run and write its files (metrics.json, history.csv, selections.csv,
    selected.npz) into `out_dir`; returns the metrics. `job.method` names the run (a registered
    method or a variant), `job.base_method` the registered method it runs."""
    method, fraction = job.method, job.fraction
    kind = job.method_entry.kind
    if kind == "static" and subset_path is None:
        raise UserError(f"method {method!r} trains on a selected subset: pass --subset")
    started = time.perf_counter()
    static_selection_s = subset_selection_seconds(subset_path) if subset_path else 0.0
    run = set_up_run(job, ops, data_dir=data_dir, seed=seed, threads=threads)
    settings, device, data = run.settings, run.device, run.data
    sampler, n_used = make_sampler(job, run, subset_path)
    plan = plan_steps(protocol=job.protocol, kind=kind, n_train=data.n_train,
                      n_used=n_used, batch_size=settings.batch_size, epochs=settings.epochs)
    timers = run.timers
    # the fraction as the results' paths write it (f1, f0.5), so groups match folders
    tracker = open_run_tracker(job, ops, out_dir,
                               group_parts=[method, f"f{fraction_label(fraction)}"], seed=seed,
                               job_type="train", extra={"method": method, "fraction": fraction})
    checkpoint = run_checkpoint(out_dir, job, ops, run, method, fraction, seed)
    # with label noise, a dynamic run counts how often it trains on each example
    noise = load_label_noise(data_dir) if "label_noise" in data.meta else None
    visits = VisitCounts(data.n_train, device) if noise and kind == "dynamic" else None
    result = train_loop(run.model, data, sampler, plan, settings, device=device, timers=timers,
                        generator=run.augment_generator, callbacks=[visits] if visits else (),
                        on_epoch=lambda row: tracker.log(row, row["step"]), checkpoint=checkpoint)
    last = result.history[-1]
    extra = sampler.outputs()
    noise_fields = {} if noise is None else run_noise_metrics(
        noise["train_noisy"], data.meta["label_noise"], counts=visits,
        indices=None if kind == "dynamic" else sampler.passes.indices.cpu().numpy(),
        selections=extra.selections)
    write_selection_log(out_dir, extra.selections)
    metrics = {
        "experiment": ops.experiment, "dataset": job.dataset,
        "model": settings.model, "method": method, "base_method": job.base_method, "kind": kind,
        "fraction": fraction, "seed": seed, "score": job.score,
        "subset": str(subset_path) if subset_path else None,
        "subset_selection_s": static_selection_s,
        "protocol": job.protocol, **noise_fields,
        "test_acc": last["test_acc"], "test_loss": last["test_loss"],
        "train_loss": last["train_loss"], "epochs": plan.epochs,
        "steps_per_epoch": plan.steps_per_epoch, "steps": result.steps,
        "full_steps": full_steps(data.n_train, settings.batch_size, settings.epochs),
        "examples_seen": result.examples_seen, "n_train": data.n_train, "n_used": n_used,
        "counts": {"forward_examples": result.examples_seen + extra.forward_examples,
                   "backward_examples": result.examples_seen + extra.backward_examples,
                   "selection_forward_examples": extra.forward_examples,
                   "selection_backward_examples": extra.backward_examples},
        "sampler": extra.extra,
        "time": timers.snapshot(), "wall_time_s": round(time.perf_counter() - started, 6),
        "device": str(device), "hardware": hardware_name(device), "math": math_mode.active(),
        "gpu_peak_memory_mb": peak_gpu_memory_mb(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
    }
    write_run_outputs(out_dir, result.history, metrics)
    checkpoint.remove()
    tracker.record(train_lineage(data_dir, out_dir, subset_path))
    tracker.finish({k: metrics[k] for k in ("test_acc", "test_loss", "steps", "examples_seen",
                                            "noisy_share") if k in metrics})
    return metrics
