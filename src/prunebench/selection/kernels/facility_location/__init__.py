"""Greedy facility location (CREST's mini-batch coresets, CRAIG's per-class medoids).

The public calls, and the only place that chooses a path by device:
- ``greedy_facility_location``: one problem. A stored matrix (n <= chunk_size) is solved by
  the dense greedy (``dense``) on a GPU, and on a CPU up to ``EAGER_MAX_POINTS_CPU`` points;
  above that a CPU runs the lazy greedy compiled with numba (``compiled``: a torch step there
  costs its control, not its arithmetic); a matrix too large to store runs the torch lazy
  greedy over recomputed tiles (``lazy``).
- ``facility_location_by_group``: many problems at once, stacked by shape (``by_group``).
- ``craig_select``: CRAIG's classes of one selection in one grouped call (``by_class``).
- ``warm_up(device)``: loads the compiled code before any timed phase (a no-op off the CPU).
Every path gives the same picks and weights for the same problem (tests/kernels compare them);
``common`` holds what they share, ``reference`` what only tests use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .by_class import class_counts, in_quota_order
from .by_group import BYTES_PER_ENTRY, solve_by_group
from .common import SIMILARITIES, Distances, check_arguments, check_similarity, validated
from .dense import eager_greedy
from .lazy import lazy_greedy

__all__ = ["SIMILARITIES", "craig_select", "facility_location_by_group",
           "greedy_facility_location", "warm_up"]

# Below this many points the eager greedy over the whole matrix beats the lazy one on a CPU
# (the lazy step pays a few host synchronisations); on a GPU eager is used up to chunk_size.
EAGER_MAX_POINTS_CPU = 512
# Default max_bytes of a stack: on a CPU a batch that stays in cache (memory-bound passes over
# 50 MB batches ran 2x slower than 4 MB ones); on a GPU large, as launches are what cost there.
BATCH_BYTES_CPU = 1 << 22
BATCH_BYTES_GPU = 1 << 28
# On a CPU one class's float32 distance matrix is stored whole up to this size (8,192 points)
# for CRAIG, classes solved one after the other; larger ones recompute rows in tiles.
CPU_MATRIX_BYTES = 1 << 28


def greedy_facility_location(
    features: Tensor, k: int, *, chunk_size: int = 4096, similarity: str = "max_minus_distance"
) -> tuple[Tensor, Tensor]:
    """Greedy medoids of ``features`` (n, d) under the facility-location objective.

    Returns ``indices`` (int64, ``min(k, n)`` medoids in the order chosen) and ``weights``
    (float32, summing to n): how many points have that medoid as their nearest (Euclidean;
    ties go to the medoid chosen earlier, so a later exact duplicate of a medoid weighs 0).
    Computes on ``features.device``; memory is O(chunk_size * n) (``common``'s docstring).
    ``similarity``: one of ``SIMILARITIES`` (``common``'s docstring).
    """
    x = validated(features, k, chunk_size)
    check_similarity(similarity)
    k = min(k, len(x))
    with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        distances = Distances(x, chunk_size, similarity)
        if distances.matrix is not None and (
            x.device.type != "cpu" or len(x) <= EAGER_MAX_POINTS_CPU
        ):
            return eager_greedy(distances.matrix, k)
        if distances.matrix is not None:  # a CPU's stored matrix: the compiled lazy greedy
            from .compiled import lazy_greedy_stored  # numba loads only in jobs that use it

            return lazy_greedy_stored(distances.matrix, k)
        return lazy_greedy(distances, k, chunk_size)


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
    with its picks mapped back to positions. Computes on ``features.device``; ``chunk_size``
    as for ``greedy_facility_location``; ``max_bytes`` bounds the memory of one stacked batch
    of equal-sized groups (a group larger than that is still solved, alone; default 4 MiB on
    a CPU, 256 MiB elsewhere); ``similarity`` as for ``greedy_facility_location``.
    """
    check_arguments(features, 1, chunk_size)
    check_similarity(similarity)
    x = features.detach()  # rows go to float64 a batch at a time (as the single greedy's do)
    on_cpu = x.device.type == "cpu"
    if max_bytes is None:
        max_bytes = BATCH_BYTES_CPU if on_cpu else BATCH_BYTES_GPU
    eager_max = min(chunk_size, EAGER_MAX_POINTS_CPU) if on_cpu else chunk_size

    def single(members: Tensor, count: int) -> tuple[Tensor, Tensor]:
        return greedy_facility_location(members, count, chunk_size=chunk_size,
                                        similarity=similarity)

    return solve_by_group(x, groups, k, eager_max=eager_max, max_bytes=max_bytes,
                          single=single, similarity=similarity)


def craig_select(proxies: Tensor, labels: Tensor, quotas: dict[int, int], *,
                 chunk_size: int = 4096, dense_bytes: int | None = None
                 ) -> tuple[Tensor, Tensor]:
    """Greedy facility-location medoids of every class with a positive quota (CRAIG).

    `proxies` (N, d) on any device, `labels` (N) class ids, `quotas` {class: count} (its key
    order is the output's class order; 0 skips a class). Returns `indices` (int64 positions
    into `proxies`, class by class, each class in pick order) and `weights` (float32 cluster
    sizes, not normalised), both on `proxies.device`: what looping `greedy_facility_location`
    over the classes and concatenating gives. Dense where memory allows, chunked where it
    does not: on a GPU, when every class's matrix and temporaries fit in `dense_bytes`
    (default a quarter of the free device memory), the classes run densely in stacked
    batches; on a CPU a class whose float32 matrix fits in 256 MiB (up to 8,192 points) is
    stored and runs the compiled lazy greedy, a larger one the chunked lazy path.
    """
    device = proxies.device
    labels = labels.to(device=device, dtype=torch.long)
    wanted = {int(c): int(q) for c, q in quotas.items() if q > 0}
    if not wanted:
        return (torch.zeros(0, dtype=torch.long, device=device),
                torch.zeros(0, dtype=torch.float32, device=device))
    k, sizes = class_counts(labels, wanted)
    chunk, max_bytes = _dense_plan(sizes, wanted, device, chunk_size, dense_bytes)
    indices, weights = facility_location_by_group(proxies, labels, k, chunk_size=chunk,
                                                  max_bytes=max_bytes)
    return in_quota_order(indices, weights, wanted, k, sizes)


def warm_up(device: torch.device) -> None:
    """Load (or compile) the CPU's compiled greedy now, outside any timed phase."""
    if torch.device(device).type == "cpu":
        from .compiled import warm_up as load_compiled

        load_compiled()


def _dense_plan(sizes: list[int], wanted: dict[int, int], device: torch.device,
                chunk_size: int, dense_bytes: int | None) -> tuple[int, int | None]:
    """chunk_size and max_bytes for `facility_location_by_group`: every class dense and the
    equal-sized ones in one stack when their matrices fit in `dense_bytes` (not on a CPU),
    else the caller's chunk_size and the default stacks."""
    if device.type == "cpu":  # a class's matrix is stored (the compiled greedy) if it fits
        largest = max(sizes[c] for c in wanted)
        return (max(chunk_size, largest) if 4 * largest ** 2 <= CPU_MATRIX_BYTES
                else chunk_size), None
    needed = sum(BYTES_PER_ENTRY * sizes[c] ** 2 for c in wanted)
    if dense_bytes is None:
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else 0
        dense_bytes = free // 4
    if needed > dense_bytes:
        return chunk_size, None
    return max(chunk_size, max(sizes[c] for c in wanted)), max(dense_bytes, 1)
