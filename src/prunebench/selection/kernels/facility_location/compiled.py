"""The lazy greedy of `facility_location` on a stored distance matrix, compiled (numba), CPU.

CRAIG solves one facility-location problem per class per selection (MNIST-1D: 10 of ~1,000
points, 100 picks each). In torch a lazy-greedy step is its control, not its arithmetic: a
dozen small tensor ops and host reads per round, ~0.25 s a selection against ~0.02 s of
arithmetic. Here a step is a loop: the largest stale bound is re-evaluated, one candidate at
a time, until no stale bound comes within `BOUND_RTOL` of the best exact gain; the pick is
then the lowest index whose exact gain is within `TIE_RTOL` of the best, which depends only
on the exact gains (every candidate that could tie has been evaluated), not on the order
they were evaluated in. So this gives the torch lazy greedy's picks (`lazy.lazy_greedy`),
which re-evaluates in batches of doubling size.

Arithmetic is the torch path's: float32 distances, each term max(0, m_i - d_ci) rounded to
float32, sums accumulated in float64 (both paths), so the two differ only in the float64
summation order, ~1e-13 relative, far inside the 1e-5 tie tolerance. The first call in a
process loads the machine code numba caches beside this file (compiled on the first use on a
machine, ~1-2 s); `warm_up()` does that outside any timed phase.
"""

from __future__ import annotations

import heapq

import numpy as np
import torch
from numba import njit
from torch import Tensor

from .common import BOUND_RTOL, TIE_RTOL


def lazy_greedy_stored(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Greedy medoids of a stored (n, n) float32 CPU dissimilarity matrix (row c = d(c, .),
    zero diagonal): (picks int64 in pick order, float32 cluster sizes), as
    `lazy.lazy_greedy` gives them for that matrix."""
    dist = np.ascontiguousarray(matrix.numpy(), dtype=np.float32)
    k = min(int(k), len(dist))
    picks, owner = _lazy_greedy(dist, k, TIE_RTOL, BOUND_RTOL)
    sizes = np.bincount(owner, minlength=k).astype(np.float32)
    return torch.from_numpy(picks), torch.from_numpy(sizes)


def warm_up() -> None:
    """Load (or compile) the machine code now, so the first selection does not pay for it."""
    lazy_greedy_stored(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), 2)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _gain(row, nearest):
    """sum_i max(0, m_i - d_ci): float32 terms, float64 sum (reassociated: vectorised)."""
    total = 0.0
    for i in range(row.shape[0]):
        term = nearest[i] - row[i]  # float32 - float32: a float32 term, as torch rounds it
        total += np.float64(max(term, np.float32(0.0)))
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _row_sum(row):
    total = 0.0
    for i in range(row.shape[0]):
        total += np.float64(row[i])
    return total


@njit(cache=True, nogil=True)
def _lazy_greedy(dist, k, tie_rtol, bound_rtol):
    n = dist.shape[0]
    picks = np.empty(k, dtype=np.int64)
    owner = np.zeros(n, dtype=np.int64)
    # first pick: the lowest index whose negated row sum is within tie_rtol of the largest
    negated = np.empty(n)
    for c in range(n):
        negated[c] = -_row_sum(dist[c])
    top = negated.max()
    first = 0
    while negated[first] < top - tie_rtol * abs(top):
        first += 1
    picks[0] = first
    nearest = dist[first].copy()
    chosen = np.zeros(n, dtype=np.bool_)
    chosen[first] = True
    # stale bounds of the unchosen candidates as a max-heap of (-bound, index); the first
    # step evaluates every candidate
    heap = [(-_gain(dist[c], nearest), c) for c in range(n) if c != first]
    fresh = [(0.0, 0) for _ in range(0)]  # (-gain, index) evaluated in this step
    if k > 1:
        heapq.heapify(heap)
        fresh = heap.copy()
        heap = [(0.0, 0) for _ in range(0)]
    for step in range(1, k):
        best = 0.0
        for item in fresh:
            best = max(best, -item[0])
        # re-evaluate the largest stale bounds until none comes within bound_rtol of the best
        # (a stale bound of exactly 0 is exact: its terms can only shrink)
        while heap and -heap[0][0] > best * (1.0 - bound_rtol):
            _, c = heapq.heappop(heap)
            if chosen[c]:  # picked from the heap at a step whose gains were all 0
                continue
            gain = _gain(dist[c], nearest)
            fresh.append((-gain, c))
            best = max(best, gain)
        # the lowest index within tie_rtol of the best; with best = 0 every candidate ties
        tie = best * (1.0 - tie_rtol)
        pick = n
        if best == 0.0:
            for item in heap:
                if not chosen[item[1]]:
                    pick = min(pick, item[1])
        for item in fresh:
            if -item[0] >= tie:
                pick = min(pick, item[1])
        picks[step] = pick
        chosen[pick] = True
        for item in fresh:
            if item[1] != pick:
                heapq.heappush(heap, item)
        fresh.clear()
        row = dist[pick]
        for i in range(n):  # points strictly closer move (ties stay with earlier medoids)
            if row[i] < nearest[i]:
                owner[i] = step
                nearest[i] = row[i]
    return picks, owner
