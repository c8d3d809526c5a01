"""Eval-mode forwards of the un-augmented training set, the inputs of every selection decision.

Precision policy: whatever a sampler ranks, picks or weights examples by is computed from
float32 logits and features, with no autocast, as the proxy scores are (`scores/`): a bf16
forward would let rounding decide near-ties between examples, and differently on each GPU.
Only what mirrors a training step (CREST's quadratic fit of the training loss) runs under the
training step's autocast. On the CPU there is no autocast at all, so nothing changes there.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...models.base import eval_mode


@torch.no_grad()
def eval_logits(model: torch.nn.Module, data, indices: Tensor, batch_size: int) -> Tensor:
    """float32 logits of the un-augmented training examples `indices`, in eval mode."""
    device = data.train_y.device
    parts = []
    with eval_mode(model):
        for x, _ in data.eval_batches("train", batch_size, indices.to(device)):
            parts.append(model(x).float())
    return torch.cat(parts) if parts else torch.zeros(0, device=device)


@torch.no_grad()
def features_and_logits(model: torch.nn.Module, data, indices: Tensor,
                        batch_size: int) -> tuple[Tensor, Tensor]:
    """float32 penultimate features h = model.forward_features(x) and logits model.head(h) of
    the un-augmented training examples `indices`, in eval mode."""
    device = data.train_y.device
    features, logits = [], []
    with eval_mode(model):
        for x, _ in data.eval_batches("train", batch_size, indices.to(device)):
            h = model.forward_features(x)
            features.append(h.float())
            logits.append(model.head(h).float())
    if not features:
        return torch.zeros(0, device=device), torch.zeros(0, device=device)
    return torch.cat(features), torch.cat(logits)
