"""What only tests and benchmarks use: the facility-location objective itself, to check a
greedy's picks against brute force, an oracle library or another greedy."""

from __future__ import annotations

import torch
from torch import Tensor

from .common import check_similarity, distance_block, validated


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
    x = validated(features, 1, chunk_size)
    check_similarity(similarity)
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
                block = distance_block(x, sq_norms, rows, dtype=torch.float64)
                largest = max(largest, float(block.max()))
            block = sq_norms[rows].unsqueeze(1) + sq_norms[indices].unsqueeze(0)
            block = block.addmm_(x[rows], x[indices].T, alpha=-2.0).clamp_min_(0.0).sqrt_()
            block[rows.unsqueeze(1) == indices.unsqueeze(0)] = 0.0
            nearest.append(block.min(dim=1).values)
    d_max = largest if d_max is None else float(d_max)
    return float(n * d_max - torch.cat(nearest).sum())
