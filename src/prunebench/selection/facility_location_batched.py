"""Many small facility-location problems in one call (CREST's per-subset, per-class greedy).

``facility_location_by_group(features, groups, k)`` returns exactly what looping
``greedy_facility_location(features[groups == g], k)`` over the sorted group ids gives (picks,
their order, weights), with the loop's per-step work done for many groups at once: on a GPU
the loop is a chain of tiny kernel launches per problem (CREST: m x C problems of ~r/C points
per selection), here it is one chain per *shape*.

Why groups are stacked by shape and never padded: the greedy compares float32 gain sums
under a relative tie tolerance, and a float32 sum over a row padded with zeros is not the sum
over the row alone (the vectorised reduction associates the terms differently; on this CPU
178 of the row lengths 1..199 came out different in the last bit). So groups of equal size
n_g (and equal pick count) are stacked into one (G, n_g, n_g) batch, whose every reduction
runs over exactly the row the single problem reduces. CREST's class-stratified draws give
every subset the same per-class quota, so a selection has as many shapes as distinct class
quotas (one on a balanced dataset).

What is computed exactly as ``greedy_facility_location``'s dense ("eager") path does it:
float64 features centred per group, squared distances ``||a||^2 + ||b||^2 - 2 a.b`` in
float64 rounded to float32, gains summed in float32, the same tie rule. One difference in
arithmetic remains: the batch's products come from ``baddbmm`` and the single problem's from
``addmm``, which can differ in the last float64 bit (measured: 13k of 980k entries); that
changes a float32 distance only when the float64 value sits on a float32 rounding boundary
(none seen in those 980k, nor in the tests' instances). Groups the single greedy would solve
with its lazy path (more than 512 points on a CPU, more than ``chunk_size`` elsewhere) are
handed to ``greedy_facility_location`` itself, one at a time: on a CPU its compiled lazy
greedy (``facility_location_compiled``) leaves nothing for batching to save (CRAIG's classes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import torch
from torch import Tensor

from .facility_location import (
    _EAGER_MAX_POINTS_CPU,
    _TIE_RTOL,
    _check_arguments,
    _check_similarity,
    cancellation_floor_,
    dissimilarity_,
    greedy_facility_location,
)

# Bytes per (point, point) entry of a stacked batch: the float64 products, the float32
# distances and the float32 temporary a greedy step makes.
_BYTES_PER_ENTRY = 16
# Default max_bytes: on a CPU a batch that stays in cache (memory-bound passes over 50 MB
# batches ran 2x slower than 4 MB ones); on a GPU large, as launches are what cost there.
_BATCH_BYTES_CPU = 1 << 22
_BATCH_BYTES_GPU = 1 << 28


def facility_location_by_group(
    features: Tensor, groups: Tensor, k: int | Sequence[int] | Tensor, *,
    chunk_size: int = 4096, max_bytes: int | None = None,
    similarity: str = "max_minus_distance",
) -> tuple[Tensor, Tensor]:
    """Greedy facility-location medoids of every group of rows of ``features`` (n, d).

    ``groups`` (n integers) names each row's group. ``k`` is the number of medoids per group:
    an int, or one count per group id (``k[g]`` for group ``g``; ids then non-negative; 0
    skips a group). Returns ``indices`` (int64 positions into ``features``) and ``weights``
    (float32), each of length ``sum_g min(k_g, n_g)``: group by group in ascending id, within
    a group in pick order, exactly as ``greedy_facility_location(features[groups == g], k_g)``
    with its picks mapped back to positions (see the module docstring for the one caveat).
    Computes on ``features.device``; ``chunk_size`` as for ``greedy_facility_location``;
    ``max_bytes`` bounds the memory of one stacked batch of equal-sized groups (a group larger
    than that is still solved, alone; default 4 MiB on a CPU, 256 MiB elsewhere);
    ``similarity`` as for ``greedy_facility_location``.
    """
    _check_arguments(features, 1, chunk_size)
    _check_similarity(similarity)
    x = features.detach()  # rows go to float64 a batch at a time (as the single greedy's do)
    groups = _validated_groups(groups, len(x), x.device)
    if max_bytes is None:
        max_bytes = _BATCH_BYTES_CPU if x.device.type == "cpu" else _BATCH_BYTES_GPU
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    # Positions sorted by group; stable, so a group's rows keep their order (features[mask]).
    order = torch.sort(groups, stable=True).indices
    ids, sizes = torch.unique_consecutive(groups[order], return_counts=True)
    ids, sizes = ids.tolist(), sizes.tolist()
    picks = [min(count, size) for count, size in zip(_per_group_k(k, ids), sizes, strict=True)]
    starts = _offsets(sizes)
    slots = _offsets(picks)  # where each group's picks go in the output
    indices = torch.empty(sum(picks), dtype=torch.long, device=x.device)
    weights = torch.empty(sum(picks), dtype=torch.float32, device=x.device)
    eager_max = chunk_size if x.device.type != "cpu" else min(chunk_size, _EAGER_MAX_POINTS_CPU)
    shapes: dict[tuple[int, int], list[int]] = defaultdict(list)
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        for j, (size, count) in enumerate(zip(sizes, picks, strict=True)):
            if count == 0:
                continue
            if size > eager_max:  # the single greedy's lazy path (compiled on a CPU): use it
                members = order[starts[j]:starts[j] + size]
                chosen, counts = greedy_facility_location(x[members], count,
                                                          chunk_size=chunk_size,
                                                          similarity=similarity)
                indices[slots[j]:slots[j] + count] = members[chosen]
                weights[slots[j]:slots[j] + count] = counts
            else:
                shapes[(size, count)].append(j)
        for (size, count), members_of in shapes.items():
            group_bytes = _BYTES_PER_ENTRY * size * size + 8 * size * x.shape[1]
            per_batch = max(1, max_bytes // group_bytes)
            for first in range(0, len(members_of), per_batch):
                batch = members_of[first:first + per_batch]
                rows = _rows(batch, starts, size, x.device)
                members = order[rows]  # (G, size) positions
                distances = dissimilarity_(_stacked_distances(x[members].to(torch.float64)),
                                           similarity, x.shape[1])
                chosen, counts = _stacked_eager_greedy(distances, count)
                out = _rows(batch, slots, count, x.device)
                indices[out] = torch.gather(members, 1, chosen)
                weights[out] = counts
    return indices, weights


def _validated_groups(groups: Tensor, n: int, device: torch.device) -> Tensor:
    if not isinstance(groups, Tensor):
        raise ValueError(f"groups must be a torch.Tensor, got {type(groups).__name__}")
    if groups.dim() != 1 or len(groups) != n:
        raise ValueError(f"groups must be 1-D with one entry per row of features ({n}), "
                         f"got shape {tuple(groups.shape)}")
    if groups.dtype.is_floating_point or groups.dtype.is_complex or groups.dtype == torch.bool:
        raise ValueError(f"groups must hold integers, got {groups.dtype}")
    return groups.to(device=device, dtype=torch.long)


def _per_group_k(k, ids: list[int]) -> list[int]:
    """The pick count of each group in ``ids``: ``k`` itself, or ``k[g]`` per group id."""
    if isinstance(k, int) and not isinstance(k, bool):
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return [k] * len(ids)
    if isinstance(k, Tensor):
        if k.dim() != 1 or k.dtype.is_floating_point or k.dtype == torch.bool:
            raise ValueError(f"a per-group k must be a 1-D integer tensor, got {k.dtype} "
                             f"of shape {tuple(k.shape)}")
        k = k.tolist()
    if not isinstance(k, Sequence) or isinstance(k, str):
        raise ValueError(f"k must be a positive integer or one count per group id, got {k!r}")
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in k):
        raise ValueError(f"per-group k must hold non-negative integers, got {list(k)}")
    if ids and (ids[0] < 0 or ids[-1] >= len(k)):
        raise ValueError(f"a per-group k needs group ids in [0, {len(k)}), got ids "
                         f"{ids[0]}..{ids[-1]}")
    return [k[g] for g in ids]


def _offsets(lengths: list[int]) -> list[int]:
    out, total = [], 0
    for length in lengths:
        out.append(total)
        total += length
    return out


def _rows(batch: list[int], starts: list[int], width: int, device: torch.device) -> Tensor:
    """(len(batch), width) positions: row b is starts[batch[b]] + 0..width-1."""
    first = torch.tensor([starts[j] for j in batch], dtype=torch.long, device=device)
    return first.unsqueeze(1) + torch.arange(width, device=device)


def _stacked_distances(x: Tensor) -> Tensor:
    """(G, n, n) float32 distances within each of G float64 problems (G, n, d).

    The single greedy's ``_Distances`` and ``_distance_block`` op for op, per problem:
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


def _first_near_max_rows(values: Tensor) -> Tensor:
    """Per row, the lowest index within ``_TIE_RTOL`` of the row's maximum (the tie rule)."""
    best = values.max(dim=1, keepdim=True).values
    return torch.argmax((values >= best - _TIE_RTOL * best.abs()).to(torch.uint8), dim=1)


def _stacked_eager_greedy(matrix: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``_eager_greedy`` on G problems at once: (G, k) picks and (G, k) float32 weights."""
    count, n = matrix.shape[0], matrix.shape[1]
    problem = torch.arange(count, device=matrix.device)
    pick = _first_near_max_rows(-matrix.sum(dim=2))
    picks = [pick]
    chosen = torch.zeros(count, n, dtype=torch.bool, device=matrix.device)
    chosen[problem, pick] = True
    nearest = matrix[problem, pick]  # advanced indexing copies
    owner = torch.zeros(count, n, dtype=torch.long, device=matrix.device)
    for step in range(1, k):
        gains = (nearest.unsqueeze(1) - matrix).clamp_min_(0.0).sum(dim=2)
        pick = _first_near_max_rows(gains.masked_fill_(chosen, -math.inf))
        picks.append(pick)
        chosen[problem, pick] = True
        row = matrix[problem, pick]
        # Points strictly closer move to the new medoid; ties stay with earlier medoids.
        owner.masked_fill_(row < nearest, step)
        torch.minimum(nearest, row, out=nearest)
    sizes = torch.zeros(count, k, dtype=torch.long, device=matrix.device)
    sizes.scatter_add_(1, owner, torch.ones_like(owner))
    return torch.stack(picks, dim=1), sizes.to(torch.float32)
