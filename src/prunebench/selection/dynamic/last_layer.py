"""Last-layer per-example gradients, kept factored (GradMatch's vectors; GLISTER's logits).

For logits z = W h + b and cross-entropy, one example's gradient with respect to the head is
bias: e = softmax(z) - onehot(y) (C), weights: e h^T (C x D, nn.Linear's row-major layout).
GradMatch's vector is [e, vec(e h^T)] (bias then weights), C * (D + 1) numbers: 51,300 per
example on CIFAR-100 / ResNet-18. They are never materialised: inner products factor,
<g_i, g_j> = (e_i . e_j) (1 + h_i . h_j), so a class's Gram columns cost O(n (C + D)).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...logit_gradients import error_vectors


class LastLayerGradients:
    """Rows g_i = [e_i, vec(e_i h_i^T)] given by their factors E (n x C) and H (n x D); the
    target is their sum. Speaks `selection.omp.Atoms`."""

    def __init__(self, errors: Tensor, features: Tensor):
        self.errors, self.features = errors, features

    @classmethod
    def from_logits(cls, logits: Tensor, labels: Tensor, features: Tensor) -> LastLayerGradients:
        return cls(error_vectors(logits, labels), features)

    def __len__(self) -> int:
        return len(self.errors)

    def restrict_to_class_row(self, label: int) -> LastLayerGradients:
        """Only the head's row of class `label` (CORDS's 'PerClassPerGradient'): [e_c, e_c h]."""
        return LastLayerGradients(self.errors[:, label:label + 1], self.features)

    def _target_factors(self) -> tuple[Tensor, Tensor]:
        # b = sum_i g_i = [E^T 1, E^T H]
        return self.errors.sum(0), self.errors.T @ self.features

    def products(self) -> Tensor:
        """<g_i, b> = e_i . s + e_i^T M h_i with s = E^T 1, M = E^T H."""
        s, m = self._target_factors()
        return self.errors @ s + ((self.errors @ m) * self.features).sum(1)

    def target_sq_norm(self) -> float:
        s, m = self._target_factors()
        return float(s.double().pow(2).sum() + m.double().pow(2).sum())

    def columns(self, idx: Tensor) -> Tensor:
        """<g_i, g_j> = (e_i . e_j)(1 + h_i . h_j) for every i and each j in idx."""
        return ((self.errors @ self.errors[idx].T)
                * (1.0 + self.features @ self.features[idx].T))

    def dense(self) -> Tensor:
        """The explicit n x C(D + 1) rows (tests and small problems only)."""
        outer = self.errors[:, :, None] * self.features[:, None, :]
        return torch.cat([self.errors, outer.flatten(1)], 1)


def batch_mean_gradients(errors: Tensor, features: Tensor, batches: list[Tensor]) -> Tensor:
    """One explicit row per mini-batch: the mean of its members' [e, vec(e h^T)] (GradMatchPB).
    Rows are built one batch at a time, so the n x C(D + 1) per-example matrix never exists."""
    rows = []
    for members in batches:
        e, h = errors[members], features[members]
        rows.append(torch.cat([e.mean(0), (e.T @ h).flatten() / len(members)]))
    return torch.stack(rows)
