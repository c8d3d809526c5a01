"""Non-negative OMP (GradMatch's solver): the weights are the NNLS fit on the chosen support."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import nnls

from prunebench.selection.kernels.omp.reference import DenseAtoms, nonnegative_omp

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths


def ridge_nnls(atoms: np.ndarray, target: np.ndarray, lam: float) -> np.ndarray:
    """argmin_{x >= 0} ||target - atoms^T x||^2 + lam ||x||^2 by scipy's NNLS on the system
    augmented with sqrt(lam) I (the ridge term as extra rows)."""
    k = len(atoms)
    system = np.vstack([atoms.T, np.sqrt(lam) * np.eye(k)])
    return nnls(system, np.concatenate([target, np.zeros(k)]))[0]


@pytest.mark.parametrize("lam", [0.0, 0.5, 2.0])
def test_weights_equal_nnls_on_the_support_and_no_index_is_picked_twice(lam):
    rng = np.random.default_rng(int(lam * 10))
    dropped_somewhere = False
    for trial in range(60):
        n, d = int(rng.integers(4, 50)), int(rng.integers(3, 30))
        # half the problems non-negative, half with mixed signs (so atoms get dropped)
        atoms = rng.random((n, d)) - (0.4 if trial % 2 else 0.0)
        target = rng.random(d) * 3
        budget = int(rng.integers(1, n + 1))
        result = nonnegative_omp(DenseAtoms(torch.from_numpy(atoms), torch.from_numpy(target)),
                                 budget, lam=lam, tol=1e-9)
        idx = result.indices.numpy()
        assert len(set(idx.tolist())) == len(idx) <= budget
        weights = result.weights.numpy()
        assert (weights > 0).all()
        np.testing.assert_allclose(weights, ridge_nnls(atoms[idx], target, lam), atol=1e-5)
        residual = np.linalg.norm(target - atoms[idx].T @ weights)
        assert result.residual_norm == pytest.approx(residual, abs=1e-6)
        dropped_somewhere |= result.picks > len(idx)
    assert dropped_somewhere, "no problem exercised the drop-a-negative-atom path"


def test_stops_at_the_budget_and_at_the_tolerance():
    rng = np.random.default_rng(3)
    atoms = rng.normal(size=(30, 60))  # nearly orthogonal, so OMP finds the true support
    target = 2.0 * atoms[4] + 0.5 * atoms[17]  # exactly two atoms, lam = 0
    problem = DenseAtoms(torch.from_numpy(atoms), torch.from_numpy(target))
    exact = nonnegative_omp(problem, budget=10, lam=0.0, tol=1e-6)
    assert sorted(exact.indices.tolist()) == [4, 17]
    np.testing.assert_allclose(exact.weights.numpy()[np.argsort(exact.indices.numpy())],
                               [2.0, 0.5], atol=1e-6)
    assert exact.residual_norm < 1e-6 * np.linalg.norm(target)
    assert len(nonnegative_omp(problem, budget=1, lam=0.0, tol=1e-6).indices) == 1
    never = nonnegative_omp(problem, budget=10, lam=0.0, tol=0.0)
    assert len(never.indices) >= 2  # without the tolerance it keeps adding positive atoms


def test_cords_duplicate_row_case_gets_the_right_weights():
    """a0 = e1, a1 = e2, a2 = 0.1 e1 + 0.05 e3, b = 10 e1 + e2, lam = 0.5. On the support
    {a0, a1} the ridge solution leaves a0 the largest correlation with the residual (lam * x_0),
    so an OMP that may re-pick would pick a0 again; CORDS then appends a0's row a second time
    without its index, and the weight of the extra row is lost (a0 gets 4.0 instead of 6.62)."""
    atoms = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.1, 0, 0.05]])
    target = np.array([10.0, 1.0, 0.0])
    lam = 0.5
    # the condition that triggers the re-pick, by hand
    support = atoms[[0, 1]]
    x = np.linalg.solve(support @ support.T + lam * np.eye(2), support @ target)
    correlations = atoms @ (target - support.T @ x)
    assert int(np.argmax(correlations)) == 0  # a support atom beats every other atom
    # the duplicate-row system's weights for the indices [a0, a1] (what CORDS returns)
    rows = atoms[[0, 1, 0]]
    duplicate = np.linalg.solve(rows @ rows.T + lam * np.eye(3), rows @ target)[:2]

    result = nonnegative_omp(DenseAtoms(torch.from_numpy(atoms), torch.from_numpy(target)),
                             budget=3, lam=lam, tol=1e-12)
    idx = result.indices.numpy()
    assert sorted(idx.tolist()) == [0, 1, 2]
    right = ridge_nnls(atoms[idx], target, lam)
    np.testing.assert_allclose(result.weights.numpy(), right, atol=1e-6)
    np.testing.assert_allclose(ridge_nnls(atoms, target, lam)[idx], right, atol=1e-6)
    assert abs(result.weights.numpy()[list(idx).index(0)] - duplicate[0]) > 2.0


def test_chunked_products_and_float32_atoms_give_the_same_answer():
    rng = np.random.default_rng(5)
    atoms = torch.from_numpy(rng.random((40, 9)))
    whole = nonnegative_omp(DenseAtoms(atoms), budget=8, lam=0.5)
    chunked = nonnegative_omp(DenseAtoms(atoms, chunk=7), budget=8, lam=0.5)
    single = nonnegative_omp(DenseAtoms(atoms.float(), chunk=7), budget=8, lam=0.5)
    assert whole.indices.tolist() == chunked.indices.tolist() == single.indices.tolist()
    torch.testing.assert_close(whole.weights, chunked.weights)
    torch.testing.assert_close(whole.weights, single.weights, atol=1e-4, rtol=1e-4)


def test_target_is_the_row_sum_by_default_and_degenerate_atoms_are_skipped():
    atoms = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    result = nonnegative_omp(DenseAtoms(atoms), budget=3, lam=0.0, tol=0.0)
    # b = (2, 1); the copy of the first atom is dependent at lam = 0: skipped, not a singularity
    assert len(result.indices) == 2 and 2 in result.indices.tolist()
    assert result.residual_norm < 1e-9


def test_reported_residual_is_the_residual_vectors_at_an_exact_fit():
    """Every solver reports ||b - A_S^T x|| from the residual vector: at an exact fit (lam 0,
    the target the sum of all atoms, each weight 1) it is ~0, where the stop rule's cheap
    ||b||^2 - x.c - lam ||x||^2 cancels to ~1e-8 ||b|| (issue 35)."""
    from prunebench.selection.kernels.omp.batched import StackedLastLayer, batched_nonnegative_omp
    from prunebench.selection.kernels.omp.compiled import last_layer_omp
    from prunebench.selection.kernels.omp.reference import LastLayerGradients

    gen = torch.Generator().manual_seed(3)
    errors = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    features = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    atoms = LastLayerGradients(errors, features)
    rows = atoms.dense()
    target = rows.sum(0)
    results = [nonnegative_omp(atoms, 6, lam=0.0, tol=0.0),
               nonnegative_omp(DenseAtoms(rows), 6, lam=0.0, tol=0.0),
               last_layer_omp(errors, features, 6, 0.0, 0.0),
               batched_nonnegative_omp(StackedLastLayer(errors[None], features[None]), [6], [6],
                                       0.0, 0.0, per_problem_products=True)[0]]
    for result in results:
        assert sorted(result.indices.tolist()) == list(range(6))
        explicit = torch.linalg.norm(target - rows[result.indices].T @ result.weights)
        assert abs(result.residual_norm - float(explicit)) <= 1e-12 * float(target.norm())
