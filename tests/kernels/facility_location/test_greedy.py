"""greedy_facility_location against brute force on small instances.

The reference is the textbook greedy: a Python loop over candidates on an explicit float64
distance matrix, each gain F(S + c) - F(S) from the objective itself, with the documented tie
rule (gains within 1e-5 of the best, relative, go to the lowest index); the optimum is
exhaustive search.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from prunebench.selection.kernels.facility_location import greedy_facility_location
from prunebench.selection.kernels.facility_location.reference import facility_location_objective

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def distance_matrix(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1))


def objective(dist: np.ndarray, chosen: list[int], d_max: float | None = None) -> float:
    if not chosen:
        return 0.0
    d_max = dist.max() if d_max is None else d_max
    return float((d_max - dist[:, chosen].min(axis=1)).sum())


def naive_greedy(dist: np.ndarray, k: int, tie_rtol: float = 1e-5) -> list[int]:
    chosen: list[int] = []
    for _ in range(min(k, len(dist))):
        current = objective(dist, chosen)
        gains = {c: objective(dist, chosen + [c]) - current
                 for c in range(len(dist)) if c not in chosen}
        best = max(gains.values())
        chosen.append(min(c for c, g in gains.items() if g >= best - tie_rtol * abs(best)))
    return chosen


def nearest_medoid_counts(dist: np.ndarray, chosen: list[int]) -> list[float]:
    """Each point counted at its nearest medoid; argmin takes the first, i.e. earlier, on ties."""
    owner = dist[:, chosen].argmin(axis=1)
    return np.bincount(owner, minlength=len(chosen)).astype(float).tolist()


def random_instance(seed: int, max_n: int = 40) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, max_n + 1)), int(rng.integers(1, 7))
    k = int(rng.integers(1, n + 3))
    return rng.normal(size=(n, d)).astype(np.float32), k


@pytest.mark.parametrize("seed", range(40))
def test_equals_the_naive_greedy(seed):
    x, k = random_instance(seed)
    dist = distance_matrix(x)
    expected = naive_greedy(dist, k)
    for chunk_size in (3, 4096):  # 3: the lazy, recomputing path; 4096: the dense one
        indices, weights = greedy_facility_location(torch.from_numpy(x), k,
                                                    chunk_size=chunk_size)
        assert indices.tolist() == expected
        assert weights.tolist() == nearest_medoid_counts(dist, expected)
    assert facility_location_objective(torch.from_numpy(x), indices) == pytest.approx(
        objective(dist, expected), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", range(30))
def test_reaches_one_minus_one_over_e_of_the_optimum(seed):
    rng = np.random.default_rng(1000 + seed)
    n, k = int(rng.integers(2, 11)), int(rng.integers(1, 4))
    x = rng.normal(size=(n, int(rng.integers(1, 5)))).astype(np.float32)
    dist = distance_matrix(x)
    indices, _ = greedy_facility_location(torch.from_numpy(x), k)
    optimum = max(objective(dist, list(s)) for s in itertools.combinations(range(n), min(k, n)))
    assert objective(dist, indices.tolist()) >= (1 - 1 / math.e) * optimum - 1e-9


@pytest.mark.parametrize("chunk_size", [64, 4096])
def test_weights_count_each_point_at_its_nearest_medoid(chunk_size):
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(3))
    indices, weights = greedy_facility_location(x, 30, chunk_size=chunk_size)
    assert weights.tolist() == nearest_medoid_counts(distance_matrix(x.numpy()),
                                                     indices.tolist())
    assert float(weights.sum()) == 300


def test_outputs_are_unique_indices_and_float32_weights():
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(4))
    indices, weights = greedy_facility_location(x, 25)
    assert indices.dtype == torch.int64 and weights.dtype == torch.float32
    assert indices.device == x.device == weights.device
    assert len(indices) == len(weights) == 25 == len(set(indices.tolist()))
    assert 0 <= int(indices.min()) and int(indices.max()) < 200
    assert bool((weights >= 1).all())  # distinct points: every medoid owns at least itself


@pytest.mark.parametrize("k", [7, 12])
def test_k_at_least_n_returns_every_point(k):
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(5))
    indices, weights = greedy_facility_location(x, k)
    assert sorted(indices.tolist()) == list(range(7))
    assert weights.tolist() == [1.0] * 7


@pytest.mark.parametrize("n, k", [(700, 60), (1500, 40)])
def test_small_chunks_give_the_same_result_as_large(n, k):
    x = torch.randn(n, 6, generator=torch.Generator().manual_seed(n))
    results = [greedy_facility_location(x, k, chunk_size=c) for c in (7, 100, 4096)]
    for indices, weights in results[1:]:
        assert indices.tolist() == results[0][0].tolist()
        assert weights.tolist() == results[0][1].tolist()


def test_hand_derived_instance_with_a_tie():
    # summed distances: 36, 32, 30, 30, 32, 36 -> tie between 2 and 10 goes to index 2;
    # then gains 2, 2, -, 24, 25, 24 for the points at 0, 1, 2, 10, 11, 12 -> index 4.
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    indices, weights = greedy_facility_location(x, 2)
    assert indices.tolist() == [2, 4]
    assert weights.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("chunk_size", [2, 4096])
def test_duplicates_are_deterministic(chunk_size):
    # sums 7, 7, 6, 6, 18 -> 2; gains 2, 2, 0, 4 -> 4; gains 2, 2, 0 -> 0; then only zero gains
    # are left, taken by index; a later copy of a medoid owns no point.
    x = torch.tensor([[0.0], [0.0], [1.0], [1.0], [5.0]])
    indices, weights = greedy_facility_location(x, 5, chunk_size=chunk_size)
    assert indices.tolist() == [2, 4, 0, 1, 3]
    assert weights.tolist() == [2.0, 1.0, 2.0, 0.0, 0.0]
    same = torch.ones(9, 4)
    indices, weights = greedy_facility_location(same, 3, chunk_size=chunk_size)
    assert indices.tolist() == [0, 1, 2] and weights.tolist() == [9.0, 0.0, 0.0]


def test_close_points_far_from_the_mean_are_resolved():
    # Two tight clusters far apart: distances of 1e-3 next to norms of 100 would be noise if
    # ||a||^2 + ||b||^2 - 2 a.b were formed in float32.
    rng = np.random.default_rng(7)
    centres = np.repeat([[100.0, 0.0, 0.0], [-100.0, 0.0, 0.0]], 30, axis=0)
    x = (centres + 1e-3 * rng.normal(size=(60, 3))).astype(np.float32)
    dist = distance_matrix(x)
    for chunk_size in (5, 4096):
        indices, _ = greedy_facility_location(torch.from_numpy(x), 20, chunk_size=chunk_size)
        assert indices.tolist() == naive_greedy(dist, 20)


def test_first_pick_minimises_summed_distance_and_d_max_only_shifts_the_objective():
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    dist = distance_matrix(x.numpy())
    indices, _ = greedy_facility_location(x, 4)
    assert int(indices[0]) == int(dist.sum(axis=0).argmin())
    chosen = indices.tolist()
    low = facility_location_objective(x, indices, d_max=dist.max())
    high = facility_location_objective(x, indices, d_max=dist.max() + 10.0)
    assert high - low == pytest.approx(40 * 10.0)
    assert low == pytest.approx(objective(dist, chosen), rel=1e-12)
    assert facility_location_objective(x, indices) == pytest.approx(low, rel=1e-12)
    assert facility_location_objective(x, torch.tensor([], dtype=torch.long)) == 0.0


def test_other_input_dtypes_and_the_input_left_unchanged():
    x = torch.randint(0, 20, (30, 2), generator=torch.Generator().manual_seed(9))
    before = x.clone()
    as_int = greedy_facility_location(x, 5)
    as_float = greedy_facility_location(x.double(), 5)
    assert torch.equal(x, before)
    assert as_int[0].tolist() == as_float[0].tolist() == naive_greedy(distance_matrix(x), 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    x = torch.randn(3000, 10, generator=torch.Generator().manual_seed(10))
    cpu = greedy_facility_location(x, 100, chunk_size=1000)
    gpu = greedy_facility_location(x.cuda(), 100, chunk_size=1000)
    assert gpu[0].device.type == "cuda"
    assert gpu[0].cpu().tolist() == cpu[0].tolist() and gpu[1].cpu().tolist() == cpu[1].tolist()


@pytest.mark.parametrize(
    "features, k, chunk_size, message",
    [
        (torch.zeros(4), 2, 10, "2-D"),
        (torch.zeros(2, 3, 4), 2, 10, "2-D"),
        (torch.zeros(0, 3), 2, 10, "n >= 1"),
        (torch.zeros(4, 2), 0, 10, "k must be a positive integer"),
        (torch.zeros(4, 2), 1.5, 10, "k must be a positive integer"),
        (torch.zeros(4, 2), True, 10, "k must be a positive integer"),
        (torch.zeros(4, 2), 2, 0, "chunk_size must be a positive integer"),
        (torch.tensor([[0.0], [math.nan]]), 1, 10, "NaN"),
        (torch.tensor([[-math.inf], [0.0]]), 1, 10, "infinite"),
        (torch.tensor([[0.0, math.inf]], dtype=torch.float16), 1, 10, "infinite"),
        (np.zeros((4, 2)), 2, 10, "torch.Tensor"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(features, k, chunk_size, message):
    with pytest.raises(ValueError, match=message):
        greedy_facility_location(features, k, chunk_size=chunk_size)


def test_objective_rejects_indices_out_of_range():
    with pytest.raises(ValueError, match="indices must lie in"):
        facility_location_objective(torch.zeros(3, 2), torch.tensor([0, 3]))
