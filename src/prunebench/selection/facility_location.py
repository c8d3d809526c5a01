"""Exact greedy facility location, chunked, in torch (shared by CREST and CRAIG).

Objective (METHODS.md): ``F(S) = sum_i max_{s in S} (d_max - ||x_i - x_s||)``, F(empty) = 0.
For any ``d_max`` at least the largest pairwise distance, ``F(S) = n d_max - sum_i min_s d_is``
(S non-empty), so the greedy never needs ``d_max``: the first pick minimises the summed
distances ``sum_i d_ic`` and every later gain is the reduction of ``sum_i min_s d_is``,
``gain(c) = sum_i max(0, m_i - d_ic)`` with ``m_i`` the distance of i to its nearest medoid.
Each step takes the largest gain, ties to the lowest index.

Speed without giving up exactness:
- Small problems (CREST's 20-100 points) build the whole distance matrix once and evaluate
  every gain each step with a few tensor ops and no host synchronisation.
- Larger ones run Minoux's lazy greedy, vectorised: gains only shrink as S grows
  (submodularity), so a gain computed at an earlier step bounds it now. A step re-evaluates
  exactly the candidates with the largest bounds, in batches that double, until the best exact
  gain beats every bound left. A bound within ``_BOUND_RTOL`` of the best counts as a possible
  tie and is re-evaluated, so float rounding cannot change the pick.

Memory: distances come in blocks of at most ``chunk_size`` rows by n columns; when
``n <= chunk_size`` the n x n matrix (itself at most ``chunk_size * n``) is built once and
reused, otherwise the rows are recomputed from the features as needed. Peak extra memory is
a few ``chunk_size x n`` float32 buffers plus O(n) vectors, never n x n for large n.

Distances use ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product) on mean-centred features
(translation does not change distances and centring reduces cancellation), in float32 with
TF32 and autocast switched off; a point's distance to itself is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

# Below this many points (CPU) the eager greedy over the full matrix beats the lazy one,
# whose per-step cost is a few host synchronisations. On a GPU eager wins up to chunk_size.
_EAGER_MAX_POINTS_CPU = 512
# A stale bound this close to the best exact gain is re-evaluated (rounding guard).
_BOUND_RTOL = 1e-3
# Candidates re-evaluated in the first batch of a lazy step; later batches double.
_FIRST_BATCH = 16

RowFn = Callable[[Tensor], Tensor]


def greedy_facility_location(
    features: Tensor, k: int, *, chunk_size: int = 4096
) -> tuple[Tensor, Tensor]:
    """Greedy medoids of ``features`` (n, d) under the facility-location objective.

    Returns ``indices`` (int64, ``min(k, n)`` medoids in the order chosen) and ``weights``
    (float32, summing to n): how many points have that medoid as their nearest (Euclidean;
    ties go to the medoid chosen earlier, so a later duplicate of a medoid may weigh 0).
    Computes on ``features.device``; memory is O(chunk_size * n) (see the module docstring).
    """
    x = _validated(features, k, chunk_size)
    n = x.shape[0]
    k = min(k, n)
    with _exact_float32(x.device):
        x = x - x.mean(dim=0)
        sq_norms = (x * x).sum(dim=1)
        if n <= chunk_size:
            matrix = _distance_rows(x, sq_norms, torch.arange(n, device=x.device))
            if x.device.type != "cpu" or n <= _EAGER_MAX_POINTS_CPU:
                return _eager_greedy(matrix, k)
            return _lazy_greedy(lambda idx: matrix[idx], n, k, chunk_size, x.device)
        return _lazy_greedy(lambda idx: _distance_rows(x, sq_norms, idx), n, k, chunk_size,
                            x.device)


def facility_location_objective(
    features: Tensor, indices: Tensor, d_max: float | None = None, *, chunk_size: int = 4096
) -> float:
    """``F(S) = sum_i max_{s in S} (d_max - ||x_i - x_s||)`` in float64 (0 for an empty S).

    ``d_max`` defaults to the largest pairwise distance among ``features``. Rows are
    processed ``chunk_size`` at a time, so memory stays O(chunk_size * n).
    """
    x = _validated(features, 1, chunk_size).double()
    x = x - x.mean(dim=0)
    indices = torch.as_tensor(indices, dtype=torch.long, device=x.device).flatten()
    if indices.numel() == 0:
        return 0.0
    if bool(((indices < 0) | (indices >= len(x))).any()):
        raise ValueError(f"indices must lie in [0, {len(x)}), got {indices.tolist()}")
    sq_norms = (x * x).sum(dim=1)
    nearest, largest = [], 0.0
    for start in range(0, len(x), chunk_size):
        rows = torch.arange(start, min(start + chunk_size, len(x)), device=x.device)
        block = _distance_rows(x, sq_norms, rows)
        nearest.append(block[:, indices].min(dim=1).values)
        largest = max(largest, float(block.max()))
    d_max = largest if d_max is None else float(d_max)
    return float(len(x) * d_max - torch.cat(nearest).sum())


def _validated(features: Tensor, k: int, chunk_size: int) -> Tensor:
    if not isinstance(features, Tensor):
        raise ValueError(f"features must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 2:
        raise ValueError(f"features must be 2-D (n, d), got shape {tuple(features.shape)}")
    if features.shape[0] < 1:
        raise ValueError("features must have at least one row (n >= 1), got n = 0")
    for name, value in (("k", k), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    x = features.detach().to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("features contain NaN or infinite values")
    return x


@contextmanager
def _exact_float32(device: torch.device) -> Iterator[None]:
    """No TF32 matrix products and no autocast (training may switch both on globally)."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _distance_rows(x: Tensor, sq_norms: Tensor, rows: Tensor) -> Tensor:
    """Distances from the points ``rows`` to every point: a (len(rows), n) block."""
    block = torch.addmm(sq_norms.unsqueeze(0), x[rows], x.T, alpha=-2.0)
    block.add_(sq_norms[rows].unsqueeze(1)).clamp_min_(0.0).sqrt_()
    block[torch.arange(len(rows), device=x.device), rows] = 0.0
    return block


def _eager_greedy(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Every gain every step from the full matrix; no host synchronisation until the end."""
    n = matrix.shape[0]
    # argmax returns the first maximum, so ties go to the lowest index.
    pick = torch.argmax(-matrix.sum(dim=1))
    picks = [pick]
    chosen = torch.zeros(n, dtype=torch.bool, device=matrix.device)
    chosen[pick] = True
    nearest = matrix[pick].clone()
    owner = torch.zeros(n, dtype=torch.long, device=matrix.device)
    for step in range(1, k):
        gains = (nearest.unsqueeze(0) - matrix).clamp_min_(0.0).sum(dim=1)
        pick = torch.argmax(gains.masked_fill_(chosen, -1.0))
        picks.append(pick)
        chosen[pick] = True
        _assign(nearest, owner, matrix[pick], step)
    return torch.stack(picks), _cluster_sizes(owner, k)


def _lazy_greedy(rows: RowFn, n: int, k: int, chunk_size: int,
                 device: torch.device) -> tuple[Tensor, Tensor]:
    """Minoux's lazy greedy with exact re-evaluation of stale bounds, in batches."""
    column_sums = torch.cat([rows(torch.arange(s, min(s + chunk_size, n), device=device))
                             .sum(dim=1) for s in range(0, n, chunk_size)])
    pick = int(torch.argmax(-column_sums))
    picks = [pick]
    nearest = rows(torch.tensor([pick], device=device))[0]
    owner = torch.zeros(n, dtype=torch.long, device=device)
    # Upper bounds on the gains; +inf = not evaluated since the first step, -inf = chosen.
    bound = torch.full((n,), float("inf"), device=device)
    bound[pick] = -float("inf")
    for step in range(1, k):
        pick = _lazy_step(rows, nearest, bound, chunk_size)
        picks.append(pick)
        bound[pick] = -float("inf")
        _assign(nearest, owner, rows(torch.tensor([pick], device=device))[0], step)
    return torch.tensor(picks, dtype=torch.long, device=device), _cluster_sizes(owner, k)


def _lazy_step(rows: RowFn, nearest: Tensor, bound: Tensor, chunk_size: int) -> int:
    """The candidate with the largest exact gain (lowest index on ties); updates ``bound``."""
    # A bound of exactly 0 is exact: every term max(0, m_i - d_ic) was 0 and m_i only shrinks.
    exact = bound == 0.0
    batch = _FIRST_BATCH
    while True:
        # Candidates whose bound could still reach the best exact gain found this step.
        known = bound.masked_fill(~exact, -float("inf"))
        best = float(known.max())
        open_bound = bound.masked_fill(exact, -float("inf"))
        threshold = max(best - _BOUND_RTOL * abs(best), 0.0) if best > -float("inf") else 0.0
        need = int((open_bound > threshold).sum()) if best > 0 else int((open_bound > 0).sum())
        if need == 0:
            return int(torch.argmax(known))
        top = float(open_bound.max())
        size = min(need, chunk_size if top == float("inf") else batch)
        candidates = torch.topk(open_bound, size).indices
        block = rows(candidates)
        bound[candidates] = block.neg_().add_(nearest).clamp_min_(0.0).sum(dim=1)
        exact[candidates] = True
        batch = min(2 * batch, chunk_size)


def _assign(nearest: Tensor, owner: Tensor, distances: Tensor, step: int) -> None:
    """Move the points strictly closer to the new medoid (ties stay with earlier medoids)."""
    closer = distances < nearest
    nearest.copy_(torch.where(closer, distances, nearest))
    owner.masked_fill_(closer, step)


def _cluster_sizes(owner: Tensor, k: int) -> Tensor:
    return torch.bincount(owner, minlength=k).to(torch.float32)
