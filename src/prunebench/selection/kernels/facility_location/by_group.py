"""Many small facility-location problems in one call (CREST's per-subset, per-class greedy).

``solve_by_group`` returns exactly what looping the single greedy over the sorted group ids
gives (picks, their order, weights), with the loop's per-step work done for many groups at
once: on a GPU the loop is a chain of tiny kernel launches per problem (CREST: m x C problems
of ~r/C points per selection), here it is one chain per *shape*: groups of equal size n_g (and
equal pick count) are stacked into one (G, n_g, n_g) batch and solved by
``dense.stacked_eager_greedy`` (never padded: see ``dense``). CREST's class-stratified draws
give every subset the same per-class quota, so a selection has as many shapes as distinct
class quotas (one on a balanced dataset). Groups too large for the dense path go to the
single greedy, one at a time (on a CPU its compiled lazy greedy leaves nothing for batching
to save: CRAIG's classes). Which sizes are dense and how large a stack may be is the
package's ``__init__``'s choice per device.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .common import dissimilarity_
from .dense import stacked_distances, stacked_eager_greedy

# Bytes per (point, point) entry of a stacked batch: the float64 products, the float32
# distances and the float32 temporary a greedy step makes.
BYTES_PER_ENTRY = 16


def solve_by_group(
    x: Tensor, groups: Tensor, k: int | Sequence[int] | Tensor, *, eager_max: int,
    max_bytes: int, single: Callable[[Tensor, int], tuple[Tensor, Tensor]], similarity: str,
) -> tuple[Tensor, Tensor]:
    """The picks and weights of every group (``facility_location_by_group``'s contract), with
    the device's choices made by the caller: a group of at most ``eager_max`` points is
    solved densely in a stack of equal-sized groups of at most ``max_bytes``; a larger one by
    ``single(features, k)`` (the single greedy), alone. ``x`` is the detached features."""
    groups = _validated_groups(groups, len(x), x.device)
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
    shapes: dict[tuple[int, int], list[int]] = defaultdict(list)
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        for j, (size, count) in enumerate(zip(sizes, picks, strict=True)):
            if count == 0:
                continue
            if size > eager_max:  # the single greedy's lazy path (compiled on a CPU): use it
                members = order[starts[j]:starts[j] + size]
                chosen, counts = single(x[members], count)
                indices[slots[j]:slots[j] + count] = members[chosen]
                weights[slots[j]:slots[j] + count] = counts
            else:
                shapes[(size, count)].append(j)
        for (size, count), members_of in shapes.items():
            group_bytes = BYTES_PER_ENTRY * size * size + 8 * size * x.shape[1]
            per_batch = max(1, max_bytes // group_bytes)
            for first in range(0, len(members_of), per_batch):
                batch = members_of[first:first + per_batch]
                rows = _rows(batch, starts, size, x.device)
                members = order[rows]  # (G, size) positions
                distances = dissimilarity_(stacked_distances(x[members].to(torch.float64)),
                                           similarity, x.shape[1])
                chosen, counts = stacked_eager_greedy(distances, count)
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


