"""The share of flipped labels in what a run trained on (datasets prepared with label noise).

A static subset's (and `full`'s) share is that of its indices; a dynamic run's weighs every
example by how often a training step used it (`VisitCounts`, a loop callback, so a resumed run
keeps its counts), and each selection's share goes into its row of selections.csv.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..label_noise import noisy_share
from .samplers import SelectionRecord


class VisitCounts:
    """How many times each training example was in a training step's batch."""

    def __init__(self, n_train: int, device: torch.device):
        self.counts = torch.zeros(n_train, dtype=torch.int64, device=device)

    def on_batch(self, indices: Tensor, logits: Tensor, targets: Tensor) -> None:
        self.counts.index_add_(0, indices.to(self.counts.device), torch.ones_like(
            indices, device=self.counts.device))

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        pass

    def state_dict(self) -> dict:
        return {"counts": self.counts.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.counts.copy_(state["counts"].to(self.counts.device))


def run_noise_metrics(noisy: np.ndarray, settings: dict, *, indices: np.ndarray | None,
                      counts: VisitCounts | None,
                      selections: list[SelectionRecord]) -> dict:
    """metrics.json's label-noise fields: the dataset's settings (rate, kind, seed, flips) and
    the run's noisy share; adds `noisy_share` to each selection's columns."""
    for record in selections:
        record.columns["noisy_share"] = noisy_share(noisy, record.indices.numpy())
    if counts is not None:
        share = noisy_share(noisy, counts=counts.counts.cpu().numpy())
    else:
        share = noisy_share(noisy, indices)
    return {"label_noise": settings, "noisy_share": share}
