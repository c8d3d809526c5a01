"""Last-layer per-example gradients, kept factored (GradMatch's vectors; GLISTER's logits).

`batch_mean_gradients` builds GradMatchPB's per-batch rows; the factored atoms for the
reference OMP are `kernels.omp.reference.LastLayerGradients`.

For logits z = W h + b and cross-entropy, one example's gradient with respect to the head is
bias: e = softmax(z) - onehot(y) (C), weights: e h^T (C x D, nn.Linear's row-major layout).
GradMatch's vector is [e, vec(e h^T)] (bias then weights), C * (D + 1) numbers: 51,300 per
example on CIFAR-100 / ResNet-18. They are never materialised: inner products factor,
<g_i, g_j> = (e_i . e_j) (1 + h_i . h_j), so a class's Gram columns cost O(n (C + D)).
"""

from __future__ import annotations

import torch
from torch import Tensor


def batch_mean_gradients(errors: Tensor, features: Tensor, batches: list[Tensor]) -> Tensor:
    """One explicit row per mini-batch: the mean of its members' [e, vec(e h^T)] (GradMatchPB).
    Rows are built one batch at a time, so the n x C(D + 1) per-example matrix never exists."""
    rows = []
    for members in batches:
        e, h = errors[members], features[members]
        rows.append(torch.cat([e.mean(0), (e.T @ h).flatten() / len(members)]))
    return torch.stack(rows)
