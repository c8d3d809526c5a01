"""GLISTER's greedy as tensor ops, one chain per pick and no host synchronisation (a GPU's
path; tests run it on a CPU against the compiled loop)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .common import factored_validation_gradient


def tensor_loop(grads: Tensor, exp_logits: Tensor, onehot_mean: Tensor, k: int, eta: float,
                 positions: Tensor, valid: Tensor) -> Tensor:
    """The picks as one chain of tensor ops each, no host sync (a GPU's path)."""
    n, classes = grads.shape
    device = grads.device
    n_val = len(exp_logits)
    remaining = torch.arange(n, device=device)
    picked = torch.empty(k, dtype=torch.long, device=device)
    total = torch.zeros(classes, dtype=grads.dtype, device=device)
    v = factored_validation_gradient(exp_logits, onehot_mean, n_val, total, eta).to(grads.dtype)
    for t in range(k):
        left = n - t
        pos = positions[t]
        candidates = remaining[pos]
        gains = (grads[candidates] @ v).masked_fill_(~valid[t], -math.inf)
        best = torch.argmax(gains)  # first maximum, as np/torch argmax in the loop
        best_pos = pos[best].view(1)
        chosen = candidates[best].view(1)
        picked[t:t + 1] = chosen
        remaining.index_copy_(0, best_pos, remaining[left - 1:left].clone())
        total += grads.index_select(0, chosen)[0]
        v = factored_validation_gradient(exp_logits, onehot_mean, n_val, total, eta).to(grads.dtype)
    return picked.cpu()
