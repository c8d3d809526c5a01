"""Batched non-negative OMP: every stacked problem gets what nonnegative_omp gives it alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunebench.selection.dynamic.last_layer import batch_mean_gradients
from prunebench.selection.kernels.omp import gradmatch_select_batches, gradmatch_select_per_class
from prunebench.selection.kernels.omp.batched import StackedDense, batched_nonnegative_omp
from prunebench.selection.kernels.omp.gradmatch import fill_at_random, stacked_omps
from prunebench.selection.kernels.omp.reference import (
    DenseAtoms,
    LastLayerGradients,
    nonnegative_omp,
)

from .test_reference import ridge_nnls

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def stacked(problems: list[tuple[np.ndarray, np.ndarray]]) -> StackedDense:
    width, d = max(len(a) for a, _ in problems), problems[0][0].shape[1]
    matrix = torch.zeros(len(problems), width, d, dtype=torch.float64)
    for g, (atoms, _) in enumerate(problems):
        matrix[g, :len(atoms)] = torch.from_numpy(atoms)
    target = torch.stack([torch.from_numpy(t) for _, t in problems])
    return StackedDense(matrix, target)


@pytest.mark.parametrize("lam", [0.0, 0.5, 2.0])
def test_each_problem_equals_the_single_solver_and_nnls(lam):
    rng = np.random.default_rng(int(lam * 10) + 1)
    problems, budgets = [], []
    d = 12
    for trial in range(24):  # unequal sizes and budgets; half with mixed signs (drops)
        n = int(rng.integers(3, 40))
        problems.append((rng.random((n, d)) - (0.4 if trial % 2 else 0.0), rng.random(d) * 3))
        budgets.append(int(rng.integers(1, n + 3)))
    results = batched_nonnegative_omp(stacked(problems), [len(a) for a, _ in problems], budgets,
                                      lam=lam, tol=1e-9, per_problem_products=True)
    dropped = False
    for (atoms, target), budget, got in zip(problems, budgets, results, strict=True):
        alone = nonnegative_omp(DenseAtoms(torch.from_numpy(atoms), torch.from_numpy(target)),
                                budget, lam=lam, tol=1e-9)
        assert got.indices.tolist() == alone.indices.tolist()
        if alone.residual_norm > 1e-6 * np.linalg.norm(target):
            # (once the residual is round-off, lam = 0's count of skipped dependent atoms
            # follows the rounding of near-zero correlations)
            assert got.picks == alone.picks
        torch.testing.assert_close(got.weights, alone.weights, rtol=1e-7, atol=1e-9)
        idx = got.indices.numpy()
        np.testing.assert_allclose(got.weights.numpy(), ridge_nnls(atoms[idx], target, lam),
                                   atol=1e-5)
        assert got.residual_norm == pytest.approx(alone.residual_norm, rel=1e-6,
                                                  abs=1e-6 * np.linalg.norm(target))
        dropped |= got.picks > len(idx)
    assert dropped, "no problem exercised the drop-a-negative-atom path"


def test_tolerance_stop_and_dependent_atoms_per_problem():
    rng = np.random.default_rng(3)
    atoms = rng.normal(size=(30, 60))
    exact_target = 2.0 * atoms[4] + 0.5 * atoms[17]
    copies = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    padded_copies = np.zeros((3, 60))
    padded_copies[:, :2] = copies
    problems = [(atoms, exact_target), (padded_copies, padded_copies.sum(0))]
    first, second = batched_nonnegative_omp(stacked(problems), [30, 3], [10, 3], lam=0.0,
                                            tol=1e-6, per_problem_products=True)
    assert sorted(first.indices.tolist()) == [4, 17]
    assert first.residual_norm < 1e-6 * np.linalg.norm(exact_target)
    assert len(second.indices) == 2 and 2 in second.indices.tolist()  # the copy was skipped
    assert second.residual_norm < 1e-6


def per_class_reference(errors, features, labels, quotas, lam, tol, class_row_only, generator):
    """GradMatchSampler._select_per_class as the sampler loops it (one OMP per class)."""
    labels_np = labels.numpy()
    parts, weights, picked_total, filled_total = [], [], 0, 0
    for label, quota in quotas.items():
        if quota == 0:
            continue
        members = torch.from_numpy(np.flatnonzero(labels_np == label))
        atoms = LastLayerGradients(errors[members], features[members])
        if class_row_only:
            atoms = atoms.restrict_to_class_row(label)
        result = nonnegative_omp(atoms, quota, lam, tol)
        picked, w, filled = fill_at_random(result.indices, result.weights, len(members), quota,
                                           generator)
        picked_total += len(result.indices)
        filled_total += filled
        parts.append(members[picked])
        weights.append(w)
    return torch.cat(parts), torch.cat(weights).float(), picked_total, filled_total


def last_layer_problem(seed: int, n: int, classes: int, dim: int):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=gen)
    logits = 2.0 * torch.randn(n, classes, generator=gen)
    errors = torch.softmax(logits, 1) - torch.nn.functional.one_hot(labels, classes).float()
    features = torch.relu(torch.randn(n, dim, generator=gen))
    return errors, features, labels


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("class_row_only", "lam", "tol"),
                         [(False, 0.5, 1e-100), (True, 0.5, 1e-100), (False, 0.0, 1e-100),
                          (True, 0.5, 0.3)])  # tol 0.3: stops early, filled at random
def test_per_class_selection_equals_the_per_class_loop(device, class_row_only, lam, tol):
    errors, features, labels = last_layer_problem(0, 600, 6, 8)
    counts = torch.bincount(labels, minlength=6).tolist()
    quotas = {c: max(0, round(0.1 * counts[c]) - (c == 2) * 100) for c in range(6)}  # one 0
    # a CPU solves each class compiled in float64 (omp/compiled.py), a GPU batched in float32
    precision = torch.float64 if device == "cpu" else torch.float32
    expected = per_class_reference(errors.to(precision), features.to(precision), labels, quotas,
                                   lam, tol, class_row_only,
                                   torch.Generator().manual_seed(9))
    got = gradmatch_select_per_class(errors.to(device), features.to(device), labels, quotas,
                                     lam, tol, class_row_only, torch.Generator().manual_seed(9))
    assert got.indices.tolist() == expected[0].tolist()
    torch.testing.assert_close(got.weights, expected[1], rtol=1e-5, atol=1e-6)
    assert (got.omp_picked, got.random_filled) == expected[2:]
    if tol == 0.3:
        assert got.random_filled > 0


def test_per_batch_selection_equals_the_single_omp():
    errors, features, labels = last_layer_problem(1, 700, 5, 6)
    batches = list(torch.randperm(700, generator=torch.Generator().manual_seed(2)).split(64))
    rows = batch_mean_gradients(errors, features, batches)
    wanted = min(len(batches), math.ceil(140 / 64))
    result = nonnegative_omp(DenseAtoms(rows), wanted, 0.0, 1e-100)
    picked, w, filled = fill_at_random(result.indices, result.weights, len(batches), wanted,
                                       torch.Generator().manual_seed(4))
    got = gradmatch_select_batches(rows, batches, 140, 64, 0.0, 1e-100,
                                   torch.Generator().manual_seed(4))
    members = [batches[int(i)] for i in picked]
    assert got.indices.tolist() == torch.cat(members).tolist()
    sizes = torch.tensor([len(m) for m in members])
    torch.testing.assert_close(got.weights, torch.repeat_interleave(w, sizes).float())
    assert (got.omp_picked, got.random_filled) == (len(result.indices), filled)


@pytest.mark.parametrize(("class_row_only", "lam", "tol"), [(False, 0.5, 1e-100),
                                                            (True, 0.5, 0.3)])
def test_the_stacked_path_a_gpu_runs_equals_the_per_class_loop_on_a_cpu(class_row_only, lam,
                                                                          tol):
    """`stacked_omps` (every class in one batched solver, a GPU's path) run on the CPU in
    float64, where rounding cannot flip an argmax, against the per-class torch loop."""
    errors, features, labels = last_layer_problem(0, 600, 6, 8)
    errors, features = errors.double(), features.double()
    counts = torch.bincount(labels, minlength=6).tolist()
    classes = [(c, round(0.1 * counts[c])) for c in range(6)]
    members = [torch.nonzero(labels == c).flatten() for c, _ in classes]
    got = stacked_omps(errors, features, classes, members, lam, tol, class_row_only)
    for (label, quota), m, result in zip(classes, members, got, strict=True):
        atoms = LastLayerGradients(errors[m], features[m])
        if class_row_only:
            atoms = atoms.restrict_to_class_row(label)
        expected = nonnegative_omp(atoms, quota, lam, tol)
        assert result.indices.tolist() == expected.indices.tolist()
        assert result.picks == expected.picks
        torch.testing.assert_close(result.weights, expected.weights, rtol=1e-9, atol=0)
