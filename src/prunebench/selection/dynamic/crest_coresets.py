"""CREST's mini-batch coresets: facility-location medoids of each random subset, per class.

METHODS.md, CREST step 2 (reference: `_select_subset` -> `SubsetGenerator.generate_subset` ->
`get_orders_and_weights(B, preds, "euclidean", y, equal_num=True)`): in every random subset R_j
and every class c, greedy facility location on the last-layer gradient proxy picks ceil(B/C)
medoids, each weighted by the number of R_j,c points nearest to it; the weights are normalised
over the whole selection to sum to the number selected. This is the one place the per-(subset,
class) problems are solved, so a batched solver can replace the loop without touching the rest.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..facility_location import greedy_facility_location
from .common import normalise_weights


def minibatch_coresets(subsets: list[Tensor], proxies: Tensor, labels: Tensor,
                       per_class: int) -> tuple[Tensor, Tensor, list[int]]:
    """(indices, weights, sizes): the m coresets concatenated in subset order, their weights
    (mean 1 over the whole selection) and each coreset's size.

    `proxies` holds one row per entry of `torch.cat(subsets)`, in that order; `labels` are the
    training labels (any device). A class with fewer than `per_class` points gives all of them
    (the reference then tops up the other classes; with our equal per-class draws that happens
    only for a class smaller than ceil(r/C) in the whole pool).
    """
    device = proxies.device
    parts, weights, sizes, start = [], [], [], 0
    for subset in subsets:
        subset = subset.to(device)
        rows = proxies[start:start + len(subset)]
        start += len(subset)
        subset_labels = labels[subset]
        size = 0
        for label in torch.unique(subset_labels):
            members = torch.nonzero(subset_labels == label).flatten()
            chosen, counts = greedy_facility_location(rows[members], per_class)
            parts.append(subset[members[chosen]])
            weights.append(counts.float())
            size += len(chosen)
        sizes.append(size)
    return torch.cat(parts), normalise_weights(torch.cat(weights)), sizes
