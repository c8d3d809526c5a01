"""Per-example scores of a model state, through the proxy job's own scorers.

`score` builds the scorer `prunebench.methods.SCORES` registers under the name
(`scores.proxy.build_scorer`) and hands it the same `ProxyEpoch` a proxy run does: one
eval-mode float pass over the un-augmented examples in dataset order. `ForgettingTracker`
wraps the proxy's `ForgettingScorer`, fed every training batch; `ScoreTracker` is the proxy
run's loop callback (`scores.proxy.ScoreRecorder`) for any set of scores, EL2N's sum over
epochs included. For the same model state, data and batch size the arrays are the proxy
job's, bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from ..methods import SCORES
from ..scores.protocol import ProxyEpoch
from ..scores.proxy import ScoreRecorder, build_scorer
from ..train.timers import PhaseTimers
from .data import as_tensor_data, model_device

DEFAULT_BATCH_SIZE = 1024  # the config's eval_batch_size default: the proxy's pass batches
DEFAULT_GRAND_CHUNK = 64  # the config's proxy.grand_chunk default


def _score_name(name: str) -> str:
    if name not in SCORES:
        raise UserError(f"name {name!r} is not a registered score; choose one of: "
                        f"{', '.join(SCORES)}")
    return name


def _check_batch(batch_size: int, grand_chunk: int) -> None:
    for arg, value in (("batch_size", batch_size), ("grand_chunk", grand_chunk)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{arg} must be a positive integer, got {value!r}")


def score(name: str, model: torch.nn.Module | None, x, y=None, *,
          batch_size: int = DEFAULT_BATCH_SIZE, grand_chunk: int = DEFAULT_GRAND_CHUNK,
          device: torch.device | str | None = None) -> np.ndarray:
    """Score every example of (`x` [N, ...], `y` [N]) (or a Dataset `x` of (x, y) pairs) under
    `model` as it is now, in dataset order.

    `name` is a score of `available_scores()` taken at one model state: el2n, grand,
    grand_init (GraNd of the model you pass, meant untrained), grand_last, the uncertainty
    scores, input_norm (no model needed: pass None) and embeddings. `forgetting` is counted over
    training (`ForgettingTracker`), el2n_sum over epochs (`ScoreTracker`).
    x: the model's inputs, normalised as it takes them, un-augmented. The pass runs in eval
    mode under no_grad (float32, no autocast), `batch_size` examples at a time on `device`
    (default: the model's); GraNd's per-example gradients in chunks of `grand_chunk`.
    Returns float32 [N] (embeddings: float16 [N, d]) on the CPU."""
    name = _score_name(name)
    _check_batch(batch_size, grand_chunk)
    entry = SCORES[name]
    if entry.at == "run":
        raise UserError(f"score {name!r} is counted over a whole training run: feed "
                        f"pb.ForgettingTracker(n).update(indices, logits, labels) every step")
    if name == "el2n_sum":
        raise UserError("score 'el2n_sum' sums EL2N over epochs 1..k: use "
                        "pb.ScoreTracker(['el2n_sum'], x, y, score_epoch=k) in your loop")
    if model is None and name != "input_norm":
        raise UserError(f"score {name!r} needs a model; only input_norm is computed without one")
    data = as_tensor_data(x, y, device=device or model_device(model))
    scorer = build_scorer(name, data.n_train, 1, grand_chunk)
    epoch = min(scorer.epochs)
    scorer.on_epoch(ProxyEpoch(epoch, model, data, batch_size))
    return scorer.result()


def _cpu_tensor(value, name: str) -> Tensor:
    tensor = value.detach() if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
    if tensor.dim() == 0:
        raise UserError(f"{name} must be a 1-D (or, for logits, 2-D) array, got a scalar")
    return tensor.cpu()


class ForgettingTracker:
    """Forgetting events (Toneva et al.) over the presentations you feed it: the proxy run's
    `ForgettingScorer`, which counts, per example, correct -> incorrect transitions between
    consecutive presentations."""

    def __init__(self, n_examples: int):
        """Track `n_examples` examples, indexed 0..n_examples-1 in dataset order."""
        if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 1:
            raise UserError(f"n_examples must be a positive integer, got {n_examples!r}")
        self._scorer = build_scorer("forgetting", n_examples, 1, DEFAULT_GRAND_CHUNK)

    def update(self, indices, logits, labels) -> None:
        """One training batch: dataset `indices` [B] (distinct), the training step's `logits`
        [B, C] and `labels` [B], any device."""
        indices, logits = _cpu_tensor(indices, "indices"), _cpu_tensor(logits, "logits")
        labels = _cpu_tensor(labels, "labels")
        if logits.dim() != 2 or not len(indices) == len(logits) == len(labels):
            raise UserError(f"indices ({len(indices)}), logits {tuple(logits.shape)} and labels "
                            f"({len(labels)}) must describe the same batch: [B], [B, C], [B]")
        try:
            self._scorer.on_batch(indices, logits, labels)
        except ValueError as exc:
            raise UserError(f"indices: {exc}") from exc

    def scores(self) -> np.ndarray:
        """float32 [N]: forgetting events per example, +inf for one never classified right."""
        return self._scorer.result()


class ScoreTracker:
    """The proxy run's score recorder in your loop: call `update` after every training step
    and `epoch_end` after every epoch (and `epoch_end(0, model)` before training for
    grand_init and input_norm); `scores()` then holds what a proxy run of those epochs saves,
    with score epoch k = `score_epoch`."""

    def __init__(self, names: list[str], x, y=None, *, score_epoch: int,
                 batch_size: int = DEFAULT_BATCH_SIZE, grand_chunk: int = DEFAULT_GRAND_CHUNK,
                 device: torch.device | str | None = None):
        names = [_score_name(name) for name in names]
        _check_batch(batch_size, grand_chunk)
        if isinstance(score_epoch, bool) or not isinstance(score_epoch, int) or score_epoch < 1:
            raise UserError(f"score_epoch must be an epoch number >= 1, got {score_epoch!r}")
        self.data = as_tensor_data(x, y, device=device)
        self.timers = PhaseTimers(self.data.train_y.device)
        self.recorder = ScoreRecorder(self.data, names, score_epoch, batch_size, grand_chunk,
                                      self.timers)

    def update(self, indices, logits, labels) -> None:
        """One training batch (as `ForgettingTracker.update`)."""
        self.recorder.on_batch(_cpu_tensor(indices, "indices"), _cpu_tensor(logits, "logits"),
                               _cpu_tensor(labels, "labels"))

    def epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        """After epoch `epoch` (0: before training): the scores taken then, from `model`."""
        with self.timers.phase("scoring"):
            self.recorder.on_epoch_end(epoch, model)

    def scores(self) -> dict[str, np.ndarray]:
        """name -> its array (float32 [N]; embeddings float16 [N, d])."""
        try:
            return self.recorder.results()
        except RuntimeError as exc:
            raise UserError(f"a score has not been taken yet ({exc}); call epoch_end for every "
                            "epoch up to score_epoch") from exc
