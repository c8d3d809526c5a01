"""CRAIG's selection: every class's facility-location problem of one selection in one call.

Drop-in for the per-class loop of `CraigSampler.start_epoch` (`greedy_facility_location` on
each class's proxies with its quota): the same indices, in the same class order, and the same
raw weights (cluster sizes, before `normalise_weights`), computed by
`facility_location_by_group` on the proxies' device, which stacks classes of equal size (a
balanced dataset's, CIFAR-10's 5,000 a class) into one batched greedy and hands any class its
dense path would not hold to the single greedy's chunked lazy path.

Dense where memory allows, chunked where it does not: on a GPU, when every class's
float32 distance matrix and its temporaries (16 bytes per entry) fit in `dense_bytes`
(default a quarter of the free device memory), the classes are solved densely in stacked
batches (the launches, not the arithmetic, are what cost there). On a CPU, a class of more
than 512 points whose float32 matrix fits in 256 MiB (up to 8,192 points, CIFAR-10's 5,000
included) is stored and runs the single greedy's lazy greedy compiled
(`facility_location_compiled`: ~3 ms for a 1,000-point class with 100 picks, a tenth of the
torch loop's); larger ones its chunked lazy path, memory O(chunk_size x class size).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .facility_location_batched import _BYTES_PER_ENTRY, facility_location_by_group

# On a CPU one class's float32 distance matrix is stored whole up to this size (8,192 points),
# classes are solved one after the other; larger ones recompute rows in chunk_size tiles.
_CPU_MATRIX_BYTES = 1 << 28


def craig_select(proxies: Tensor, labels: Tensor, quotas: dict[int, int], *,
                 chunk_size: int = 4096, dense_bytes: int | None = None
                 ) -> tuple[Tensor, Tensor]:
    """Greedy facility-location medoids of every class with a positive quota.

    `proxies` (N, d) on any device, `labels` (N) class ids, `quotas` {class: count} (its key
    order is the output's class order; 0 skips a class). Returns `indices` (int64 positions
    into `proxies`, class by class, each class in pick order) and `weights` (float32 cluster
    sizes, not normalised), both on `proxies.device`: what looping `greedy_facility_location`
    over the classes and concatenating gives.
    """
    device = proxies.device
    labels = labels.to(device=device, dtype=torch.long)
    wanted = {int(c): int(q) for c, q in quotas.items() if q > 0}
    if not wanted:
        return (torch.zeros(0, dtype=torch.long, device=device),
                torch.zeros(0, dtype=torch.float32, device=device))
    present = torch.unique(labels).tolist()
    largest = max(max(present), max(wanted))
    k = [0] * (largest + 1)
    for label, quota in wanted.items():
        k[label] = quota
    sizes = torch.bincount(labels, minlength=largest + 1).tolist()
    chunk, max_bytes = _dense_plan(sizes, wanted, device, chunk_size, dense_bytes)
    indices, weights = facility_location_by_group(proxies, labels, k, chunk_size=chunk,
                                                  max_bytes=max_bytes)
    # facility_location_by_group goes by ascending class id; put the classes in quotas' order
    picks = {c: min(k[c], sizes[c]) for c in range(largest + 1) if k[c] and sizes[c]}
    starts, total = {}, 0
    for c in sorted(picks):
        starts[c] = total
        total += picks[c]
    order = [torch.arange(starts[c], starts[c] + picks[c], device=device)
             for c in wanted if c in picks]
    order = torch.cat(order)
    return indices[order], weights[order]


def _dense_plan(sizes: list[int], wanted: dict[int, int], device: torch.device,
                chunk_size: int, dense_bytes: int | None) -> tuple[int, int | None]:
    """chunk_size and max_bytes for `facility_location_by_group`: every class dense and the
    equal-sized ones in one stack when their matrices fit in `dense_bytes` (not on a CPU),
    else the caller's chunk_size and the default stacks."""
    if device.type == "cpu":  # a class's matrix is stored (the compiled greedy) if it fits
        largest = max(sizes[c] for c in wanted)
        return (max(chunk_size, largest) if 4 * largest ** 2 <= _CPU_MATRIX_BYTES
                else chunk_size), None
    needed = sum(_BYTES_PER_ENTRY * sizes[c] ** 2 for c in wanted)
    if dense_bytes is None:
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else 0
        dense_bytes = free // 4
    if needed > dense_bytes:
        return chunk_size, None
    return max(chunk_size, max(sizes[c] for c in wanted)), max(dense_bytes, 1)
