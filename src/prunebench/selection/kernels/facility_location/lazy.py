"""Minoux's lazy greedy in torch, for problems whose distance matrix is not stored.

Gains only shrink as S grows (submodularity), so a gain computed at an earlier step bounds it
now. A step re-evaluates the candidates with the largest bounds, in batches that double, until
no stale bound comes within ``BOUND_RTOL`` of the best exact gain; the pick is then the one
full evaluation makes. Its gains are float32 terms summed in float64, so no summation order
can move a pick. Rows come from ``common.Distances``: recomputed in tiles beyond chunk_size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .common import BOUND_RTOL, TIE_RTOL, Distances, assign, cluster_sizes, first_near_max

# Candidates re-evaluated in the first batch of a lazy step; later batches double.
FIRST_BATCH = 16


def lazy_greedy(distances: Distances, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Minoux's lazy greedy with exact re-evaluation of stale bounds, in batches."""
    n, device = distances.n, distances.x.device
    sums = distances.reduce_rows(torch.arange(n, device=device),
                                 lambda b: b.sum(dim=1, dtype=torch.float64))
    pick = int(first_near_max(-sums))
    picks = [pick]
    nearest = distances.row(pick).clone()
    owner = torch.zeros(n, dtype=torch.long, device=device)
    # Upper bounds on the gains: +inf until first evaluated, -inf once chosen.
    bound = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    bound[pick] = -math.inf
    for step in range(1, k):
        pick = lazy_step(distances, nearest, bound, chunk_size)
        picks.append(pick)
        bound[pick] = -math.inf
        assign(nearest, owner, distances.row(pick), step)
    return torch.tensor(picks, dtype=torch.long, device=device), cluster_sizes(owner, k)


def lazy_step(distances: Distances, nearest: Tensor, bound: Tensor, chunk_size: int) -> int:
    """The greedy's pick given stale bounds; re-evaluated gains are written into ``bound``."""
    # A bound of exactly 0 is exact: each term max(0, m_i - d_ic) was 0 and m_i only shrinks.
    exact = bound == 0.0
    best, batch = 0.0, FIRST_BATCH

    def gains(block: Tensor) -> Tensor:  # sum_i max(0, m_i - d_ci) = -sum_i min(0, d_ci - m_i)
        # float32 terms, float64 sums: the summation order (tiles, vector width, a compiled
        # loop) then moves a gain by ~1e-13, never across the 1e-5 tie tolerance
        return block.sub_(nearest).clamp_max_(0.0).sum(dim=1, dtype=torch.float64).neg_()

    while True:
        # Stale bounds that might reach the best exact gain (or tie with it) are evaluated.
        pending = bound.masked_fill(exact | (bound <= best * (1.0 - BOUND_RTOL)), -math.inf)
        top = torch.topk(pending, min(batch, len(bound)))
        values = top.values.tolist()
        if values[0] == -math.inf:
            # Gains within TIE_RTOL of the best tie; the lowest index wins (as _first_near_max).
            known = bound.masked_fill(~exact, -math.inf)
            return int(torch.argmax((known >= best * (1.0 - TIE_RTOL)).to(torch.uint8)))
        if values[0] == math.inf:  # the first full evaluation after the first pick
            candidates = torch.nonzero(pending == math.inf).flatten()
        else:
            count = values.index(-math.inf) if values[-1] == -math.inf else len(values)
            candidates = top.indices[:count]
        evaluated = distances.reduce_rows(candidates, gains)
        bound.index_copy_(0, candidates, evaluated)
        exact.index_fill_(0, candidates, True)
        best = max(best, float(evaluated.max()))
        batch = min(2 * batch, chunk_size)
