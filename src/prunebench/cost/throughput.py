"""Measured speed per (dataset, model, device): what prices a job's counted work.

Where a throughput comes from, in the order `prunebench plan` looks:
1. a calibration run's cached file (`calibrate`, a few dozen steps of the job's own code on
   data of the dataset's shape), kept under results/calibration/ keyed like the store: by the
   dataset's facts, model, batch sizes, augmentation, device and threads;
2. on a GPU with no calibration, the H100 table (`h100`, from docs/performance.md);
3. otherwise none: the jobs are counted but not priced.
Torch-free: reading, keying and pricing; only `calibrate` runs anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import paths
from ..config import TrainSettings
from ..hardware import cpu_model
from .facts import DatasetFacts

DEVICES = ("cpu", "cuda")
CALIBRATION = f"{paths.RESULTS}/calibration/{{dataset}}/{{model}}/{{key}}/{{device}}.json"
# seconds of a job without model passes, when no finished job of its rule says otherwise
SMALL_JOB_SECONDS = {"prepare_dataset": 5.0, "prepare_noisy_dataset": 5.0, "mean_scores": 1.0,
                     "select_subset": 1.0, "aggregate": 2.0, "report": 15.0}


@dataclass(frozen=True)
class Throughput:
    train_per_s: float  # training examples a second: augment, forward, backward, SGD step
    eval_per_s: float  # examples forwarded a second in eval mode (evaluation, selection passes)
    gradients_per_s: float  # per-example gradients a second (GraNd)
    job_overhead_s: float  # a training job's set-up: data to the device, model, first step
    hardware: str  # the machine that measured it
    source: str  # how: a calibration file, the H100 table
    # seconds per selection of a dynamic method's algorithm on top of its passes, where measured
    selection_s: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float | None = None  # a job's peak GPU memory, where measured

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_file(cls, path: str | Path) -> Throughput:
        return cls(**json.loads(Path(path).read_text()))


def calibration_key(facts: DatasetFacts, settings: TrainSettings, threads: int) -> str:
    """What a throughput depends on besides the model and device: the inputs' shape and kind,
    the batch sizes, the augmentation and the CPU threads (not the data's values or the seed)."""
    return paths.digest({"shape": list(facts.input_shape), "kind": facts.kind,
                         "classes": facts.num_classes, "batch": settings.batch_size,
                         "eval_batch": settings.eval_batch_size,
                         "augment": settings.augment, "threads": threads})


def calibration_file(facts: DatasetFacts, settings: TrainSettings, device: str,
                     threads: int) -> str:
    return paths.fill(CALIBRATION, dataset=facts.name, model=settings.model,
                      key=calibration_key(facts, settings, threads), device=device)


def cached_calibration(path: str | Path, device: str) -> Throughput | None:
    """The cached calibration at `path`, when it exists and (on a CPU) was measured on this
    machine's CPU model; None otherwise."""
    path = Path(path)
    if not path.exists():
        return None
    measured = Throughput.from_file(path)
    if device == "cpu" and measured.hardware != cpu_model():
        return None
    return measured
