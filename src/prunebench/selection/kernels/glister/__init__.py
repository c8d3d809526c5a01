"""GLISTER's stochastic greedy with no host synchronisation per pick and a cheap validation step.

The public call, and the only place that chooses a path by device.

`glister_greedy` takes the inputs of `reference.stochastic_greedy` and returns its picks;
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

On a CPU the loop runs compiled (`compiled`, the same steps; a pick there is ~12 small
tensor ops whose overhead is the whole cost), elsewhere as tensor ops (`tensor`); `warm_up`
loads the compiled code before any timed phase (a no-op off the CPU). The one difference from
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

from .common import draw_positions
from .tensor import tensor_loop

__all__ = ["glister_greedy", "warm_up"]


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
    positions, valid = draw_positions(n, k, sample, rng, device)
    logits = val_logits.detach().to(device=device, dtype=torch.float64)
    exp_logits = torch.exp(logits - logits.max(dim=1, keepdim=True).values)  # P
    onehot_mean = F.one_hot(val_labels.to(device), classes).to(torch.float64).mean(0)
    if device.type == "cpu":  # the same loop compiled: a CPU pays per op, not per flop
        from .compiled import glister_greedy_compiled  # numba loads only where it is used

        return glister_greedy_compiled(grads.detach(), exp_logits, onehot_mean, k, eta,
                                       positions, valid)
    return tensor_loop(grads, exp_logits, onehot_mean, k, eta, positions, valid)


def warm_up(device: torch.device) -> None:
    """Load (or compile) the CPU's compiled greedy now, outside any timed phase."""
    if torch.device(device).type == "cpu":
        from .compiled import warm_up as load_compiled

        load_compiled()
