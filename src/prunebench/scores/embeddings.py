"""Penultimate embeddings (the classifier head's input) for kcenter, herding and moderate.

Saved by a proxy run at the score epoch as `embeddings_e{k}.npy`: float16, shape (N, d), rows
in the prepared training set's order. float16 halves the file (50,000 x 512 is 50 MB) and is
ample for distances between features; a value beyond float16's range is refused, not saved
as inf.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UserError
from .protocol import ProxyEpoch, Scorer, eval_mode, model_device_dtype

FLOAT16_MAX = float(np.finfo(np.float16).max)


def penultimate_features(
    model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]]
) -> np.ndarray:
    """``model.forward_features(x)`` of every example, in batch order, as float16 (N, d).

    ``model`` must be a ``ClassifierNet`` (models/base.py). ``batches`` yields ``(x, y)``
    with x normalised and un-augmented; labels are not used. Eval mode under no_grad; the
    model's previous train/eval flags are restored.
    """
    if not callable(getattr(model, "forward_features", None)):
        raise UserError("embeddings need a ClassifierNet model (forward_features + head); "
                        f"{type(model).__name__} has no forward_features")
    device, dtype = model_device_dtype(model)
    parts: list[Tensor] = []
    with eval_mode(model), torch.no_grad():
        for x, _ in batches:
            h = model.forward_features(x.to(device=device, dtype=dtype)).flatten(1)
            # NaN fails the comparison too, so one check covers NaN, inf and overflow.
            if not bool((h.abs() <= FLOAT16_MAX).all()):
                raise UserError("penultimate features are not finite or exceed float16's range "
                                f"({FLOAT16_MAX:g}); the proxy model has diverged")
            parts.append(h.to(torch.float16).cpu())
    if not parts:
        return np.zeros((0, 0), dtype=np.float16)
    return torch.cat(parts).numpy()


class EmbeddingsScorer(Scorer):
    """Penultimate features of every training example at the score epoch k, float16 (N, d),
    from the epoch's shared eval pass (kCenter, Herding and Moderate select on them)."""

    dtype = np.float16

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        _, features = epoch.outputs()
        if features is None:
            raise UserError("embeddings need a ClassifierNet model (forward_features + head)")
        h = features.flatten(1)
        if not bool((h.abs() <= FLOAT16_MAX).all()):
            raise UserError("penultimate features are not finite or exceed float16's range "
                            f"({FLOAT16_MAX:g}); the proxy model has diverged")
        self.array = h.to(torch.float16).numpy()
