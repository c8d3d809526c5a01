"""The calibration run: a few dozen training steps, evaluation passes and per-example gradients
of the jobs' own code (model, optimizer, batched augmentation, bf16/channels_last on a GPU) on
random data of the dataset's shape, timed with the device synchronised. Speed does not depend on
the values, so no data needs preparing. The only module of `prunebench.cost` that imports torch.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import torch

from ..config import TrainSettings
from ..data.prepared import Prepared
from ..data.tensors import TensorData
from ..data.text_tokenizer import PACKAGED_MINILM
from ..models import build_model
from ..ops import Speed
from ..scores.grand import grand_scores
from ..train.device import hardware_name, peak_gpu_memory_mb, resolve_device, set_up_compute
from ..train.loop import autocast, evaluate, make_optimizer
from ..train.setup import apply_speed
from .facts import DatasetFacts
from .throughput import Throughput

WARMUP_STEPS = 3  # not timed: first-call allocations, cuDNN's autotuning
MIN_STEPS = 5  # timed steps at least; more up to `steps` while inside TIME_BOX_S
TIME_BOX_S = 10.0  # seconds a measurement may take (a ResNet-18 step is ~3 s on one CPU core)
EVAL_EXAMPLES = 128  # examples evaluated (once to warm up, once timed)
GRADIENT_EXAMPLES = 256  # GraNd's per-example gradients timed over (at most) this many


class Stopwatches:
    """Seconds per named measurement, on the clock that predicts a job's own time: on a CPU with
    one thread the process's CPU time, so other work on a shared machine does not slow the
    measurement (a job with its own core runs at that speed); else wall time, the device
    synchronised at both ends."""

    def __init__(self, device: torch.device, threads: int):
        self.device = device
        self.clock = time.process_time if device.type == "cpu" and threads == 1 \
            else time.perf_counter
        self.seconds: dict[str, float] = {}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def measure(self, name: str):
        self._sync()
        start = self.clock()
        yield
        self._sync()
        self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - start


def synthetic_prepared(facts: DatasetFacts, n: int, seed: int = 0) -> Prepared:
    """`n` random training and test examples of the dataset's shape, kind and classes."""
    rng = np.random.default_rng(seed)
    shape = (n, *facts.input_shape)
    channels = facts.input_shape[0]
    meta = {"kind": facts.kind, "shape": list(facts.input_shape), "name": facts.name,
            "num_classes": facts.num_classes, "mean": [0.5] * channels, "std": [0.25] * channels}
    if facts.kind == "image":
        x = rng.integers(0, 256, shape, dtype=np.uint8)
    elif facts.kind == "signal":
        x = rng.standard_normal(shape).astype(np.float32)
    else:  # token ids, an all-ones attention mask, token types 0/1
        x = np.stack([rng.integers(1000, 2000, (n, facts.input_shape[1])),
                      np.ones((n, facts.input_shape[1])),
                      rng.integers(0, 2, (n, facts.input_shape[1]))], axis=1).astype(np.int32)
        meta["tokenizer"] = {"name": PACKAGED_MINILM}
    y = rng.integers(0, facts.num_classes, n).astype(np.int64)
    return Prepared(x, y, x.copy(), y.copy(), meta)


def _set_up(prepared: Prepared, settings: TrainSettings, device: torch.device):
    data = TensorData.from_prepared(prepared, device)
    torch.manual_seed(0)
    model = build_model(settings.model, data.input_shape, data.num_classes,
                        meta=data.meta).to(device)
    apply_speed(model, data, device, Speed())
    generator = torch.Generator(device=device).manual_seed(0)
    return data, model, make_optimizer(model, settings), generator


def _step_function(data: TensorData, model, optimizer, generator, settings: TrainSettings,
                   n: int):
    """One training step as the loop takes it, on a random batch of the n examples."""
    device = data.train_y.device

    def train_step() -> None:
        indices = torch.randint(0, n, (settings.batch_size,), device=device,
                                generator=generator)
        x, y = data.train_batch(indices, settings.augment, generator)
        with autocast(device):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return train_step


def calibrate(facts: DatasetFacts, settings: TrainSettings, device_name: str, threads: int,
              steps: int = 40, gradients: bool = True) -> Throughput:
    """Time up to `steps` training steps (at least MIN_STEPS, then while inside TIME_BOX_S),
    evaluation over a few batches and (with `gradients`) GraNd's per-example gradients; a job's
    set-up is timed from data to the first step's end (`Stopwatches` says on which clock)."""
    device = resolve_device(device_name)
    set_up_compute(device, threads)
    batch, eval_batch = settings.batch_size, settings.eval_batch_size
    n = max(4 * batch, 2 * eval_batch)
    prepared = synthetic_prepared(facts, n)
    timers = Stopwatches(device, threads)
    # the set-up twice, timing the second: a job's process (or the fork server's child) has
    # its libraries loaded and initialised already, which the first pass here does
    for _ in range(2):
        timers.seconds.pop("setup", None)
        with timers.measure("setup"):
            data, model, optimizer, generator = _set_up(prepared, settings, device)
            train_step = _step_function(data, model, optimizer, generator, settings, n)
            model.train()
            train_step()
    overhead = timers.seconds["setup"]
    for _ in range(WARMUP_STEPS - 1):
        train_step()
    timed = 0
    with timers.measure("training"):
        started = time.perf_counter()
        while timed < steps and (timed < MIN_STEPS or time.perf_counter() - started < TIME_BOX_S):
            train_step()
            timed += 1
    sample = torch.arange(min(n, EVAL_EXAMPLES), device=device)
    # warm-up on the same shape: oneDNN and cuDNN build their kernels per input shape
    evaluate(model, data.eval_batches("test", eval_batch, sample), device)
    with timers.measure("evaluation"):
        evaluate(model, data.eval_batches("test", eval_batch, sample), device)
    gradients_per_s = 0.0
    if gradients:
        with timers.measure("gradients-warm-up"):
            grand_scores(model, data.eval_batches("train", eval_batch, torch.arange(8)))
        # as many as fit the time box at the warm-up's speed, at least 8
        fit = int(8 * TIME_BOX_S / max(timers.seconds["gradients-warm-up"], 1e-6))
        sample = torch.arange(max(8, min(n, GRADIENT_EXAMPLES, fit)), device=device)
        with timers.measure("gradients"):
            grand_scores(model, data.eval_batches("train", eval_batch, sample))
        gradients_per_s = len(sample) / timers.seconds["gradients"]
    return Throughput(train_per_s=round(timed * batch / timers.seconds["training"], 1),
                      eval_per_s=round(len(sample) / timers.seconds["evaluation"], 1),
                      gradients_per_s=round(gradients_per_s, 2),
                      job_overhead_s=round(overhead, 3), hardware=hardware_name(device),
                      source=f"calibration: {timed} steps on {device.type}, {threads} thread(s), "
                      f"{'CPU' if timers.clock is time.process_time else 'wall'} time",
                      peak_memory_mb=peak_gpu_memory_mb(device))
