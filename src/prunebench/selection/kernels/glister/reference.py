"""GLISTER's greedy one pick at a time as the paper states it: the readable definition that
tests and benchmarks/selection_limits.py compare ``glister_greedy`` with."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ....logit_gradients import softmax_error


def validation_gradient(val_logits: Tensor, val_onehot: Tensor, shift: Tensor | float) -> Tensor:
    """Mean over V of the logit gradient softmax(z - shift) - onehot(y)."""
    return softmax_error(val_logits - shift, val_onehot).mean(0)


def stochastic_greedy(grads: Tensor, val_logits: Tensor, val_labels: Tensor, k: int, eta: float,
                      epsilon: float, rng: np.random.Generator) -> Tensor:
    """GLISTER's greedy, one pick at a time as the paper states it: positions into `grads`
    (n x C bias gradients), in pick order. The sampler runs `glister_greedy`, which makes the
    same picks with one product per pick and no host sync."""
    n, classes = grads.shape
    k = min(k, n)
    sample = min(n, math.ceil(n / max(k, 1) * math.log(1 / epsilon)))
    onehot = F.one_hot(val_labels, classes).to(val_logits.dtype)
    v = validation_gradient(val_logits, onehot, 0.0)
    total = torch.zeros(classes, dtype=grads.dtype, device=grads.device)
    remaining = np.arange(n)  # the first n - t entries are the candidates left at pick t
    picked = np.empty(k, dtype=np.int64)
    for t in range(k):
        left = n - t
        positions = rng.choice(left, size=min(sample, left), replace=False)
        candidates = torch.from_numpy(remaining[positions]).to(grads.device)
        best = positions[int(torch.argmax(grads[candidates] @ v))]
        chosen = int(remaining[best])
        picked[t] = chosen
        remaining[best] = remaining[left - 1]
        total += grads[chosen]
        v = validation_gradient(val_logits, onehot, eta * total)
    return torch.from_numpy(picked)
