"""GLISTER's stochastic greedy with no host synchronisation per pick and a cheap validation step.

`glister_greedy` takes the inputs of `dynamic.glister.stochastic_greedy` and returns its picks;
two things make it fast while keeping the rule:

- Every pick's candidate sample is drawn before the loop. The sample at pick t is
  ``rng.choice(n - t, size, replace=False)``: positions into the first n - t entries of the
  ``remaining`` array, whose sizes do not depend on the picks, so drawing them all up front
  makes exactly the same calls on ``rng`` in the same order. The swap-remove bookkeeping of
  ``remaining`` then runs on the device (a gather, an argmax, an index write), so a pick is one
  chain of tensor ops: the candidates' gains in one matrix product, no ``int()`` per pick.
- The validation gradient after a virtual step, v = mean_i softmax(z_i - s) - mean onehot(y)
  with s = eta * (sum of the chosen gradients), is never recomputed by a softmax over V (on a
  CPU a softmax over rows of 10 classes costs ~10x an exp of the same tensor). With
  P_ic = exp(z_ic - max_c z_ic) (once per selection) and w_c = exp(min(s) - s_c) (C numbers per
  pick), softmax(z_i - s)_c = P_ic w_c / (P_i . w), hence
  v = w * (P^T (1 / (P w))) / |V| - mean onehot(y): two products with P per pick. Computed in
  float64 over sums of positive terms (w <= 1 and the largest w is 1, so P_i . w >= the P_ic of
  that class > 0 unless a row's logits span more than ~700), then cast to the gradients' dtype.

On a CPU the loop runs compiled (`glister_compiled`, the same steps; a pick there is ~12
small tensor ops whose overhead is the whole cost). The one difference from
`stochastic_greedy`: v is formed in float64 by this identity instead of in float32 by
softmax, so gains agree to float32 rounding and a pick can differ only where two sampled
candidates' gains agree to ~1e-7 relative (tests compare picks on fixed inputs).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .glister_compiled import glister_greedy_compiled


@torch.no_grad()
def glister_greedy(grads: Tensor, val_logits: Tensor, val_labels: Tensor, k: int, eta: float,
                   epsilon: float, rng: np.random.Generator) -> Tensor:
    """GLISTER's greedy: positions into `grads` (n x C bias gradients), in pick order, on the
    CPU as int64 (as `stochastic_greedy`). Runs on `grads.device`."""
    n, classes = grads.shape
    device = grads.device
    k = min(k, n)
    if k <= 0:
        return torch.zeros(0, dtype=torch.long)
    sample = min(n, math.ceil(n / max(k, 1) * math.log(1 / epsilon)))
    positions, valid = _draw_positions(n, k, sample, rng, device)
    logits = val_logits.detach().to(device=device, dtype=torch.float64)
    exp_logits = torch.exp(logits - logits.max(dim=1, keepdim=True).values)  # P
    onehot_mean = F.one_hot(val_labels.to(device), classes).to(torch.float64).mean(0)
    if device.type == "cpu":  # the same loop compiled: a CPU pays per op, not per flop
        return glister_greedy_compiled(grads.detach(), exp_logits, onehot_mean, k, eta,
                                       positions, valid)
    return _tensor_loop(grads, exp_logits, onehot_mean, k, eta, positions, valid)


def _tensor_loop(grads: Tensor, exp_logits: Tensor, onehot_mean: Tensor, k: int, eta: float,
                 positions: Tensor, valid: Tensor) -> Tensor:
    """The picks as one chain of tensor ops each, no host sync (a GPU's path)."""
    n, classes = grads.shape
    device = grads.device
    n_val = len(exp_logits)
    remaining = torch.arange(n, device=device)
    picked = torch.empty(k, dtype=torch.long, device=device)
    total = torch.zeros(classes, dtype=grads.dtype, device=device)
    v = _validation_gradient(exp_logits, onehot_mean, n_val, total, eta).to(grads.dtype)
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
        v = _validation_gradient(exp_logits, onehot_mean, n_val, total, eta).to(grads.dtype)
    return picked.cpu()


def _draw_positions(n: int, k: int, sample: int, rng: np.random.Generator,
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


def _validation_gradient(exp_logits: Tensor, onehot_mean: Tensor, n_val: int, total: Tensor,
                         eta: float) -> Tensor:
    """mean_i softmax(z_i - eta * total) - mean onehot, from P = exp(z - rowmax) (float64)."""
    shift = eta * total.to(torch.float64)
    w = torch.exp(shift.min() - shift)
    inverse_sums = torch.reciprocal(exp_logits @ w)
    return (exp_logits.T @ inverse_sums) * w / n_val - onehot_mean
