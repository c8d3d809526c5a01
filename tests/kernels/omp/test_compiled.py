"""The compiled per-class OMP (GradMatch on a CPU) against the torch solver on float64 factors."""

from __future__ import annotations

import pytest
import torch

from prunebench.selection.kernels.omp.compiled import last_layer_omp
from prunebench.selection.kernels.omp.reference import LastLayerGradients, nonnegative_omp

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def factors(seed: int, n: int, classes: int, dim: int, repeat: int = 0):
    """Error vectors and ReLU features of one class's examples; `repeat` copies of the first
    rows make exactly dependent atoms."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, classes, generator=gen, dtype=torch.float64)
    label = torch.zeros(n, classes, dtype=torch.float64)
    label[:, 0] = 1.0
    errors = torch.softmax(logits, 1) - label
    features = torch.relu(torch.randn(n, dim, generator=gen, dtype=torch.float64))
    if repeat:
        errors[-repeat:], features[-repeat:] = errors[:repeat], features[:repeat]
    return errors, features


@pytest.mark.parametrize(("seed", "n", "classes", "dim", "budget", "lam", "tol", "repeat"), [
    (0, 300, 10, 16, 30, 0.5, 1e-100, 0),
    (1, 200, 4, 8, 120, 0.5, 1e-100, 0),    # a large budget: negative weights get dropped
    (2, 150, 6, 5, 20, 0.0, 1e-100, 0),     # lam 0 (20 atoms span less than the 30-d target)
    (3, 250, 10, 12, 80, 0.5, 0.3, 0),      # stops early at the tolerance
    (4, 40, 1, 6, 40, 0.5, 1e-100, 0),      # one head row (class_row_only's atoms)
])
def test_same_support_picks_and_weights_as_the_torch_solver(seed, n, classes, dim, budget,
                                                            lam, tol, repeat):
    errors, features = factors(seed, n, classes, dim, repeat)
    expected = nonnegative_omp(LastLayerGradients(errors, features), budget, lam, tol)
    got = last_layer_omp(errors, features, budget, lam, tol)
    assert got.indices.tolist() == expected.indices.tolist()
    assert got.picks == expected.picks
    torch.testing.assert_close(got.weights, expected.weights, rtol=1e-9, atol=0)
    assert got.residual_norm == pytest.approx(expected.residual_norm, rel=1e-6, abs=1e-9)
    assert bool((got.weights > 0).all())


def test_the_cases_above_reach_drops_and_the_tolerance():
    """The parameters above exercise what they say (else the comparison proves less)."""
    dropped = last_layer_omp(*factors(1, 200, 4, 8), 120, 0.5, 1e-100)
    assert dropped.picks > len(dropped.indices)  # some atoms were dropped
    early = last_layer_omp(*factors(3, 250, 10, 12), 80, 0.5, 0.3)
    assert len(early.indices) < 80


def test_a_dependent_atom_is_skipped_at_lam_0():
    """Atoms [e, e h]: g0 = g1 = (1, 0), g2 = (1, 1), target (3, 1). OMP takes g2, then g0,
    and the residual is then 0: the copy g1 never gets a positive weight."""
    errors = torch.ones(3, 1, dtype=torch.float64)
    features = torch.tensor([[0.0], [0.0], [1.0]], dtype=torch.float64)
    expected = nonnegative_omp(LastLayerGradients(errors, features), 3, 0.0, 1e-12)
    got = last_layer_omp(errors, features, 3, 0.0, 1e-12)
    assert got.indices.tolist() == expected.indices.tolist() == [2, 0]
    torch.testing.assert_close(got.weights, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert got.residual_norm < 1e-9
