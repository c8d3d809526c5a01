"""The error vector: the cross-entropy gradient with respect to the logits, softmax(z) - onehot(y).

One definition for every user: EL2N is its norm, CRAIG and CREST pick medoids on it, GradMatch's
last-layer gradient is built from it, GLISTER's greedy ranks by it. Imports only torch, so both
`scores/` and `selection/` may use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def error_vectors(logits: Tensor, labels: Tensor) -> Tensor:
    """softmax(logits) - onehot(labels), one row per example, in the logits' dtype."""
    return softmax_error(logits, F.one_hot(labels, logits.shape[1]).to(logits.dtype))


def softmax_error(logits: Tensor, onehot: Tensor) -> Tensor:
    """The same with the targets already one-hot (a loop that reuses them builds them once)."""
    return torch.softmax(logits, dim=1) - onehot
