"""A score computed after its proxy run, from the model state the run saved (`prunebench
proxy-score`): a score outside TRAINED_SCORES (prunebench.methods) added to an experiment runs
this job per proxy seed and trains nothing.

It builds the proxy's model, loads the state saved at the score's epoch and runs the same
scorer on the same eval pass (`protocol.ProxyEpoch`) as the proxy run would have, so the array
is the one the run would have computed (tested bit for bit). Its cost, as the proxy run charges
its own scores: the run's training seconds up to that epoch plus this job's pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..atomic import save_npy, write_json
from ..data.prepared import load_prepared
from ..data.tensors import TensorData
from ..errors import UserError
from ..jobspec import ProxySpec
from ..methods import from_state, state_epoch
from ..models import build_model
from ..ops import Ops
from ..train.device import resolve_device, set_up_compute
from ..train.setup import apply_speed
from .protocol import ProxyEpoch
from .proxy import build_scorer


def compute_from_state(job: ProxySpec, ops: Ops, *, score: str, data_dir, state,
                       threads: int | None = None) -> tuple[np.ndarray, float]:
    """(array, seconds of its pass): `score` of the proxy model whose state `state` holds, as
    the proxy run computes it at the state's epoch. A score the run accumulates over several
    epochs or batches (el2n_sum, forgetting) is refused: one state cannot give it."""
    epoch = state_epoch(score, job.proxy.score_epoch)
    device = resolve_device(ops.device)
    set_up_compute(device, threads)
    data = TensorData.from_prepared(load_prepared(data_dir), device)
    scorer = build_scorer(score, data.n_train, job.proxy.score_epoch, ops.grand_chunk)
    if scorer.epochs != {epoch}:
        raise UserError(f"{score} accumulates over epochs {sorted(scorer.epochs)} of the proxy "
                        "run; it cannot come from one saved state")
    model = build_model(job.training.model, data.input_shape, data.num_classes,
                        meta=data.meta).to(device)
    # the run's memory layout, never compiled: its scorers ran eagerly (loop._pass_phase)
    apply_speed(model, data, device, replace(ops.speed, compile=False))
    model.load_state_dict(torch.load(state, map_location=device, weights_only=True))
    start = time.perf_counter()
    scorer.on_epoch(ProxyEpoch(epoch, model, data, job.training.eval_batch_size))
    array = scorer.result()
    return array, time.perf_counter() - start


def score_from_state(job: ProxySpec, ops: Ops, *, score: str, data_dir, state, proxy_metrics,
                     out, cost_out, threads: int | None = None) -> np.ndarray:
    """Compute `score` from the proxy state file `state` (saved by the run whose metrics.json
    is `proxy_metrics`); save the array to `out` and its cost record to `cost_out`."""
    if not from_state(score):
        raise UserError(f"{score} is computed while the proxy trains (TRAINED_SCORES), not from "
                        "a saved state")
    run = json.loads(Path(proxy_metrics).read_text())
    array, seconds = compute_from_state(job, ops, score=score, data_dir=data_dir, state=state,
                                        threads=threads)
    save_npy(out, array)
    trained = run["training_s_at_epoch"][str(state_epoch(score, job.proxy.score_epoch))]
    # read by the aggregate like a proxy run's metrics.json (report.read.aggregate)
    write_json(cost_out, {"dataset": job.dataset, "seed": run["seed"],
                          "trained_for": run.get("trained_for"), "computed_for": ops.experiment,
                          "from_state": Path(state).name, "pass_s": round(seconds, 6),
                          "score_cost_s": {score: round(trained + seconds, 6)}})
    return array
