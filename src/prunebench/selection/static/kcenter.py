"""k-center greedy (Sener & Savarese 2018; DeepCore `kcentergreedy.py`) on proxy embeddings.

Per class (class-balanced quotas) or over one pool: a first centre drawn uniformly with the
rng passed in, then repeatedly the point farthest (Euclidean) from the chosen set. The first
centre counts toward the quota, as in DeepCore. The result covers the pool within twice the
optimal k-center radius (Gonzalez 1985).

Each step updates one vector of squared distances to the nearest centre with a single
matrix-vector product (see embedding_pool.py): O(chunk_size x d + n) memory, where DeepCore
keeps a (k x n) distance matrix. Ties go to the lower index (torch.argmax returns the first).
On the GPU the loop never waits for the host; CPU and GPU can differ on near-exact ties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...options import option
from .embedding_pool import CHUNK_ROWS, Pool, select_greedily


@dataclass(frozen=True)
class KCenterOptions:
    """`chunk_size` and `device` are operational keyword arguments of `select_kcenter` (they
    change memory and speed, never the picks), so they are not options."""

    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def k_center_greedy(pool: Pool, k: int, first: int) -> Tensor:
    """Indices into `pool` (int64, on its device, in the order chosen) of k greedy centres
    starting from `first`; k is capped at the pool size."""
    k = min(k, pool.n)
    device = pool.rows.device
    picks = torch.empty(k, dtype=torch.long, device=device)
    nearest = torch.full((pool.n,), torch.inf, dtype=pool.dtype, device=device)
    p = torch.tensor(first, dtype=torch.long, device=device)
    for i in range(k):
        picks[i] = p
        c = pool.row(p)
        # ||x - c||^2 = ||x||^2 + ||c||^2 - 2 x.c on centred rows
        d2 = pool.dot(c).mul_(-2.0).add_(pool.sq_norms).add_(c @ c)
        torch.minimum(nearest, d2, out=nearest)
        # -inf keeps chosen points out even when every remaining point duplicates a centre.
        nearest.index_fill_(0, p.view(1), -torch.inf)
        p = torch.argmax(nearest)
    return picks


def select_kcenter(
    values,
    labels: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    options: KCenterOptions = KCenterOptions(),
    *,
    chunk_size: int = CHUNK_ROWS,
    device: str = "auto",
) -> np.ndarray:
    """k-center greedy on `values` (N x d embeddings, numpy or torch): sorted int64 indices.

    Per group (each class, or everything when class_balanced is false) one first centre is
    drawn with `rng.integers(group size)`, groups in ascending class order.
    `chunk_size` bounds the rows converted to float32 at once; `device` is auto, cpu or cuda.
    """
    return select_greedily(
        values, labels, fraction, class_balanced=options.class_balanced,
        chunk_size=chunk_size, device=device,
        greedy=lambda pool, idx, q: k_center_greedy(pool, q, int(rng.integers(len(idx)))))
