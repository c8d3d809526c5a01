"""Herding (Welling 2009; Chen et al. 2010; DeepCore `herding.py`) on proxy embeddings.

Per class (class-balanced quotas) or over one pool, mu = the pool's mean embedding. Step i
(i = 0, 1, ...) adds the unchosen point p minimising ||(i+1) mu - sum_{s in S} x_s - x_p||,
so the mean of the chosen points tracks mu. DeepCore takes the argmax of that distance (the
point that pulls the mean *away* from mu): a fault, not copied (docs/methods.md).

With rows centred on mu (x' = x - mu, s' = sum of chosen x'), the objective is
||s' + x'_p||^2 = ||s'||^2 + 2 s'.x'_p + ||x'_p||^2, so a step is one matrix-vector product
over the pool (embedding_pool.py): O(chunk_size x d + n) memory. Ties go to the lower index.
The rng is unused: herding is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...options import option
from .embedding_pool import CHUNK_ROWS, Pool, select_greedily


@dataclass(frozen=True)
class HerdingOptions:
    """`chunk_size` and `device` are operational keyword arguments of `select_herding` (they
    change memory and speed, never the picks), so they are not options."""

    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def herding(pool: Pool, k: int) -> Tensor:
    """Indices into `pool` (int64, on its device, in the order chosen) of k herding steps;
    k is capped at the pool size."""
    k = min(k, pool.n)
    device = pool.rows.device
    picks = torch.empty(k, dtype=torch.long, device=device)
    # The running sum stays in float64: it is added to k times.
    total = torch.zeros(pool.rows.shape[1], dtype=torch.float64, device=device)
    chosen = torch.zeros(pool.n, dtype=pool.dtype, device=device)  # +inf once chosen
    for i in range(k):
        objective = pool.dot(total.to(pool.dtype)).mul_(2.0).add_(pool.sq_norms).add_(chosen)
        p = torch.argmin(objective)
        picks[i] = p
        chosen.index_fill_(0, p.view(1), torch.inf)
        total += pool.row(p).to(torch.float64)
    return picks


def select_herding(
    values,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: HerdingOptions = HerdingOptions(),
    *,
    chunk_size: int = CHUNK_ROWS,
    device: str = "auto",
) -> np.ndarray:
    """Herding on `values` (N x d embeddings, numpy or torch): sorted int64 indices.

    `chunk_size` bounds the rows converted to float32 at once; `device` is auto, cpu or cuda.
    """
    return select_greedily(
        values, labels, fraction, class_balanced=options.class_balanced,
        chunk_size=chunk_size, device=device,
        greedy=lambda pool, idx, q: herding(pool, q))
