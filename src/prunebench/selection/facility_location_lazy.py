"""Minoux's lazy greedy on many facility-location problems of different sizes at once (CPU).

`greedy_facility_location` solves a problem of more than 512 points on a CPU with its lazy
greedy; CRAIG has one such problem per class (MNIST-1D: 10 of ~1,000 points, 100 picks each),
and looped, a step's cost there is its control, not its arithmetic: ~15 small tensor ops and
host reads per step per class. Here one step advances every problem: the bounds of all
problems live in one padded (G, n_max) tensor, so the stale-bound test, the top-k and the host
reads run once per round for all of them; only the exact gains are computed problem by
problem, over exactly the rows and row lengths the single greedy sums (so the float32 gain sums
are bit for bit the same; padding never enters a sum).

Why the picks are the single greedy's even though the candidates re-evaluated in a round need
not be the same ones (top-k orders equal bounds differently on a padded row): a step ends only
when no stale bound comes within `_BOUND_RTOL` of the best exact gain, so every candidate whose
gain is within `_TIE_RTOL` of the maximum has been evaluated exactly; the pick is the lowest
such index, which depends only on the exact gains, not on the order they were evaluated in.
Cluster sizes follow from the picks as in the single greedy.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .facility_location import (
    _BOUND_RTOL,
    _TIE_RTOL,
    _assign,
    _cluster_sizes,
    _Distances,
    _first_near_max,
)

# Candidates re-evaluated in a problem's first round of a step (then doubling): 32, not the
# single greedy's 16, measured best of 16/32/128 on MNIST-1D's CRAIG proxies (10 classes of
# ~1,000, 100 picks each); the picks do not depend on it (see the module docstring).
_FIRST_BATCH = 32


def lazy_greedy_many(features: list[Tensor], ks: list[int], chunk_size: int = 4096
                     ) -> list[tuple[Tensor, Tensor]]:
    """`greedy_facility_location(features[g], ks[g])` for every g (each 1 <= ks[g] <= n_g
    <= chunk_size, float64 (n_g, d) features): (picks, weights) per problem."""
    matrices = [_Distances(x, chunk_size).matrix for x in features]
    count = len(matrices)
    sizes = [len(m) for m in matrices]
    bound = torch.full((count, max(sizes)), -math.inf)
    picks: list[list[int]] = []
    nearest, owner = [], []
    for g, matrix in enumerate(matrices):
        pick = int(_first_near_max(-matrix.sum(dim=1)))
        picks.append([pick])
        nearest.append(matrix[pick].clone())
        owner.append(torch.zeros(sizes[g], dtype=torch.long))
        bound[g, :sizes[g]] = math.inf
        bound[g, pick] = -math.inf
    for step in range(1, max(ks)):
        live = [g for g in range(count) if step < ks[g]]
        for g, pick in zip(live, _lazy_steps(matrices, nearest, bound, live, chunk_size),
                           strict=True):
            picks[g].append(pick)
            bound[g, pick] = -math.inf
            _assign(nearest[g], owner[g], matrices[g][pick], step)
    return [(torch.tensor(picks[g], dtype=torch.long), _cluster_sizes(owner[g], ks[g]))
            for g in range(count)]


def _gains(matrix: Tensor, nearest: Tensor, candidates: Tensor) -> Tensor:
    """sum_i max(0, m_i - d_ci) per candidate row, as the single greedy's lazy step sums it."""
    block = torch.index_select(matrix, 0, candidates)
    return block.sub_(nearest).clamp_max_(0.0).sum(dim=1).neg_()


def _all_gains(matrix: Tensor, nearest: Tensor) -> Tensor:
    return torch.sub(matrix, nearest).clamp_max_(0.0).sum(dim=1).neg_()


def _lazy_steps(matrices: list[Tensor], nearest: list[Tensor], bound: Tensor, live: list[int],
                chunk_size: int) -> list[int]:
    """One lazy-greedy step of each problem in `live`; re-evaluated gains go into `bound`."""
    rows = torch.tensor(live, dtype=torch.long)
    bounds = bound[rows]  # (L, n_max) working copy, written back at the end
    exact = bounds == 0.0  # a bound of exactly 0 is exact (see facility_location)
    best = [0.0] * len(live)
    chosen: list[int | None] = [None] * len(live)
    batch = _FIRST_BATCH
    while True:
        threshold = torch.tensor([b * (1.0 - _BOUND_RTOL) for b in best], dtype=bounds.dtype)
        pending = bounds.masked_fill(exact | (bounds <= threshold.unsqueeze(1)), -math.inf)
        finished = torch.tensor([c is not None for c in chosen])
        pending[finished] = -math.inf
        top = torch.topk(pending, min(batch, bounds.shape[1]), dim=1)
        counts = (top.values > -math.inf).sum(dim=1).tolist()
        unevaluated = (top.values[:, 0] == math.inf).tolist()
        for i, g in enumerate(live):
            if chosen[i] is not None:
                continue
            if counts[i] == 0:  # nothing stale can tie: the lowest index near the best wins
                known = bounds[i].masked_fill(~exact[i], -math.inf)
                chosen[i] = int(torch.argmax((known >= best[i] * (1.0 - _TIE_RTOL))
                                             .to(torch.uint8)))
                continue
            if unevaluated[i]:  # the first full evaluation after the first pick: every row,
                # straight from the matrix (no gathered copy; each row's sum is the same)
                candidates = torch.nonzero(pending[i] == math.inf).flatten()
                evaluated = _all_gains(matrices[g], nearest[g])[candidates]
            else:
                candidates = top.indices[i, :counts[i]]
                evaluated = _gains(matrices[g], nearest[g], candidates)
            bounds[i].index_copy_(0, candidates, evaluated)
            exact[i].index_fill_(0, candidates, True)
            best[i] = max(best[i], float(evaluated.max()))
        if all(c is not None for c in chosen):
            bound[rows] = bounds
            return [int(c) for c in chosen]
        batch = min(2 * batch, chunk_size)
