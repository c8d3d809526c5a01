"""kcenter, herding and moderate selectors against brute force and hand-derived cases."""

import itertools

import numpy as np
import pytest
import torch

from prunebench.errors import UserError
from prunebench.options import options_schema
from prunebench.selection.quotas import class_quotas
from prunebench.selection.static.embedding_pool import Pool
from prunebench.selection.static.herding import HerdingOptions, herding, select_herding
from prunebench.selection.static.kcenter import KCenterOptions, k_center_greedy, select_kcenter
from prunebench.selection.static.moderate import ModerateOptions, select_moderate
from prunebench.selection.static.run import select_subset


def points(n, d, seed, dtype=np.float64):
    # Offset from the origin so the selectors' centring matters.
    return (np.random.default_rng(seed).normal(size=(n, d)) + 3.0).astype(dtype)


def dist_matrix(x):
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def brute_k_center(x, k, first):
    """Textbook greedy: the point with the largest distance to its nearest centre, lowest index
    on ties, from the full distance matrix."""
    dist, chosen = dist_matrix(x), [first]
    while len(chosen) < k:
        nearest = dist[:, chosen].min(axis=1)
        nearest[chosen] = -1
        chosen.append(int(np.argmax(nearest)))
    return chosen


def covering_radius(x, centres):
    return dist_matrix(x)[:, list(centres)].min(axis=1).max()


def kcenter_picks(x, k, first, chunk_size=32768):
    return k_center_greedy(Pool(torch.from_numpy(x), chunk_size), k, first).tolist()


@pytest.mark.parametrize("seed", range(8))
def test_kcenter_matches_brute_force_greedy(seed):
    g = np.random.default_rng(seed)
    n, d = int(g.integers(5, 40)), int(g.integers(1, 6))
    x, k, first = points(n, d, seed), int(g.integers(1, n + 1)), int(g.integers(n))
    got, expected = kcenter_picks(x, k, first), brute_k_center(x, k, first)
    assert got == expected
    assert covering_radius(x, got) == covering_radius(x, expected)


@pytest.mark.parametrize("seed", range(6))
def test_kcenter_within_twice_the_optimal_radius(seed):
    x = points(9, 2, 100 + seed)
    for k in (1, 2, 3):
        optimum = min(covering_radius(x, c) for c in itertools.combinations(range(9), k))
        for first in range(9):  # the guarantee holds whatever the first centre
            assert covering_radius(x, kcenter_picks(x, k, first)) <= 2 * optimum + 1e-12


def test_kcenter_chunked_equals_unchunked_and_float16_works():
    x = points(200, 16, 7, np.float32)
    whole = kcenter_picks(x, 40, 5)
    assert kcenter_picks(x, 40, 5, chunk_size=7) == whole
    assert kcenter_picks(x, 40, 5, chunk_size=200) == whole
    # float16 values widen exactly to float32, so the float16 array gives its own float32 answer
    half = x.astype(np.float16)
    assert kcenter_picks(half, 40, 5, chunk_size=7) == kcenter_picks(half.astype(np.float32), 40, 5)


def test_kcenter_duplicates_and_full_budget():
    x = np.ones((5, 3))
    assert kcenter_picks(x, 3, 2) == [2, 0, 1]  # all tied at distance 0: lowest unchosen index
    y = points(12, 2, 3)
    assert sorted(kcenter_picks(y, 12, 4)) == list(range(12))
    assert sorted(kcenter_picks(y, 50, 4)) == list(range(12))  # k capped at the pool


def test_select_kcenter_per_class_and_one_pool():
    x, labels = points(60, 3, 11), np.repeat([0, 1, 2], [30, 20, 10])
    for balanced in (True, False):
        got = select_kcenter(x, labels, 0.25, np.random.default_rng(4),
                             KCenterOptions(class_balanced=balanced))
        g, expected = np.random.default_rng(4), []  # first centres drawn class by class
        groups = ([(np.flatnonzero(labels == c), q) for c, q in class_quotas(labels, 15).items()]
                  if balanced else [(np.arange(60), 15)])
        for idx, q in groups:
            first = int(g.integers(len(idx)))
            expected += idx[brute_k_center(x[idx], q, first)].tolist()
        assert got.dtype == np.int64 and got.tolist() == sorted(expected)
    same = select_kcenter(torch.from_numpy(x), labels, 0.25, np.random.default_rng(4))
    assert same.tolist() == select_kcenter(x, labels, 0.25, np.random.default_rng(4)).tolist()


def brute_herding(x, k):
    """Each step: argmin over unchosen p of ||(i+1) mu - sum_S x - x_p||, lowest index on ties."""
    mu, chosen = x.mean(axis=0), []
    for i in range(k):
        target = (i + 1) * mu - x[chosen].sum(axis=0)
        gaps = np.linalg.norm(target - x, axis=1)
        gaps[chosen] = np.inf
        chosen.append(int(np.argmin(gaps)))
    return chosen


def herding_picks(x, k, chunk_size=32768):
    return herding(Pool(torch.from_numpy(x), chunk_size), k).tolist()


@pytest.mark.parametrize("seed", range(8))
def test_herding_each_step_is_the_brute_force_argmin(seed):
    g = np.random.default_rng(seed)
    n, d = int(g.integers(3, 40)), int(g.integers(1, 6))
    x, k = points(n, d, 50 + seed), int(g.integers(1, n + 1))
    assert herding_picks(x, k) == brute_herding(x, k)
    assert herding_picks(x, k, chunk_size=4) == brute_herding(x, k)


def test_herding_running_mean_error_on_a_constructed_case():
    # 1-D pattern a = [4, -1, -1, -1, -1] (mean 0) placed on a line in 3-D, away from the
    # origin. By hand: picks -1, -1, 4, -1, -1, running means -1, -1, 2/3, 1/4, 0.
    u, m = np.array([0.6, 0.0, 0.8]), np.array([5.0, -2.0, 1.0])
    x = m + np.array([4.0, -1, -1, -1, -1])[:, None] * u
    order = herding_picks(x, 5)
    assert order == [1, 2, 0, 3, 4]
    errors = [np.linalg.norm(x[order[:i + 1]].mean(axis=0) - m) for i in range(5)]
    np.testing.assert_allclose(errors, [1, 1, 2 / 3, 1 / 4, 0], atol=1e-12)
    assert all(b <= a + 1e-12 for a, b in zip(errors, errors[1:], strict=False))


def test_herding_mean_beats_random_subsets():
    # Herding's mean error shrinks like 1/k, a random subset's like 1/sqrt(k).
    x = points(400, 8, 9)
    mu, order = x.mean(axis=0), herding_picks(x, 100)
    g = np.random.default_rng(0)
    for k in (10, 50, 100):
        herd = np.linalg.norm(x[order[:k]].mean(axis=0) - mu)
        rand = np.mean([np.linalg.norm(x[g.choice(400, k, replace=False)].mean(axis=0) - mu)
                        for _ in range(50)])
        assert herd < rand / 5


def test_select_herding_per_class_float16_and_deterministic():
    x, labels = points(90, 4, 12, np.float16), np.repeat([2, 0, 1], 30)
    got = select_herding(x, labels, 0.3, np.random.default_rng(0), chunk_size=8)
    expected = []
    for c in (0, 1, 2):
        idx = np.flatnonzero(labels == c)
        expected += idx[herding_picks(x[idx].astype(np.float32), 9)].tolist()
    assert got.tolist() == sorted(expected)
    other_rng = select_herding(x, labels, 0.3, np.random.default_rng(99))  # rng is unused
    assert other_rng.tolist() == got.tolist()
    flat = select_herding(x.astype(np.float64), labels, 0.3, None,
                          HerdingOptions(class_balanced=False))
    assert flat.tolist() == sorted(brute_herding(x.astype(np.float64), 27))


def star(centre, radii):
    """Points at the given distances from `centre` along alternating +x, -y, -x, +y
    directions: the coordinate-wise median is exactly `centre` when one radius is 0 and the
    others come in an order that balances each axis (checked by the caller)."""
    dirs = np.array([[1, 0], [0, -1], [-1, 0], [0, 1]], dtype=np.float64)
    return np.array([centre + r * dirs[i % 4] for i, r in enumerate(radii)])


def test_moderate_keeps_the_band_around_the_median_distance():
    # distances 0, 1, 2, 3, 10, 11, 12 from the median centre (7, -1); median distance 3
    x = star(np.array([7.0, -1.0]), [0, 1, 2, 3, 10, 11, 12])
    assert np.allclose(np.median(x, axis=0), [7.0, -1.0])
    labels = np.zeros(7, dtype=np.int64)
    # |d - 3| = 3, 2, 1, 0, 7, 8, 9: the three closest are distances 3, 2, 1
    assert select_moderate(x, labels, 3 / 7, None).tolist() == [1, 2, 3]
    # Moderate-DS's rank window: sorted ranks 2..4 (distances 2, 3, 10)
    rank = ModerateOptions(band="rank")
    assert select_moderate(x, labels, 3 / 7, None, rank).tolist() == [2, 3, 4]
    assert select_moderate(x, labels, 1 / 7, None).tolist() == [3]


def test_moderate_per_class_centres_and_balance():
    g = np.random.default_rng(5)
    x = np.concatenate([g.normal(0, 1, (40, 3)), g.normal(50, 3, (20, 3))])
    labels = np.repeat([0, 1], [40, 20])

    def brute(center, balanced, q_total):
        dist = np.empty(60)
        for c in (0, 1):
            rows = x[labels == c]
            centre = np.median(rows, axis=0) if center == "median" else rows.mean(axis=0)
            dist[labels == c] = np.linalg.norm(rows - centre, axis=1)
        quotas = class_quotas(labels, q_total).items()
        groups = ([(np.flatnonzero(labels == c), q) for c, q in quotas] if balanced
                  else [(np.arange(60), q_total)])
        keep = []
        for idx, q in groups:
            gap = np.abs(dist[idx] - np.median(dist[idx]))
            keep += sorted(idx[np.lexsort((idx, gap))][:q].tolist())
        return sorted(keep)

    for center in ("median", "mean"):
        for balanced in (True, False):
            got = select_moderate(x, labels, 0.25, None,
                                  ModerateOptions(class_balanced=balanced, center=center))
            assert got.tolist() == brute(center, balanced, 15)
    balanced = select_moderate(x, labels, 0.25, None)
    assert np.bincount(labels[balanced]).tolist() == [10, 5]


def test_moderate_rank_band_reproduces_moderate_ds_window():
    # Moderate-DS (one pool, rate r): keep sorted[round(N(0.5 - r/2)) : round(N(0.5 + r/2))]
    x, labels = points(100, 6, 21), np.random.default_rng(1).integers(0, 4, 100)
    dist = np.empty(100)
    for c in range(4):
        rows = x[labels == c]
        dist[labels == c] = np.linalg.norm(rows - np.median(rows, axis=0), axis=1)
    window = np.argsort(dist)[40:60]
    got = select_moderate(x, labels, 0.2, None,
                          ModerateOptions(class_balanced=False, band="rank"))
    assert got.tolist() == sorted(window.tolist())


def test_embedding_selectors_refuse_bad_inputs():
    x, labels = points(10, 2, 0), np.zeros(10, dtype=np.int64)
    for select in (select_kcenter, select_herding, select_moderate):
        with pytest.raises(UserError, match="shape"):
            select(x[:9], labels, 0.5, np.random.default_rng(0))
        with pytest.raises(UserError, match="shape"):
            select(x[:, 0], labels, 0.5, np.random.default_rng(0))
        bad = x.copy()
        bad[3, 1] = np.inf
        with pytest.raises(UserError, match="infinite"):
            select(bad, labels, 0.5, np.random.default_rng(0))
    with pytest.raises(UserError, match="chunk_size"):
        select_kcenter(x, labels, 0.5, np.random.default_rng(0), chunk_size=0)
    with pytest.raises(UserError, match="device"):
        select_herding(x, labels, 0.5, None, device="tpu")
    for name in ("kcenter", "herding", "moderate"):  # options are checked where they are built
        with pytest.raises(UserError, match=r"does not take option\(s\) \['beta'\]"):
            select_subset(name, x, labels, 0.5, np.random.default_rng(0), beta=0.1)
    with pytest.raises(UserError, match="band='middle'; choose one of: distance, rank"):
        select_subset("moderate", x, labels, 0.5, None, band="middle")


def test_options_dataclasses_give_schema_blocks():
    for cls in (KCenterOptions, HerdingOptions):  # chunk_size and device are not options
        assert list(options_schema(cls, "x")["properties"]) == ["class_balanced"]
    props = options_schema(ModerateOptions, "m")["properties"]
    assert props["center"]["enum"] == ["median", "mean"] and props["center"]["default"] == "median"
    assert props["band"]["enum"] == ["distance", "rank"] and props["band"]["default"] == "distance"


def test_selectors_leave_the_callers_array_untouched():
    for dtype in (np.float32, np.float64):
        x, labels = points(40, 3, 8, dtype), np.repeat([0, 1], 20)
        copy = x.copy()
        for select in (select_kcenter, select_herding):
            select(x, labels, 0.3, np.random.default_rng(0))
            select(torch.from_numpy(x), labels, 0.3, np.random.default_rng(0), chunk_size=7)
            np.testing.assert_array_equal(x, copy)
        select_moderate(torch.from_numpy(x), labels, 0.3, None)
        np.testing.assert_array_equal(x, copy)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")
def test_gpu_picks_equal_cpu_picks():
    x, labels = points(3000, 64, 13, np.float32), np.random.default_rng(2).integers(0, 5, 3000)
    for select in (select_kcenter, select_herding):
        cpu = select(x, labels, 0.2, np.random.default_rng(1), device="cpu")
        gpu = select(x, labels, 0.2, np.random.default_rng(1), device="cuda")
        on_gpu = select(torch.from_numpy(x).half().cuda(), labels, 0.2, np.random.default_rng(1))
        assert gpu.tolist() == cpu.tolist() and len(on_gpu) == len(cpu)
