"""EL2N score (Paul et al. 2021): the L2 norm of the error vector ``softmax(f(x)) - onehot(y)``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (and every submodule) in eval mode, then restore each module's own flag.

    Per-module flags are restored, not just the root's, because a caller may have frozen
    some submodules (e.g. BatchNorm) in eval mode on purpose.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was_training in modes:
            m.training = was_training


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter (inputs are moved to match)."""
    p = next(model.parameters())
    return p.device, p.dtype


def error_norm(logits: Tensor, y: Tensor) -> Tensor:
    """Per-row ``|| softmax(logits) - onehot(y) ||_2``."""
    err = torch.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)
    return torch.linalg.vector_norm(err, dim=1)


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
