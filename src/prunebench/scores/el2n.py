"""EL2N score (Paul et al. 2021): the L2 norm of the error vector ``softmax(f(x)) - onehot(y)``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from ..logit_gradients import error_vectors
from .protocol import ProxyEpoch, Scorer, eval_mode, model_device_dtype


def error_norm(logits: Tensor, y: Tensor) -> Tensor:
    """Per-row ``|| softmax(logits) - onehot(y) ||_2``."""
    return torch.linalg.vector_norm(error_vectors(logits, y), dim=1)


def to_float32(parts: list[Tensor]) -> np.ndarray:
    """Concatenate per-batch results in dataset order as a float32 numpy array."""
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(parts).detach().cpu().numpy().astype(np.float32, copy=False)


def el2n_scores(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]]) -> np.ndarray:
    """EL2N score of every example, in the order ``batches`` yields them.

    ``batches`` yields ``(x, y)`` with ``x`` already normalised and ``y`` int64 labels.
    The pass runs in eval mode (BatchNorm uses running statistics, dropout is off) under
    ``torch.no_grad``; the model's previous train/eval flags are restored afterwards.
    Returns a float32 array of length N.
    """
    device, dtype = model_device_dtype(model)
    parts: list[Tensor] = []
    with eval_mode(model), torch.no_grad():
        for x, y in batches:
            logits = model(x.to(device=device, dtype=dtype))
            parts.append(error_norm(logits, y.to(device)).cpu())
    return to_float32(parts)


class EL2NScorer(Scorer):
    """EL2N at the score epoch k, from the epoch's shared eval pass."""

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        logits, _ = epoch.outputs()
        self.array = error_norm(logits, epoch.labels).numpy().astype(np.float32)


class EL2NSumScorer(Scorer):
    """Sum of EL2N over epochs 1..k (CCS's el2n), one shared eval pass per epoch."""

    def __init__(self, n_train: int, score_epoch: int, **kw):
        super().__init__(n_train, score_epoch, **kw)
        self.epochs |= set(range(1, score_epoch))  # taken at k, accumulated from epoch 1
        self.total = np.zeros(n_train, dtype=np.float64)

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        logits, _ = epoch.outputs()
        self.total += error_norm(logits, epoch.labels).numpy().astype(np.float32)
        if epoch.epoch == self.score_epoch:
            self.array = self.total.astype(np.float32)

    def state_dict(self) -> dict:
        return {"array": self.array, "total": self.total}

    def load_state_dict(self, state: dict) -> None:
        self.array, self.total = state["array"], state["total"]
