"""Exact greedy facility location, chunked, in torch (shared by CREST and CRAIG).

Objective (docs/methods.md): ``F(S) = sum_i max_{s in S} (d_max - ||x_i - x_s||)``, F(empty) = 0.
For any ``d_max`` at least the largest pairwise distance, ``F(S) = n d_max - sum_i min_s d_is``
(S non-empty), so the greedy never needs ``d_max``: the first pick minimises the summed
distances ``sum_i d_ic`` and every later gain is the reduction of ``sum_i min_s d_is``,
``gain(c) = sum_i max(0, m_i - d_ic)`` with ``m_i`` the distance of i to its nearest medoid.
Each step takes the largest gain; gains within ``_TIE_RTOL`` (relative) of it count as tied
and the lowest index wins, so float rounding cannot split ties that are exact in real
arithmetic (common: two unchosen mutual nearest neighbours have equal gains).

Fast and still exact:
- Small problems (CREST's 20-100 points) build the distance matrix once and evaluate every
  gain each step with a few tensor ops and no host synchronisation.
- Larger ones run Minoux's lazy greedy: gains only shrink as S grows (submodularity), so a
  gain computed at an earlier step bounds it now. A step re-evaluates the candidates with the
  largest bounds, in batches that double, until no stale bound comes within ``_BOUND_RTOL`` of
  the best exact gain; the pick is then the one full evaluation makes. Its gains are float32
  terms summed in float64, so no summation order can move a pick. On a CPU a stored matrix
  (n <= chunk_size) runs the same greedy compiled (``facility_location_compiled``): a torch
  step there costs its control, not its arithmetic.

Memory: if ``n <= chunk_size`` the n x n float32 matrix (at most ``chunk_size * n``) is stored;
otherwise rows are recomputed in tiles of ``min(chunk_size, _TILE_ENTRIES / n)`` rows, held in
two reused buffers (12 bytes per entry) and reduced at once: O(n) beyond that, never n x n.

Distances: ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product) on mean-centred features, formed
in float64 because in float32 it cancels badly for close points (a distance of 1e-3 between
unit-norm points comes out ~20% wrong), floored to exactly 0 where rounding alone could explain
the value (``cancellation_floor_``: duplicates are 0 apart on every CPU), then rounded to
float32, in which gains are summed.

Similarity (``similarity``): ``max_minus_distance`` (the default, above) or ``exp_euclidean``,
``s_ij = exp(-d_ij / dim)`` with dim the feature dimension (submodlib's dense 'euclidean'
kernel, which the CREST reference uses), F(S) = sum_i max_{s in S} s_is, F(empty) = 0. Both are
decreasing in the distance, so the greedy runs unchanged on a dissimilarity matrix:
``u = 1 - s = -expm1(-d / dim)`` (in [0, 1), u_ii = 0) takes the distances' place, and gains
``sum_i max(0, m_i - u_ic)`` are the similarity's, with m_i starting at 1 (its F(empty) = 0).
Nearest medoids, hence weights, are the same under both unless the transform rounds two
distances to one value.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# Below this many points the eager greedy over the whole matrix beats the lazy one on a CPU
# (the lazy step pays a few host synchronisations); on a GPU eager is used up to chunk_size.
_EAGER_MAX_POINTS_CPU = 512
_TIE_RTOL = 1e-5
# A stale bound this close to the best exact gain is re-evaluated (a rounding guard that
# must be well above _TIE_RTOL).
_BOUND_RTOL = 1e-3
# Entries per recomputed tile: small enough to stay in cache through the elementwise passes.
_TILE_ENTRIES = 1 << 20
# Candidates re-evaluated in the first batch of a lazy step; later batches double.
_FIRST_BATCH = 16
SIMILARITIES = ("max_minus_distance", "exp_euclidean")


def greedy_facility_location(
    features: Tensor, k: int, *, chunk_size: int = 4096, similarity: str = "max_minus_distance"
) -> tuple[Tensor, Tensor]:
    """Greedy medoids of ``features`` (n, d) under the facility-location objective.

    Returns ``indices`` (int64, ``min(k, n)`` medoids in the order chosen) and ``weights``
    (float32, summing to n): how many points have that medoid as their nearest (Euclidean;
    ties go to the medoid chosen earlier, so a later exact duplicate of a medoid weighs 0).
    Computes on ``features.device``; memory is O(chunk_size * n) (see the module docstring).
    ``similarity``: one of ``SIMILARITIES`` (the module docstring).
    """
    x = _validated(features, k, chunk_size)
    _check_similarity(similarity)
    k = min(k, len(x))
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        distances = _Distances(x, chunk_size, similarity)
        if distances.matrix is not None and (
            x.device.type != "cpu" or len(x) <= _EAGER_MAX_POINTS_CPU
        ):
            return _eager_greedy(distances.matrix, k)
        if distances.matrix is not None:  # a CPU's stored matrix: the compiled lazy greedy
            # (imported here: numba loads only in the jobs that need it, not in CREST's, whose
            # small problems are eager; and the compiled module reads this one's tolerances)
            from .facility_location_compiled import lazy_greedy_stored

            return lazy_greedy_stored(distances.matrix, k)
        return _lazy_greedy(distances, k, chunk_size)


def facility_location_objective(
    features: Tensor, indices: Tensor, d_max: float | None = None, *, chunk_size: int = 4096,
    similarity: str = "max_minus_distance",
) -> float:
    """``F(S) = sum_i max_{s in S} (d_max - ||x_i - x_s||)``, in float64 (0 for an empty S).

    With ``similarity="exp_euclidean"``: ``F(S) = sum_i max_{s in S} exp(-||x_i - x_s|| / dim)``
    (``d_max`` is then ignored).

    ``d_max`` defaults to the largest pairwise distance among ``features`` (one chunked pass
    over all pairs); any value at least that large is valid and then only the n x |S|
    distances are computed. Memory stays O(chunk_size * max(n, |S|)).
    """
    x = _validated(features, 1, chunk_size)
    _check_similarity(similarity)
    n = len(x)
    indices = torch.as_tensor(indices, dtype=torch.long, device=x.device).flatten()
    if indices.numel() == 0:
        return 0.0
    if similarity == "exp_euclidean":
        total = 0.0
        for start in range(0, n, chunk_size):
            rows = torch.arange(start, min(start + chunk_size, n), device=x.device)
            block = torch.cdist(x[rows], x[indices])
            block[rows.unsqueeze(1) == indices.unsqueeze(0)] = 0.0
            total += float(torch.exp(-block / x.shape[1]).max(dim=1).values.sum())
        return total
    if bool(((indices < 0) | (indices >= n)).any()):
        raise ValueError(f"indices must lie in [0, {n}), got {indices.tolist()}")
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        x = x - x.mean(dim=0)
        sq_norms = (x * x).sum(dim=1)
        nearest, largest = [], 0.0
        for start in range(0, n, chunk_size):
            rows = torch.arange(start, min(start + chunk_size, n), device=x.device)
            if d_max is None:
                block = _distance_block(x, sq_norms, rows, dtype=torch.float64)
                largest = max(largest, float(block.max()))
            block = sq_norms[rows].unsqueeze(1) + sq_norms[indices].unsqueeze(0)
            block = block.addmm_(x[rows], x[indices].T, alpha=-2.0).clamp_min_(0.0).sqrt_()
            block[rows.unsqueeze(1) == indices.unsqueeze(0)] = 0.0
            nearest.append(block.min(dim=1).values)
    d_max = largest if d_max is None else float(d_max)
    return float(n * d_max - torch.cat(nearest).sum())


def _validated(features: Tensor, k: int, chunk_size: int) -> Tensor:
    """The features as float64 (for forming squared distances), after checking arguments."""
    _check_arguments(features, k, chunk_size)
    return features.detach().to(torch.float64)


def _check_arguments(features: Tensor, k: int, chunk_size: int) -> None:
    """ValueError unless features is a finite (n >= 1, d) tensor and k, chunk_size positive."""
    if not isinstance(features, Tensor):
        raise ValueError(f"features must be a torch.Tensor, got {type(features).__name__}")
    if features.dim() != 2:
        raise ValueError(f"features must be 2-D (n, d), got shape {tuple(features.shape)}")
    if features.shape[0] < 1:
        raise ValueError("features must have at least one row (n >= 1), got n = 0")
    for name, value in (("k", k), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    # min and max propagate NaN, so both are finite only if every value is: one pass, no
    # temporaries (isfinite(x).all() was 20x slower on a CPU at 250,000 x 100).
    if features.is_floating_point() and features.numel() > 0:
        low, high = torch.aminmax(features.detach())
        if not bool(torch.isfinite(low) & torch.isfinite(high)):
            raise ValueError("features contain NaN or infinite values")


def _check_similarity(similarity: str) -> None:
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")


def dissimilarity_(distances: Tensor, similarity: str, dim: int) -> Tensor:
    """In place: the matrix the greedy minimises over for ``similarity`` (module docstring).

    The distances themselves for ``max_minus_distance``; ``1 - exp(-d / dim)`` for
    ``exp_euclidean``. Zero distances stay zero.
    """
    if similarity == "exp_euclidean":
        return distances.div_(-dim).expm1_().neg_()
    return distances


def cancellation_floor_(squared: Tensor, norm_sums: Tensor, dim: int) -> Tensor:
    """In place: zero the float64 squared distances that rounding alone could have made.

    ``||a||^2 + ||b||^2 - 2 a.b`` over ``dim`` coordinates is off by at most about
    ``(2 dim + 4) eps (||a||^2 + ||b||^2)``; a value that small is noise, not a distance (an
    exact duplicate comes out as ~1e-9 after the square root, and which noise depends on the
    matrix kernel: AVX-512 and AVX2 give different noise for the same pair). Flooring it to 0
    makes duplicates exactly 0 apart on every path and CPU, so their gains are exact zeros
    that tie, instead of noise that the relative tie rule cannot absorb.
    ``norm_sums`` holds ``||a||^2 + ||b||^2`` (any float dtype, broadcastable).
    """
    floor = (2 * dim + 4) * torch.finfo(torch.float64).eps
    return squared.masked_fill_(squared <= norm_sums * floor, 0.0)


def _distance_block(x: Tensor, sq_norms: Tensor, rows: Tensor,
                    dtype: torch.dtype = torch.float32,
                    buffers: tuple[Tensor, Tensor] | None = None,
                    similarity: str = "max_minus_distance") -> Tensor:
    """Distances from the points ``rows`` to every point: a (len(rows), n) block.

    Norms are summed before the product term, so d(a, b) and d(b, a) round alike; squared
    values within rounding of zero are floored to 0 (``cancellation_floor_``). ``buffers``
    (float64 and ``dtype``, >= len(rows) x n) are reused instead of allocating: repeated large
    allocations made glibc's heap grow to ~1 GB at n = 20,000.
    """
    m = len(rows)
    work, block = (None, None) if buffers is None else (buffers[0][:m], buffers[1][:m])
    work = torch.add(sq_norms[rows].unsqueeze(1), sq_norms.unsqueeze(0), out=work)
    # the block holds the norm sums first: the floor's scale
    block = work.to(dtype, copy=True) if block is None else block.copy_(work)
    cancellation_floor_(work.addmm_(x[rows], x.T, alpha=-2.0), block, x.shape[1])
    block.copy_(work)
    block.clamp_min_(0.0).sqrt_()
    block[torch.arange(m, device=x.device), rows] = 0.0
    return dissimilarity_(block, similarity, x.shape[1])


class _Distances:
    """Rows of the distance matrix: stored whole when ``n <= chunk_size``, else recomputed."""

    def __init__(self, x: Tensor, chunk_size: int, similarity: str = "max_minus_distance"):
        self.similarity = similarity
        self.x = x - x.mean(dim=0)  # distances do not change; cancellation shrinks
        self.sq_norms = (self.x * self.x).sum(dim=1)
        self.n = len(x)
        self.tile = max(1, min(chunk_size, self.n, _TILE_ENTRIES // self.n))
        self.buffers = (torch.empty(self.tile, self.n, dtype=x.dtype, device=x.device),
                        torch.empty(self.tile, self.n, device=x.device))
        self.matrix: Tensor | None = None
        if self.n <= chunk_size:
            self.matrix = torch.empty(self.n, self.n, device=x.device)
            for start, rows in self._tiles(torch.arange(self.n, device=x.device)):
                _distance_block(self.x, self.sq_norms, rows,
                                buffers=(self.buffers[0], self.matrix[start:start + len(rows)]),
                                similarity=similarity)

    def _tiles(self, rows: Tensor):
        """(start, rows) pieces of at most ``self.tile`` rows."""
        return ((s, rows[s:s + self.tile]) for s in range(0, len(rows), self.tile))

    def _compute(self, rows: Tensor) -> Tensor:
        """A block in the reused buffers: valid until the next call."""
        return _distance_block(self.x, self.sq_norms, rows, buffers=self.buffers,
                               similarity=self.similarity)

    def row(self, index: int) -> Tensor:
        if self.matrix is not None:
            return self.matrix[index]
        return self._compute(torch.tensor([index], device=self.x.device))[0].clone()

    def _stored(self, rows: Tensor) -> Tensor:
        return torch.index_select(self.matrix, 0, rows)

    def reduce_rows(self, rows: Tensor, reduce) -> Tensor:
        """``reduce`` (a (m, n) block -> (m,)) over the rows ``rows``, one tile at a time."""
        source = self._compute if self.matrix is None else self._stored
        parts = [reduce(source(part)) for _, part in self._tiles(rows)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)


def _first_near_max(values: Tensor) -> Tensor:
    """Lowest index whose value is within ``_TIE_RTOL`` of the maximum (the greedy's tie rule)."""
    best = values.max()
    return torch.argmax((values >= best - _TIE_RTOL * best.abs()).to(torch.uint8))


def _eager_greedy(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Every gain every step from the full matrix; no host synchronisation until the end."""
    n = len(matrix)
    # Picks stay on the device as 1-element tensors (index_select, index_fill_: no sync).
    pick = _first_near_max(-matrix.sum(dim=1)).view(1)
    picks = [pick]
    chosen = torch.zeros(n, dtype=torch.bool, device=matrix.device).index_fill_(0, pick, True)
    nearest = torch.index_select(matrix, 0, pick)[0]
    owner = torch.zeros(n, dtype=torch.long, device=matrix.device)
    for step in range(1, k):
        gains = (nearest.unsqueeze(0) - matrix).clamp_min_(0.0).sum(dim=1)
        pick = _first_near_max(gains.masked_fill_(chosen, -math.inf)).view(1)
        picks.append(pick)
        chosen.index_fill_(0, pick, True)
        _assign(nearest, owner, torch.index_select(matrix, 0, pick)[0], step)
    return torch.cat(picks), _cluster_sizes(owner, k)


def _lazy_greedy(distances: _Distances, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Minoux's lazy greedy with exact re-evaluation of stale bounds, in batches."""
    n, device = distances.n, distances.x.device
    sums = distances.reduce_rows(torch.arange(n, device=device),
                                 lambda b: b.sum(dim=1, dtype=torch.float64))
    pick = int(_first_near_max(-sums))
    picks = [pick]
    nearest = distances.row(pick).clone()
    owner = torch.zeros(n, dtype=torch.long, device=device)
    # Upper bounds on the gains: +inf until first evaluated, -inf once chosen.
    bound = torch.full((n,), math.inf, dtype=torch.float64, device=device)
    bound[pick] = -math.inf
    for step in range(1, k):
        pick = _lazy_step(distances, nearest, bound, chunk_size)
        picks.append(pick)
        bound[pick] = -math.inf
        _assign(nearest, owner, distances.row(pick), step)
    return torch.tensor(picks, dtype=torch.long, device=device), _cluster_sizes(owner, k)


def _lazy_step(distances: _Distances, nearest: Tensor, bound: Tensor, chunk_size: int) -> int:
    """The greedy's pick given stale bounds; re-evaluated gains are written into ``bound``."""
    # A bound of exactly 0 is exact: each term max(0, m_i - d_ic) was 0 and m_i only shrinks.
    exact = bound == 0.0
    best, batch = 0.0, _FIRST_BATCH

    def gains(block: Tensor) -> Tensor:  # sum_i max(0, m_i - d_ci) = -sum_i min(0, d_ci - m_i)
        # float32 terms, float64 sums: the summation order (tiles, vector width, a compiled
        # loop) then moves a gain by ~1e-13, never across the 1e-5 tie tolerance
        return block.sub_(nearest).clamp_max_(0.0).sum(dim=1, dtype=torch.float64).neg_()

    while True:
        # Stale bounds that might reach the best exact gain (or tie with it) are evaluated.
        pending = bound.masked_fill(exact | (bound <= best * (1.0 - _BOUND_RTOL)), -math.inf)
        top = torch.topk(pending, min(batch, len(bound)))
        values = top.values.tolist()
        if values[0] == -math.inf:
            # Gains within _TIE_RTOL of the best tie; the lowest index wins (as _first_near_max).
            known = bound.masked_fill(~exact, -math.inf)
            return int(torch.argmax((known >= best * (1.0 - _TIE_RTOL)).to(torch.uint8)))
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


def _assign(nearest: Tensor, owner: Tensor, row: Tensor, step: int) -> None:
    """Move the points strictly closer to the new medoid (ties stay with earlier medoids)."""
    owner.masked_fill_(row < nearest, step)
    torch.minimum(nearest, row, out=nearest)


def _cluster_sizes(owner: Tensor, k: int) -> Tensor:
    return torch.bincount(owner, minlength=k).to(torch.float32)
