"""Proxy runs: ordinary full-data training that saves the per-example scores on the way.

The run follows the full run's learning-rate schedule and stops after `proxy.epochs`; scores
are taken on un-augmented training inputs in eval mode at the configured epoch k (GraNd also
at initialisation), and forgetting is counted over every training presentation. The run
computes TRAINED_SCORES (prunebench.methods) and saves the model's state at initialisation
and at k, from which every other score is computed by its own job (`scores.from_state`).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np
import torch

from .. import math_mode
from ..atomic import save_npy, write_atomically, write_json, write_text
from ..data.tensors import TensorData
from ..jobspec import ProxySpec
from ..methods import SCORES, proxy_array_file, state_file
from ..ops import Ops
from ..tracking import proxy_lineage
from ..train.budget import StepPlan, full_steps
from ..train.device import hardware_name
from ..train.loop import train_loop
from ..train.outputs import history_csv
from ..train.passes import SubsetSampler
from ..train.setup import open_run_tracker, run_checkpoint, set_up_run
from ..train.timers import PhaseTimers
from .protocol import ProxyEpoch, Scorer


def build_scorer(name: str, n_train: int, score_epoch: int, grand_chunk: int) -> Scorer:
    """The scorer registered under `name` in prunebench.methods.SCORES, taken when its entry's
    `at` says."""
    entry = SCORES[name]
    module = importlib.import_module(entry.module)
    return getattr(module, entry.scorer)(n_train, score_epoch, at=entry.at,
                                         grand_chunk=grand_chunk)


class ScoreRecorder:
    """Loop callback running every requested scorer at its epochs, charging each its cost."""

    def __init__(self, data: TensorData, scores: list[str], score_epoch: int, batch_size: int,
                 grand_chunk: int, timers: PhaseTimers):
        self.data, self.batch_size, self.timers = data, batch_size, timers
        self.scorers = {name: build_scorer(name, data.n_train, score_epoch, grand_chunk)
                        for name in scores}
        self.pass_seconds = dict.fromkeys(self.scorers, 0.0)  # each scorer's passes
        self.training_at: dict[int, float] = {0: 0.0}  # training seconds at each epoch's end

    def on_batch(self, indices, logits, targets) -> None:
        for scorer in self.scorers.values():
            scorer.on_batch(indices, logits, targets)

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        self.training_at[epoch] = self.timers.seconds["training"]
        shared = ProxyEpoch(epoch, model, self.data, self.batch_size)
        for name, scorer in self.scorers.items():
            if epoch not in scorer.epochs:
                continue
            computed_before = shared.pass_seconds > 0
            start = time.perf_counter()
            scorer.on_epoch(shared)
            elapsed = time.perf_counter() - start
            used_shared = shared.pass_seconds > 0
            if used_shared and not computed_before:
                elapsed -= shared.pass_seconds  # the shared pass is charged below, to each user
            self.pass_seconds[name] += elapsed + (shared.pass_seconds if used_shared else 0.0)

    def results(self) -> dict[str, np.ndarray]:
        return {name: scorer.result() for name, scorer in self.scorers.items()}

    def state_dict(self) -> dict:
        return {"scorers": {name: s.state_dict() for name, s in self.scorers.items()},
                "pass_seconds": self.pass_seconds, "training_at": self.training_at}

    def load_state_dict(self, state: dict) -> None:
        for name, saved in state["scorers"].items():
            self.scorers[name].load_state_dict(saved)
        self.pass_seconds, self.training_at = state["pass_seconds"], state["training_at"]

    def costs(self) -> dict[str, float]:
        """Seconds each score costs: proxy training up to when it exists plus its own passes."""
        out = {}
        for name, scorer in self.scorers.items():
            trained = (self.timers.seconds["training"] if scorer.run_long
                       else self.training_at.get(max(scorer.epochs), 0.0))
            out[name] = round(trained + self.pass_seconds[name], 6)
        return out


class StateSaver:
    """Loop callback keeping the model's state at the epochs later scores are computed from
    (`scores.from_state`): initialisation and the score epoch. The states are part of the
    run's checkpoint (a resumed run still has the ones taken before it stopped) and are
    written with the run's other results (`save`)."""

    def __init__(self, epochs: set[int]):
        self.epochs = epochs
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_batch(self, indices, logits, targets) -> None:
        pass

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        if epoch in self.epochs:
            self.states[epoch] = {k: v.detach().cpu().clone()
                                  for k, v in model.state_dict().items()}

    def save(self, out_dir) -> None:
        for epoch in sorted(self.epochs):
            state = self.states[epoch]
            write_atomically(Path(out_dir) / state_file(epoch),
                             lambda tmp, state=state: torch.save(state, tmp))

    def state_dict(self) -> dict:
        return {"states": self.states}

    def load_state_dict(self, state: dict) -> None:
        self.states = dict(state["states"])


def run_proxy(job: ProxySpec, ops: Ops, *, data_dir, seed: int, out_dir,
              threads: int | None = None) -> dict:
    """Train proxy seed `seed` and save its score arrays and metrics.json into `out_dir`."""
    started = time.perf_counter()
    proxy = job.proxy
    run = set_up_run(job, ops, data_dir=data_dir, seed=seed, threads=threads)
    settings, device, data, timers = run.settings, run.device, run.data, run.timers
    full = full_steps(data.n_train, settings.batch_size, settings.epochs)
    plan = StepPlan(proxy.epochs, full // settings.epochs)
    sampler = SubsetSampler(torch.arange(data.n_train, device=device), settings.batch_size,
                            run.order_generator)
    recorder = ScoreRecorder(data, list(proxy.scores), proxy.score_epoch,
                             settings.eval_batch_size, ops.grand_chunk, timers)
    states = StateSaver({0, proxy.score_epoch})
    tracker = open_run_tracker(job, ops, out_dir, group_parts=["proxy"], seed=seed,
                               job_type="proxy", extra={})
    checkpoint = run_checkpoint(out_dir, job, ops, run, "proxy", seed)
    result = train_loop(run.model, data, sampler, plan, settings, device=device, timers=timers,
                        generator=run.augment_generator, schedule_steps=full,
                        callbacks=[recorder, states],
                        on_epoch=lambda row: tracker.log(row, row["step"]),
                        checkpoint=checkpoint)
    out_dir = Path(out_dir)
    for score, array in recorder.results().items():
        save_npy(out_dir / proxy_array_file(score, proxy.score_epoch), array)
    states.save(out_dir)
    write_text(out_dir / "history.csv", history_csv(result.history))
    last = result.history[-1]
    metrics = {
        "dataset": job.dataset,
        "trained_for": ops.experiment,  # proxies are shared: who paid for this one
        "model": settings.model,
        "seed": seed,
        "epochs": plan.epochs,
        "score_epoch": proxy.score_epoch,
        "steps": result.steps,
        "examples_seen": result.examples_seen,
        "test_acc": last["test_acc"],
        "test_loss": last["test_loss"],
        "score_cost_s": recorder.costs(),
        # training seconds at each epoch's end: what a score computed later from the state
        # saved at that epoch is charged besides its own pass (scores.from_state)
        "training_s_at_epoch": {str(k): round(v, 6) for k, v in recorder.training_at.items()},
        "time": timers.snapshot(),
        "wall_time_s": round(time.perf_counter() - started, 6),
        "device": str(device),
        "hardware": hardware_name(device),
        "math": math_mode.active(),
    }
    write_json(out_dir / "metrics.json", metrics)
    checkpoint.remove()
    tracker.record(proxy_lineage(data_dir, out_dir))
    tracker.finish({"test_acc": last["test_acc"]})
    return metrics
