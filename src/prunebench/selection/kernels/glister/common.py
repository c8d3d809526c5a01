"""What GLISTER's greedy paths share: every pick's candidate sample, drawn up front, and the
validation gradient after a virtual step, factored (the package's ``__init__`` says why)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def draw_positions(n: int, k: int, sample: int, rng: np.random.Generator,
                    device: torch.device) -> tuple[Tensor, Tensor]:
    """Every pick's sample, drawn as the loop draws it: (k, sample) positions (padded with 0
    where fewer than `sample` candidates are left) and a mask of the real ones."""
    positions = np.zeros((k, sample), dtype=np.int64)
    valid = np.zeros((k, sample), dtype=bool)
    for t in range(k):
        left = n - t
        size = min(sample, left)
        positions[t, :size] = rng.choice(left, size=size, replace=False)
        valid[t, :size] = True
    return torch.from_numpy(positions).to(device), torch.from_numpy(valid).to(device)


def factored_validation_gradient(exp_logits: Tensor, onehot_mean: Tensor, n_val: int, total: Tensor,
                         eta: float) -> Tensor:
    """mean_i softmax(z_i - eta * total) - mean onehot, from P = exp(z - rowmax) (float64)."""
    shift = eta * total.to(torch.float64)
    w = torch.exp(shift.min() - shift)
    inverse_sums = torch.reciprocal(exp_logits @ w)
    return (exp_logits.T @ inverse_sums) * w / n_val - onehot_mean
