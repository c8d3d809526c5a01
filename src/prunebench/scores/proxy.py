"""Proxy runs: ordinary full-data training that saves the per-example scores on the way.

The run follows the full run's learning-rate schedule and stops after `proxy.epochs`; scores
are taken on un-augmented training inputs in eval mode at the configured epoch k (GraNd also
at initialisation), and forgetting is counted over every training presentation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import save_npy, write_json, write_text
from ..data.tensors import TensorData
from ..methods import proxy_array_file
from ..train.budget import StepPlan, full_steps
from ..train.device import hardware_name
from ..train.loop import train_loop
from ..train.outputs import history_csv
from ..train.samplers import SubsetSampler
from ..train.setup import open_run_tracker, run_checkpoint, set_up_run
from ..train.timers import PhaseTimers
from .el2n import el2n_scores
from .forgetting import ForgettingTracker
from .grand import grand_last_scores, grand_scores


class ScoreRecorder:
    """Loop callback computing each requested score at its epoch, with its own cost."""

    def __init__(
        self,
        data: TensorData,
        scores: list[str],
        score_epoch: int,
        batch_size: int,
        grand_chunk: int,
        timers: PhaseTimers,
    ):
        self.data, self.scores, self.k = data, set(scores), score_epoch
        self.batch_size, self.grand_chunk, self.timers = batch_size, grand_chunk, timers
        self.arrays: dict[str, np.ndarray] = {}
        self.pass_seconds: dict[str, float] = {}
        self.training_seconds_at_k = 0.0
        self.forgetting = ForgettingTracker(data.n_train) if "forgetting" in scores else None
        self._el2n_sum = np.zeros(data.n_train, dtype=np.float64)

    def _timed(self, name: str, fn):
        start = time.perf_counter()
        out = fn(self.data.eval_batches("train", self.batch_size))
        self.pass_seconds[name] = self.pass_seconds.get(name, 0.0) + time.perf_counter() - start
        return out

    def on_batch(self, indices, logits, targets) -> None:
        if self.forgetting is not None:
            self.forgetting.update(indices.cpu(), (logits.argmax(1) == targets).cpu())

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        if epoch == 0 and "grand_init" in self.scores:
            self.arrays["grand_init"] = self._timed(
                "grand_init", lambda b: grand_scores(model, b, chunk_size=self.grand_chunk)
            )
        el2n_now = None
        if 1 <= epoch <= self.k and "el2n_sum" in self.scores:
            el2n_now = self._timed("el2n_sum", lambda b: el2n_scores(model, b))
            self._el2n_sum += el2n_now
        if epoch != self.k:
            return
        self.training_seconds_at_k = self.timers.seconds["training"]
        if "el2n_sum" in self.scores:
            self.arrays["el2n_sum"] = self._el2n_sum.astype(np.float32)
        if "el2n" in self.scores:
            self.arrays["el2n"] = (
                el2n_now
                if el2n_now is not None
                else self._timed("el2n", lambda b: el2n_scores(model, b))
            )
        if "grand" in self.scores:
            self.arrays["grand"] = self._timed(
                "grand", lambda b: grand_scores(model, b, chunk_size=self.grand_chunk)
            )
        if "grand_last" in self.scores:
            self.arrays["grand_last"] = self._timed(
                "grand_last", lambda b: grand_last_scores(model, b)
            )

    def state_dict(self) -> dict:
        tracker = self.forgetting
        return {"arrays": self.arrays, "pass_seconds": self.pass_seconds,
                "training_seconds_at_k": self.training_seconds_at_k, "el2n_sum": self._el2n_sum,
                "forgetting": None if tracker is None else
                (tracker.prev_correct, tracker.ever_correct, tracker.n_forgotten)}

    def load_state_dict(self, state: dict) -> None:
        self.arrays, self.pass_seconds = state["arrays"], state["pass_seconds"]
        self.training_seconds_at_k = state["training_seconds_at_k"]
        self._el2n_sum = state["el2n_sum"]
        if self.forgetting is not None:
            tracker = self.forgetting
            tracker.prev_correct, tracker.ever_correct, tracker.n_forgotten = state["forgetting"]

    def costs(self) -> dict[str, float]:
        """Seconds each score costs: proxy training up to when it exists plus its own passes."""
        out = {}
        for score in self.scores:
            if score == "forgetting":
                out[score] = self.timers.seconds["training"]
            elif score == "grand_init":
                out[score] = self.pass_seconds.get(score, 0.0)
            else:
                # el2n reuses el2n_sum's pass at epoch k when both are on: charge it the same
                own = self.pass_seconds.get(score, self.pass_seconds.get("el2n_sum", 0.0))
                out[score] = self.training_seconds_at_k + own
        return {k: round(v, 6) for k, v in out.items()}


def run_proxy(*, data_dir, spec: dict, seed: int, out_dir, threads: int | None = None) -> dict:
    """Train proxy seed `seed` and save its score arrays and metrics.json into `out_dir`."""
    started = time.perf_counter()
    proxy = spec["proxy"]
    run = set_up_run(data_dir=data_dir, spec=spec, seed=seed, threads=threads)
    settings, device, data, timers = run.settings, run.device, run.data, run.timers
    full = full_steps(data.n_train, settings.batch_size, settings.epochs)
    plan = StepPlan(proxy["epochs"], full // settings.epochs)
    sampler = SubsetSampler(torch.arange(data.n_train, device=device), settings.batch_size,
                            run.order_generator)
    recorder = ScoreRecorder(data, proxy["scores"], proxy["score_epoch"],
                             settings.eval_batch_size, proxy["grand_chunk"], timers)
    tracker = open_run_tracker(spec, out_dir, group_parts=["proxy"], seed=seed,
                               job_type="proxy", extra={})
    checkpoint = run_checkpoint(out_dir, spec, run, "proxy", seed)
    result = train_loop(run.model, data, sampler, plan, settings, device=device, timers=timers,
                        generator=run.augment_generator, schedule_steps=full,
                        callbacks=[recorder], on_epoch=lambda row: tracker.log(row, row["step"]),
                        checkpoint=checkpoint)
    if recorder.forgetting is not None:
        recorder.arrays["forgetting"] = recorder.forgetting.scores()
    out_dir = Path(out_dir)
    for score, array in recorder.arrays.items():
        save_npy(out_dir / proxy_array_file(score, proxy["score_epoch"]), array.astype(np.float32))
    write_text(out_dir / "history.csv", history_csv(result.history))
    last = result.history[-1]
    metrics = {
        "experiment": spec["experiment"],
        "dataset": spec["dataset"],
        "model": settings.model,
        "seed": seed,
        "epochs": plan.epochs,
        "score_epoch": proxy["score_epoch"],
        "steps": result.steps,
        "examples_seen": result.examples_seen,
        "test_acc": last["test_acc"],
        "test_loss": last["test_loss"],
        "score_cost_s": recorder.costs(),
        "time": timers.snapshot(),
        "wall_time_s": round(time.perf_counter() - started, 6),
        "device": str(device),
        "hardware": hardware_name(device),
    }
    write_json(out_dir / "metrics.json", metrics)
    checkpoint.remove()
    tracker.finish({"test_acc": last["test_acc"]})
    return metrics
