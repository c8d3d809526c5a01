"""glister_greedy (no per-pick sync, factored validation step) picks as stochastic_greedy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prunebench.selection.kernels.glister import glister_greedy
from prunebench.selection.kernels.glister.common import (
    draw_positions,
    factored_validation_gradient,
)
from prunebench.selection.kernels.glister.reference import stochastic_greedy, validation_gradient
from prunebench.selection.kernels.glister.tensor import tensor_loop

# Compares two computation paths exactly: CI re-runs it with MKL on other code paths.
pytestmark = pytest.mark.kernel_paths

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def problem(seed: int, n: int, n_val: int, classes: int, scale: float = 3.0):
    gen = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n + n_val, classes, generator=gen)
    labels = torch.randint(classes, (n + n_val,), generator=gen)
    errors = torch.softmax(logits, 1) - torch.nn.functional.one_hot(labels, classes).float()
    return errors[:n], logits[n:], labels[n:]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("seed", "n", "k", "eta"), [
    (0, 500, 50, 0.1), (1, 300, 30, 1.0), (2, 200, 150, 0.05),  # k near n: samples shrink
    (3, 40, 40, 0.5), (4, 1000, 100, 0.0), (5, 250, 1, 0.1)])
def test_same_picks_as_the_stochastic_greedy(device, seed, n, k, eta):
    grads, val_logits, val_labels = problem(seed, n, n // 5 + 3, classes=10)
    expected = stochastic_greedy(grads, val_logits, val_labels, k, eta, 0.01,
                                 np.random.default_rng(seed))
    got = glister_greedy(grads.to(device), val_logits.to(device), val_labels.to(device), k, eta,
                         0.01, np.random.default_rng(seed))
    assert got.device.type == "cpu" and got.dtype == torch.long
    assert got.tolist() == expected.tolist()
    assert len(set(got.tolist())) == min(k, n)


def test_hand_case_where_the_virtual_step_changes_the_second_pick():
    grads = torch.tensor([[-0.9, 0.6, 0.3], [0.54, 0.45, -0.99], [-0.76, 0.05, 0.71],
                          [0.38, 0.51, -0.9]], dtype=torch.float64)
    val_logits = torch.tensor([[-1.1, 0.4, -0.7], [0.0, -1.3, 1.9], [-1.0, -0.3, 0.5],
                               [-0.6, -0.2, -0.6], [-0.1, -1.2, -0.4]], dtype=torch.float64)
    val_labels = torch.tensor([0, 2, 2, 0, 2])
    for eta in (1.0, 0.0):  # with eta 0 the second pick is the stale ranking's
        expected = stochastic_greedy(grads, val_logits, val_labels, 2, eta, 0.01,
                                     np.random.default_rng(0))
        got = glister_greedy(grads, val_logits, val_labels, 2, eta, 0.01,
                             np.random.default_rng(0))
        assert got.tolist() == expected.tolist()


def test_factored_validation_gradient_equals_the_softmax_one_for_large_shifts():
    _, val_logits, val_labels = problem(7, 1, 200, classes=10, scale=20.0)
    z = val_logits.double()
    onehot = torch.nn.functional.one_hot(val_labels, 10).double()
    total = 40.0 * torch.randn(10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = validation_gradient(z, onehot, 2.0 * total)
    exp_logits = torch.exp(z - z.max(1, keepdim=True).values)
    got = factored_validation_gradient(exp_logits, onehot.mean(0), len(z), total, 2.0)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_k_zero_gives_no_picks():
    grads, val_logits, val_labels = problem(0, 10, 5, classes=3)
    assert glister_greedy(grads, val_logits, val_labels, 0, 0.1, 0.01,
                          np.random.default_rng(0)).tolist() == []


@pytest.mark.parametrize(("seed", "n", "k", "eta"), [(0, 500, 50, 0.1), (2, 200, 150, 0.05)])
def test_the_tensor_loop_a_gpu_runs_picks_as_the_compiled_one_on_a_cpu(seed, n, k, eta):
    """On a CPU glister_greedy runs compiled; the tensor loop (a GPU's path) is run here on
    the CPU too, from the same drawn samples, and must pick the same."""
    grads, val_logits, val_labels = problem(seed, n, n // 5 + 3, classes=10)
    sample = min(n, int(np.ceil(n / k * np.log(100))))
    positions, valid = draw_positions(n, k, sample, np.random.default_rng(seed), grads.device)
    z = val_logits.double()
    exp_logits = torch.exp(z - z.max(1, keepdim=True).values)
    onehot_mean = torch.nn.functional.one_hot(val_labels, 10).double().mean(0)
    looped = tensor_loop(grads, exp_logits, onehot_mean, k, eta, positions, valid)
    compiled = glister_greedy(grads, val_logits, val_labels, k, eta, 0.01,
                              np.random.default_rng(seed))
    assert looped.tolist() == compiled.tolist()
