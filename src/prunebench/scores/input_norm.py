"""Input norm (Kirsch 2023's sanity baseline for Data Diet, BlackHC/data_diet).

Score: ||x||_2 of each training input after the same normalisation training uses
(TensorData.normalize: /255 for images, then (x - mean) / std per channel), un-augmented.
It needs no model. GraNd at initialisation tracks it with rank correlation ~0.96, so a score
that cannot beat it is not using what training learned.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from ..errors import UserError
from .protocol import ProxyEpoch, Scorer


def input_norm_scores(batches: Iterable[tuple[Tensor, Tensor]]) -> np.ndarray:
    """``||x||_2`` of every normalised input, in batch order: float32 (N,).

    ``batches`` yields ``(x, y)`` as ``TensorData.eval_batches("train", ...)`` does. The norm is
    summed in float64. Token ids (text datasets) have no meaningful norm and are refused.
    """
    parts: list[Tensor] = []
    for x, _ in batches:
        if not x.is_floating_point():
            raise UserError("input_norm needs real-valued inputs; this dataset's inputs are "
                            f"{x.dtype} (token ids?), whose norm means nothing")
        parts.append(torch.linalg.vector_norm(x.flatten(1).double(), dim=1).cpu())
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(parts).numpy().astype(np.float32)


class InputNormScorer(Scorer):
    """||x||_2 of every normalised training input; needs no model, so it is taken at
    initialisation (its SCORES entry's `at: init`) and charged only its own pass."""

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        self.array = input_norm_scores(epoch.batches())
