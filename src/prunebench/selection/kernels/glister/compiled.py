"""GLISTER's greedy compiled (numba), CPU: `glister_greedy`'s loop, one pick per iteration.

`glister_greedy` makes a pick one chain of tensor ops: the sampled candidates' gains, an
argmax, the swap-remove of the remaining array and the factored validation gradient
v = w * (P^T (1 / (P w))) / |V| - mean onehot(y) (see that module). On a CPU those ~12 small
ops per pick cost ~0.1 s a selection (MNIST-1D: 1,000 picks) against ~0.01 s of arithmetic;
here the same steps are a loop. The samples are drawn up front by `common.draw_positions`
(the same calls on the generator as the one-pick-at-a-time definition).

Arithmetic: v in float64, then rounded to the gradients' dtype, as `glister_greedy` does; a
gain g_i . v is summed in float64 over that dtype's values, where torch sums a float32
product in float32. Picks can therefore differ from `glister_greedy`'s only where two sampled
candidates' gains agree to float32 rounding (~1e-7 relative), as `glister_greedy`'s own can
from the softmax definition's (tests compare both on fixed inputs). The first call in a
process loads the machine code numba caches beside this file; `warm_up()` does that outside
any timed phase.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit
from torch import Tensor


def glister_greedy_compiled(grads: Tensor, exp_logits: Tensor, onehot_mean: Tensor, k: int,
                            eta: float, positions: Tensor, valid: Tensor) -> Tensor:
    """Picks (int64 CPU positions into `grads`, n x C, CPU) from `glister_greedy`'s inputs:
    P = exp(z - rowmax) of V's logits and mean onehot(y) (float64), the (k, sample) drawn
    positions and their mask."""
    g = np.ascontiguousarray(grads.numpy())
    picks = _greedy(g, np.ascontiguousarray(exp_logits.numpy(), dtype=np.float64),
                    np.ascontiguousarray(onehot_mean.numpy(), dtype=np.float64), int(k),
                    float(eta), np.ascontiguousarray(positions.numpy()),
                    np.ascontiguousarray(valid.numpy()))
    return torch.from_numpy(picks)


def warm_up() -> None:
    """Load (or compile) the machine code for float32 gradients now."""
    glister_greedy_compiled(torch.zeros(2, 2), torch.ones(1, 2, dtype=torch.float64),
                            torch.tensor([1.0, 0.0], dtype=torch.float64), 1, 0.1,
                            torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.bool))


@njit(cache=True, nogil=True)
def _validation_gradient(exp_logits, onehot_mean, total, eta, out):
    """out = mean_i softmax(z_i - eta * total) - mean onehot, from P = exp(z - rowmax)."""
    classes = exp_logits.shape[1]
    shift = np.empty(classes)
    for c in range(classes):
        shift[c] = eta * np.float64(total[c])
    w = np.exp(shift.min() - shift)
    column_sums = np.zeros(classes)
    for i in range(exp_logits.shape[0]):
        row = exp_logits[i]
        inverse = 1.0 / np.dot(row, w)
        for c in range(classes):
            column_sums[c] += row[c] * inverse
    n_val = exp_logits.shape[0]
    for c in range(classes):
        out[c] = column_sums[c] * w[c] / n_val - onehot_mean[c]


@njit(cache=True, nogil=True)
def _greedy(grads, exp_logits, onehot_mean, k, eta, positions, valid):
    n, classes = grads.shape
    remaining = np.arange(n)
    picked = np.empty(k, dtype=np.int64)
    total = np.zeros(classes, dtype=grads.dtype)
    v64 = np.empty(classes)
    v = np.empty(classes, dtype=grads.dtype)
    _validation_gradient(exp_logits, onehot_mean, total, eta, v64)
    for t in range(k):
        for c in range(classes):
            v[c] = v64[c]  # rounded to the gradients' dtype, as glister_greedy does
        left = n - t
        best, best_pos = -math.inf, -1
        for s in range(positions.shape[1]):
            if not valid[t, s]:
                continue
            candidate = remaining[positions[t, s]]
            gain = 0.0
            for c in range(classes):
                gain += np.float64(grads[candidate, c]) * np.float64(v[c])
            if gain > best or best_pos < 0:  # the first maximum
                best, best_pos = gain, positions[t, s]
        chosen = remaining[best_pos]
        picked[t] = chosen
        remaining[best_pos] = remaining[left - 1]
        for c in range(classes):
            total[c] += grads[chosen, c]
        _validation_gradient(exp_logits, onehot_mean, total, eta, v64)
    return picked
