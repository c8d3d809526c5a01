"""CREST's mini-batch coresets: facility-location medoids of each random subset, per class.

docs/methods.md, CREST step 2 (reference: `_select_subset` -> `SubsetGenerator.generate_subset` ->
`get_orders_and_weights(B, preds, "euclidean", y, equal_num=True)`): in every random subset R_j
and every class c, greedy facility location on the last-layer gradient proxy picks ceil(B/C)
medoids, each weighted by the number of R_j,c points nearest to it; the weights are normalised
over the whole selection to sum to the number selected. The m x C small problems are solved in
one batched call (`facility_location_by_group`, the same picks as looping the greedy over them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ....train.passes import normalise_weights
from ...kernels.facility_location import facility_location_by_group


def minibatch_coresets(subsets: list[Tensor], proxies: Tensor, labels: Tensor,
                       per_class: int, similarity: str = "max_minus_distance",
                       ) -> tuple[Tensor, Tensor, list[int]]:
    """(indices, weights, sizes): the m coresets concatenated in subset order (within a subset,
    class by class in ascending label, medoids in pick order), their weights (mean 1 over the
    whole selection) and each coreset's size.

    `proxies` holds one row per entry of `torch.cat(subsets)`, in that order; `labels` are the
    training labels (any device). A class with fewer than `per_class` points gives all of them
    (the reference then tops up the other classes; with our equal per-class draws that happens
    only for a class smaller than ceil(r/C) in the whole pool). `similarity`: facility
    location's (`SIMILARITIES` in selection/kernels/facility_location).
    """
    device = proxies.device
    union = torch.cat(subsets).to(device)
    subset_of = torch.repeat_interleave(
        torch.arange(len(subsets), device=device),
        torch.tensor([len(s) for s in subsets], device=device))
    num_classes = int(labels.max()) + 1
    # one group per (subset, class); ascending group id = subset-major, then label
    groups = subset_of * num_classes + labels[union].to(device)
    positions, counts = facility_location_by_group(proxies, groups, per_class,
                                                   similarity=similarity)
    sizes = torch.bincount(subset_of[positions], minlength=len(subsets)).tolist()
    return union[positions], normalise_weights(counts), sizes
