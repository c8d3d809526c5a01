"""What every facility-location path shares: argument checks, the tie rule, distances.

Objective (docs/methods.md): ``F(S) = sum_i max_{s in S} (d_max - ||x_i - x_s||)``, F(empty) = 0.
For any ``d_max`` at least the largest pairwise distance, ``F(S) = n d_max - sum_i min_s d_is``
(S non-empty), so the greedy never needs ``d_max``: the first pick minimises the summed
distances ``sum_i d_ic`` and every later gain is the reduction of ``sum_i min_s d_is``,
``gain(c) = sum_i max(0, m_i - d_ic)`` with ``m_i`` the distance of i to its nearest medoid.
Each step takes the largest gain; gains within ``TIE_RTOL`` (relative) of it count as tied
and the lowest index wins, so float rounding cannot split ties that are exact in real
arithmetic (common: two unchosen mutual nearest neighbours have equal gains).

Distances: ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product) on mean-centred features, formed
in float64 because in float32 it cancels badly for close points (a distance of 1e-3 between
unit-norm points comes out ~20% wrong), floored to exactly 0 where rounding alone could explain
the value (``cancellation_floor_``: duplicates are 0 apart on every CPU), then rounded to
float32, in which gains are summed.

Memory: if ``n <= chunk_size`` the n x n float32 matrix (at most ``chunk_size * n``) is stored;
otherwise rows are recomputed in tiles of ``min(chunk_size, TILE_ENTRIES / n)`` rows, held in
two reused buffers (12 bytes per entry) and reduced at once: O(n) beyond that, never n x n.

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

import torch
from torch import Tensor

TIE_RTOL = 1e-5
# A stale bound this close to the best exact gain is re-evaluated (a rounding guard that
# must be well above TIE_RTOL).
BOUND_RTOL = 1e-3
# Entries per recomputed tile: small enough to stay in cache through the elementwise passes.
TILE_ENTRIES = 1 << 20
SIMILARITIES = ("max_minus_distance", "exp_euclidean")


def validated(features: Tensor, k: int, chunk_size: int) -> Tensor:
    """The features as float64 (for forming squared distances), after checking arguments."""
    check_arguments(features, k, chunk_size)
    return features.detach().to(torch.float64)


def check_arguments(features: Tensor, k: int, chunk_size: int) -> None:
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


def check_similarity(similarity: str) -> None:
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


def distance_block(x: Tensor, sq_norms: Tensor, rows: Tensor,
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


class Distances:
    """Rows of the distance matrix: stored whole when ``n <= chunk_size``, else recomputed."""

    def __init__(self, x: Tensor, chunk_size: int, similarity: str = "max_minus_distance"):
        self.similarity = similarity
        self.x = x - x.mean(dim=0)  # distances do not change; cancellation shrinks
        self.sq_norms = (self.x * self.x).sum(dim=1)
        self.n = len(x)
        self.tile = max(1, min(chunk_size, self.n, TILE_ENTRIES // self.n))
        self.buffers = (torch.empty(self.tile, self.n, dtype=x.dtype, device=x.device),
                        torch.empty(self.tile, self.n, device=x.device))
        self.matrix: Tensor | None = None
        if self.n <= chunk_size:
            self.matrix = torch.empty(self.n, self.n, device=x.device)
            for start, rows in self._tiles(torch.arange(self.n, device=x.device)):
                distance_block(self.x, self.sq_norms, rows,
                                buffers=(self.buffers[0], self.matrix[start:start + len(rows)]),
                                similarity=similarity)

    def _tiles(self, rows: Tensor):
        """(start, rows) pieces of at most ``self.tile`` rows."""
        return ((s, rows[s:s + self.tile]) for s in range(0, len(rows), self.tile))

    def _compute(self, rows: Tensor) -> Tensor:
        """A block in the reused buffers: valid until the next call."""
        return distance_block(self.x, self.sq_norms, rows, buffers=self.buffers,
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


def first_near_max(values: Tensor) -> Tensor:
    """Lowest index whose value is within ``TIE_RTOL`` of the maximum (the greedy's tie rule)."""
    best = values.max()
    return torch.argmax((values >= best - TIE_RTOL * best.abs()).to(torch.uint8))


def assign(nearest: Tensor, owner: Tensor, row: Tensor, step: int) -> None:
    """Move the points strictly closer to the new medoid (ties stay with earlier medoids)."""
    owner.masked_fill_(row < nearest, step)
    torch.minimum(nearest, row, out=nearest)


def cluster_sizes(owner: Tensor, k: int) -> Tensor:
    return torch.bincount(owner, minlength=k).to(torch.float32)
