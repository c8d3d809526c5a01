"""facility_location_by_group against the per-group greedy it batches.

The reference is the loop the batched call replaces: for each group id in ascending order,
``greedy_facility_location(features[groups == g], k_g)`` with its picks mapped back to
positions (that greedy is itself checked against brute force in test_greedy.py).
Equality is exact: the same picks in the same order and the same weights.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from prunebench.selection.kernels.facility_location import (
    by_group,
    dense,
    facility_location_by_group,
    greedy_facility_location,
)
from prunebench.selection.kernels.facility_location.common import Distances

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def looped(features, groups, k):
    indices, weights = [], []
    for g in torch.unique(groups).tolist():
        count = k if isinstance(k, int) else int(k[g])
        if count == 0:
            continue
        members = torch.nonzero(groups == g).flatten()
        chosen, counts = greedy_facility_location(features[members], count)
        indices.append(members[chosen])
        weights.append(counts)
    if not indices:
        return torch.empty(0, dtype=torch.long), torch.empty(0)
    return torch.cat(indices), torch.cat(weights)


def assert_same(result, expected):
    assert result[0].dtype == torch.int64 and result[1].dtype == torch.float32
    assert result[0].tolist() == expected[0].tolist()
    assert result[1].tolist() == expected[1].tolist()


def random_instance(seed: int):
    """Groups of mixed sizes (several sharing a size, some of 1, some below k), rows shuffled,
    ids with gaps; every third instance on a 3-value grid, so duplicates and exact ties."""
    gen = torch.Generator().manual_seed(seed)

    def draw(low, high):
        return int(torch.randint(low, high, (1,), generator=gen))

    shared = draw(1, 40)
    sizes = [shared] * draw(1, 6) + [draw(1, 60) for _ in range(draw(0, 5))] + [1] * draw(0, 3)
    ids = torch.randperm(3 * len(sizes), generator=gen)[:len(sizes)]
    groups = torch.repeat_interleave(ids, torch.tensor(sizes))
    groups = groups[torch.randperm(len(groups), generator=gen)]
    d = (1, 2, 5, 10)[seed % 4]
    if seed % 3 == 0:
        x = torch.randint(0, 3, (len(groups), d), generator=gen).float()
    else:
        x = torch.randn(len(groups), d, generator=gen)
    return x, groups, draw(1, 16)


@pytest.mark.parametrize("seed", range(60))
def test_equals_the_looped_greedy(seed):
    x, groups, k = random_instance(seed)
    expected = looped(x, groups, k)
    assert len(expected[0]) == sum(min(k, int((groups == g).sum())) for g in groups.unique())
    for max_bytes in (None, 1, 1 << 30):  # default; one group per batch; all in one batch
        assert_same(facility_location_by_group(x, groups, k, max_bytes=max_bytes), expected)


def crest_instance(m: int, classes: int, per_class: int, seed: int):
    """CREST's call: m subsets of per_class rows of each class, rows subset-major, classes
    shuffled within a subset; features softmax(logits) - onehot(label), groups subset*C+class."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.arange(classes).repeat_interleave(per_class)[
        torch.randperm(classes * per_class, generator=gen)] for _ in range(m)])
    subset = torch.arange(m).repeat_interleave(classes * per_class)
    logits = 2.0 * torch.randn(len(labels), classes, generator=gen)
    proxies = torch.softmax(logits, dim=1) - F.one_hot(labels, classes).float()
    return proxies, subset * classes + labels


@pytest.mark.parametrize("m, classes, per_class", [(5, 10, 50), (3, 100, 5), (2, 10, 200)])
def test_crest_shapes_are_solved_in_one_batch(monkeypatch, m, classes, per_class):
    proxies, groups = crest_instance(m, classes, per_class, seed=m)
    k = math.ceil(128 / classes)
    calls = []
    build = dense.stacked_distances
    monkeypatch.setattr(by_group, "stacked_distances", lambda x: calls.append(len(x)) or build(x))
    result = facility_location_by_group(proxies, groups, k, max_bytes=1 << 30)
    assert calls == [m * classes]  # every (subset, class) problem in one stacked batch
    assert_same(result, looped(proxies, groups, k))


def test_hand_derived_groups_with_ties_and_duplicates():
    # Group 7 (rows 1, 3, 5, 7, 9, 11 hold 0, 1, 2, 10, 11, 12): summed distances 36, 32, 30,
    # 30, 32, 36 tie between its rows 2 and 3 -> row 2 (position 5); gains then 2, 2, -, 24,
    # 25, 24 -> row 4 (position 9); then gains 2, 2, -, 1, -, 1 -> row 0 (tie, lowest index),
    # then 1, 1, 1 -> row 1, then row 3. Group 2 (rows 0, 2, 4, 6, 8 hold 0, 0, 1, 1, 5): sums
    # 7, 7, 6, 6, 18 -> row 2; gains 2, 2, 0, 4 -> row 4; then row 0; then zero gains, by
    # index; a later copy of a medoid owns no point. Group 4 has one point.
    x = torch.tensor([[0.0], [0.0], [0.0], [1.0], [1.0], [2.0], [1.0], [10.0], [5.0], [11.0],
                      [99.0], [12.0]])
    groups = torch.tensor([2, 7, 2, 7, 2, 7, 2, 7, 2, 7, 4, 7])
    indices, weights = facility_location_by_group(x, groups, 5)
    assert indices.tolist() == [4, 8, 0, 2, 6, 10, 5, 9, 1, 3, 7]
    assert weights.tolist() == [2.0, 1.0, 2.0, 0.0, 0.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]
    indices, weights = facility_location_by_group(x, groups, torch.tensor([0, 0, 2, 0, 9, 0, 0,
                                                                           2]))
    assert indices.tolist() == [4, 8, 10, 5, 9]
    assert weights.tolist() == [4.0, 1.0, 1.0, 3.0, 3.0]


@pytest.mark.parametrize("seed", range(8))
def test_per_group_counts(seed):
    x, groups, _ = random_instance(100 + seed)
    gen = torch.Generator().manual_seed(seed)
    k = torch.randint(0, 12, (int(groups.max()) + 1,), generator=gen)
    expected = looped(x, groups, k)
    assert_same(facility_location_by_group(x, groups, k), expected)
    assert_same(facility_location_by_group(x, groups, k.tolist()), expected)


def test_no_picks_gives_empty_outputs():
    indices, weights = facility_location_by_group(torch.randn(5, 2), torch.zeros(5, dtype=int),
                                                  [0])
    assert indices.dtype == torch.int64 and weights.dtype == torch.float32
    assert len(indices) == len(weights) == 0


def test_groups_the_single_greedy_solves_lazily_are_handed_to_it():
    # More than 512 points on a CPU: greedy_facility_location's lazy path, mixed with small
    # stacked groups and a group above chunk_size.
    gen = torch.Generator().manual_seed(11)
    sizes = torch.tensor([600, 30, 30, 30, 80])
    groups = torch.repeat_interleave(torch.tensor([3, 0, 1, 2, 4]), sizes)
    groups = groups[torch.randperm(len(groups), generator=gen)]
    x = torch.randn(len(groups), 4, generator=gen)
    expected = looped(x, groups, 8)
    assert_same(facility_location_by_group(x, groups, 8), expected)
    # chunk_size 50: the 80-point group goes lazy too (also in the single greedy)
    chunked = [greedy_facility_location(x[groups == g], 8, chunk_size=50) for g in range(5)]
    result = facility_location_by_group(x, groups, 8, chunk_size=50)
    assert result[1].tolist() == torch.cat([c[1] for c in chunked]).tolist()


def test_results_do_not_depend_on_the_thread_count():
    # 200-point groups: n*n reaches torch's grain size, so reductions run multi-threaded.
    proxies, groups = crest_instance(2, 10, 200, seed=3)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)
        expected = looped(proxies, groups, 13)
        four = facility_location_by_group(proxies, groups, 13, max_bytes=1 << 30)
        torch.set_num_threads(1)
        one = facility_location_by_group(proxies, groups, 13, max_bytes=1 << 30)
    finally:
        torch.set_num_threads(before)
    assert_same(four, expected)
    assert_same(one, expected)


def test_input_left_unchanged_and_integer_features():
    x = torch.randint(0, 20, (40, 2), generator=torch.Generator().manual_seed(9))
    groups = torch.arange(40) % 3
    before = x.clone()
    result = facility_location_by_group(x, groups, 4)
    assert torch.equal(x, before)
    assert_same(result, looped(x, groups, 4))
    assert_same(result, facility_location_by_group(x.double(), groups.int(), 4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("m, classes, per_class", [(5, 10, 50), (10, 100, 5), (2, 10, 500)])
def test_gpu_matches_the_looped_greedy_and_the_cpu(m, classes, per_class):
    proxies, groups = crest_instance(m, classes, per_class, seed=4)
    k = math.ceil(128 / classes)
    gpu = facility_location_by_group(proxies.cuda(), groups.cuda(), k)
    assert gpu[0].device.type == gpu[1].device.type == "cuda"
    gpu = (gpu[0].cpu(), gpu[1].cpu())
    assert_same(gpu, [t.cpu() for t in looped(proxies.cuda(), groups.cuda(), k)])
    assert_same(gpu, facility_location_by_group(proxies, groups, k))


@pytest.mark.parametrize(
    "groups, k, kwargs, message",
    [
        ([0, 0, 1, 1], 2, {}, "groups must be a torch.Tensor"),
        (torch.zeros(3, dtype=torch.long), 2, {}, "one entry per row"),
        (torch.zeros(4, 1, dtype=torch.long), 2, {}, "1-D"),
        (torch.zeros(4), 2, {}, "integers"),
        (torch.zeros(4, dtype=torch.long), 0, {}, "k must be a positive integer"),
        (torch.zeros(4, dtype=torch.long), True, {}, "k must be a positive integer"),
        (torch.zeros(4, dtype=torch.long), 1.5, {}, "k must be a positive integer"),
        (torch.zeros(4, dtype=torch.long), [-1], {}, "non-negative"),
        (torch.tensor([0, 0, 1, 1]), [2], {}, r"group ids in \[0, 1\)"),
        (torch.tensor([-1, 0, 0, 0]), [2, 2], {}, "group ids"),
        (torch.zeros(4, dtype=torch.long), torch.tensor([1.0]), {}, "integer tensor"),
        (torch.zeros(4, dtype=torch.long), 2, {"max_bytes": 0}, "max_bytes"),
        (torch.zeros(4, dtype=torch.long), 2, {"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(groups, k, kwargs, message):
    with pytest.raises(ValueError, match=message):
        facility_location_by_group(torch.zeros(4, 2), groups, k, **kwargs)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_features_are_rejected(bad):
    x = torch.zeros(4, 2)
    x[2, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        facility_location_by_group(x, torch.zeros(4, dtype=torch.long), 1)


@pytest.mark.parametrize("seed", [0, 3, 12, 24, 48])
def test_grid_duplicates_are_zero_apart_on_both_paths(seed):
    """Centred duplicates come out exactly 0 apart, not ~1e-9 of kernel-dependent noise, so a
    later pick that duplicates a medoid of its group owns no point on either path (the
    instances that split the two paths on an AVX-512 CPU: issue 38)."""
    x, groups, k = random_instance(seed)
    for g in groups.unique():
        members = x[groups == g].double()
        same = (members.unsqueeze(0) == members.unsqueeze(1)).all(dim=2)
        single = Distances(members, 4096).matrix
        stacked = dense.stacked_distances(members.unsqueeze(0))[0]
        assert bool((single[same] == 0).all()) and bool((stacked[same] == 0).all())
        assert bool((single[~same] > 0).all()) and bool((stacked[~same] > 0).all())
    for indices, weights in (looped(x, groups, k), facility_location_by_group(x, groups, k)):
        seen = set()
        for index, weight in zip(indices.tolist(), weights.tolist(), strict=True):
            point = (int(groups[index]), tuple(x[index].tolist()))
            if point in seen:
                assert weight == 0.0, (point, weight)
            seen.add(point)
