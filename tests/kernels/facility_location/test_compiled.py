"""The compiled lazy greedy (CPU, stored matrix) against the torch lazy greedy it replaces there.

Both run Minoux's lazy greedy with the same tie rule on the same float32 matrix; the torch one
re-evaluates stale bounds in doubling batches, the compiled one one at a time from a heap. The
picks and cluster sizes must be the same, ties (duplicate points) included.
"""

from __future__ import annotations

import pytest
import torch

from prunebench.selection.kernels import facility_location as fl
from prunebench.selection.kernels.facility_location import common as fl_common
from prunebench.selection.kernels.facility_location import craig_select
from prunebench.selection.kernels.facility_location import lazy as fl_lazy
from prunebench.selection.kernels.facility_location.compiled import lazy_greedy_stored

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def points(seed: int, n: int, dim: int, duplicates: bool) -> torch.Tensor:
    """Clustered float64 points; `duplicates` repeats a quarter of them exactly (exact ties)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(8, dim, generator=gen, dtype=torch.float64)
    x = centres[torch.randint(8, (n,), generator=gen)]
    x = x + 0.3 * torch.randn(n, dim, generator=gen, dtype=torch.float64)
    if duplicates:
        x[: n // 4] = x[n // 2: n // 2 + n // 4]
        x = x.round(decimals=1)
    return x


@pytest.mark.parametrize(("seed", "n", "dim", "k", "duplicates", "similarity"), [
    (0, 700, 10, 70, False, "max_minus_distance"),
    (1, 600, 4, 120, True, "max_minus_distance"),   # many exact ties
    (2, 530, 10, 530, True, "max_minus_distance"),  # every point picked: gains reach 0
    (3, 900, 16, 90, False, "exp_euclidean"),
    (4, 40, 3, 40, True, "max_minus_distance"),    # tiny, k = n
])
def test_same_picks_and_sizes_as_the_torch_lazy_greedy(seed, n, dim, k, duplicates, similarity):
    distances = fl_common.Distances(points(seed, n, dim, duplicates), 4096, similarity)
    expected_picks, expected_sizes = fl_lazy.lazy_greedy(distances, k, 4096)
    picks, sizes = lazy_greedy_stored(distances.matrix, k)
    assert picks.tolist() == expected_picks.tolist()
    assert sizes.tolist() == expected_sizes.tolist()
    assert sizes.dtype == torch.float32 and sizes.sum().item() == n
    assert len(set(picks.tolist())) == min(k, n)


def test_greedy_facility_location_runs_it_above_the_eager_limit(monkeypatch):
    """greedy_facility_location on a CPU, n above 512 and a stored matrix: the compiled greedy
    (a spy proves the route), and craig_select's large classes take it too."""
    import prunebench.selection.kernels.facility_location.compiled as compiled

    calls = []
    real = compiled.lazy_greedy_stored

    def spy(matrix, k):
        calls.append(len(matrix))
        return real(matrix, k)

    monkeypatch.setattr(compiled, "lazy_greedy_stored", spy)
    x = points(5, 600, 8, duplicates=False)
    fl.greedy_facility_location(x, 10)
    fl.greedy_facility_location(x[:100], 10)  # eager: not compiled
    assert calls == [600]
    labels = torch.arange(1300) % 2  # classes of 650
    craig_select(torch.cat([x, points(6, 700, 8, duplicates=False)]).float(), labels,
                 {0: 5, 1: 5})
    assert calls == [600, 650, 650]
