"""greedy_facility_location against brute force: the exact greedy, (1 - 1/e) of the optimum,
weights that count each point at its nearest medoid, and the lazy path equal to the dense one."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from prunebench.selection.facility_location import (
    facility_location_objective,
    greedy_facility_location,
)


def distances(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def objective(dist: np.ndarray, chosen) -> float:
    d_max = dist.max()
    return float((d_max - dist[:, list(chosen)].min(axis=1)).sum())


def naive_greedy(dist: np.ndarray, k: int) -> list[int]:
    """The textbook greedy: a Python loop over candidates, ties to the lowest index."""
    chosen: list[int] = []
    for _ in range(min(k, len(dist))):
        best_gain, best = -math.inf, None
        for candidate in range(len(dist)):
            if candidate in chosen:
                continue
            gain = objective(dist, chosen + [candidate]) - (objective(dist, chosen) if chosen
                                                            else 0.0)
            if gain > best_gain + 1e-9:
                best_gain, best = gain, candidate
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("seed", range(12))
def test_matches_the_naive_greedy_and_the_guarantee(seed):
    rng = np.random.default_rng(seed)
    n, d, k = int(rng.integers(4, 11)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
    x = rng.normal(size=(n, d)).astype(np.float32)
    dist = distances(x.astype(np.float64))
    indices, weights = greedy_facility_location(torch.from_numpy(x), k)
    ours = objective(dist, indices.tolist())
    assert ours == pytest.approx(objective(dist, naive_greedy(dist, k)), rel=1e-5)
    optimum = max(objective(dist, s) for s in itertools.combinations(range(n), min(k, n)))
    assert ours >= (1 - 1 / math.e) * optimum - 1e-6
    assert len(set(indices.tolist())) == len(indices) == min(k, n)
    assert 0 <= indices.min() and indices.max() < n
    # weights: every point counted once, at its nearest medoid (first chosen on ties)
    assert float(weights.sum()) == n and weights.dtype == torch.float32
    nearest = dist[:, indices.numpy()].argmin(axis=1)
    np.testing.assert_array_equal(weights.numpy(), np.bincount(nearest, minlength=len(indices)))
    assert facility_location_objective(torch.from_numpy(x), indices) == pytest.approx(ours,
                                                                                      rel=1e-4)


def dense_greedy(x: np.ndarray, k: int) -> list[int]:
    """A vectorised exact greedy over the full distance matrix (ties to the lowest index)."""
    dist = distances(x.astype(np.float64))
    best = np.full(len(x), dist.max())
    chosen: list[int] = []
    for _ in range(k):
        gains = np.clip(best[None, :] - dist, 0, None).sum(axis=1)
        gains[chosen] = -1.0
        pick = int(np.argmax(gains))
        chosen.append(pick)
        best = np.minimum(best, dist[pick])
    return chosen


def test_the_lazy_and_chunked_paths_equal_the_dense_greedy():
    x = torch.randn(600, 8, generator=torch.Generator().manual_seed(0))
    expected = dense_greedy(x.numpy(), 40)
    for chunk_size in (7, 4096):  # lazy over row chunks / lazy over the whole matrix
        indices, weights = greedy_facility_location(x, 40, chunk_size=chunk_size)
        assert indices.tolist() == expected, chunk_size
        assert float(weights.sum()) == 600


def test_k_at_least_n_returns_every_point():
    x = torch.randn(5, 3)
    indices, weights = greedy_facility_location(x, 9)
    assert sorted(indices.tolist()) == list(range(5)) and weights.tolist() == [1.0] * 5


def test_duplicates_and_ties_are_deterministic():
    x = torch.tensor([[0.0], [0.0], [1.0], [1.0], [5.0]])
    first = greedy_facility_location(x, 2)
    second = greedy_facility_location(x.clone(), 2)
    assert first[0].tolist() == second[0].tolist()
    indices, weights = first
    assert indices.tolist()[0] in (0, 2)  # a lowest-index copy wins its tie
    assert float(weights.sum()) == 5


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="2-D"):
        greedy_facility_location(torch.zeros(4), 2)
    with pytest.raises(ValueError, match="positive"):
        greedy_facility_location(torch.zeros(4, 2), 0)
