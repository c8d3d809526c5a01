"""The dense greedy: every gain every step from a stored distance matrix, for one problem
(``eager_greedy``) or for G problems of one shape stacked into a batch
(``stacked_eager_greedy``, over ``stacked_distances``). No host synchronisation until the end:
on a GPU the cost of a small problem is its kernel launches, and a stack pays them once.

The stacked path is the single one op for op, per problem: a float32 sum over a row padded
with zeros is not the sum over the row alone (vectorised reductions associate differently), so
problems are stacked only with others of the same size, never padded. One difference in
arithmetic remains: the batch's products come from ``baddbmm`` and the single problem's from
``addmm``, which can differ in the last float64 bit (measured: 13k of 980k entries); that
changes a float32 distance only when the float64 value sits on a float32 rounding boundary
(none seen in those 980k, nor in the tests' instances), and never a duplicate's distance,
which both floor to exactly 0 (``common.cancellation_floor_``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .common import TIE_RTOL, assign, cancellation_floor_, cluster_sizes, first_near_max


def eager_greedy(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Every gain every step from the full matrix; no host synchronisation until the end."""
    n = len(matrix)
    # Picks stay on the device as 1-element tensors (index_select, index_fill_: no sync).
    pick = first_near_max(-matrix.sum(dim=1)).view(1)
    picks = [pick]
    chosen = torch.zeros(n, dtype=torch.bool, device=matrix.device).index_fill_(0, pick, True)
    nearest = torch.index_select(matrix, 0, pick)[0]
    owner = torch.zeros(n, dtype=torch.long, device=matrix.device)
    for step in range(1, k):
        gains = (nearest.unsqueeze(0) - matrix).clamp_min_(0.0).sum(dim=1)
        pick = first_near_max(gains.masked_fill_(chosen, -math.inf)).view(1)
        picks.append(pick)
        chosen.index_fill_(0, pick, True)
        assign(nearest, owner, torch.index_select(matrix, 0, pick)[0], step)
    return torch.cat(picks), cluster_sizes(owner, k)



def stacked_distances(x: Tensor) -> Tensor:
    """(G, n, n) float32 distances within each of G float64 problems (G, n, d).

    The single greedy's ``Distances`` and ``distance_block`` op for op, per problem:
    centre, squared norms, norms summed before the product term, floor, round, clamp, root.
    """
    x = x - x.mean(dim=1, keepdim=True)
    sq_norms = (x * x).sum(dim=2)
    norm_sums = sq_norms.unsqueeze(2) + sq_norms.unsqueeze(1)
    work = torch.baddbmm(norm_sums, x, x.transpose(1, 2), alpha=-2.0)
    cancellation_floor_(work, norm_sums, x.shape[2])
    matrix = work.to(torch.float32).clamp_min_(0.0).sqrt_()
    matrix.diagonal(dim1=1, dim2=2).zero_()
    return matrix


def first_near_max_rows(values: Tensor) -> Tensor:
    """Per row, the lowest index within ``TIE_RTOL`` of the row's maximum (the tie rule)."""
    best = values.max(dim=1, keepdim=True).values
    return torch.argmax((values >= best - TIE_RTOL * best.abs()).to(torch.uint8), dim=1)


def stacked_eager_greedy(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``eager_greedy`` on G problems at once: (G, k) picks and (G, k) float32 weights."""
    count, n = matrix.shape[0], matrix.shape[1]
    problem = torch.arange(count, device=matrix.device)
    pick = first_near_max_rows(-matrix.sum(dim=2))
    picks = [pick]
    chosen = torch.zeros(count, n, dtype=torch.bool, device=matrix.device)
    chosen[problem, pick] = True
    nearest = matrix[problem, pick]  # advanced indexing copies
    owner = torch.zeros(count, n, dtype=torch.long, device=matrix.device)
    for step in range(1, k):
        gains = (nearest.unsqueeze(1) - matrix).clamp_min_(0.0).sum(dim=2)
        pick = first_near_max_rows(gains.masked_fill_(chosen, -math.inf))
        picks.append(pick)
        chosen[problem, pick] = True
        row = matrix[problem, pick]
        # Points strictly closer move to the new medoid; ties stay with earlier medoids.
        owner.masked_fill_(row < nearest, step)
        torch.minimum(nearest, row, out=nearest)
    sizes = torch.zeros(count, k, dtype=torch.long, device=matrix.device)
    sizes.scatter_add_(1, owner, torch.ones_like(owner))
    return torch.stack(picks, dim=1), sizes.to(torch.float32)
