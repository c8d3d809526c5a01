"""GradMatch's per-class non-negative OMP on last-layer gradients, compiled (numba), CPU.

The rule is `reference.nonnegative_omp`'s, step for step: the most correlated available
atom (lowest index on a tie), picked once; the ridge normal equations on the support through
an incrementally extended Cholesky factor; an atom with a zero pivot skipped; the most
negative weight dropped and the system re-factored and re-solved until every weight is
positive; stop at the budget, at ||r|| < tol ||b||, or when no available atom correlates
positively with the residual.

The atoms are a class's last-layer gradients g_i = [e_i, vec(e_i h_i^T)], given by their
factors E (n x C) and H (n x D) (`dynamic.last_layer`): <g_i, g_j> = (e_i . e_j)(1 + h_i . h_j),
and the target is their sum. Everything is float64, so the only difference from the torch
solver run on the same float64 factors is the summation order (~1e-16 relative): picks are
the same unless two correlations tie to that precision, weights agree to float64 rounding.
In torch, a step on a CPU is ~30 small kernels and host reads whose overhead is most of
GradMatch's selection time (MNIST-1D: ~0.2 s against ~0.02 s of arithmetic); here it is a
loop. The first call in a process loads the machine code numba caches beside this file
(compiled on the first use on a machine); `warm_up()` does that outside any timed phase.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from torch import Tensor

from .common import OmpResult


def last_layer_omp(errors: Tensor, features: Tensor, budget: int, lam: float, tol: float
                   ) -> OmpResult:
    """`nonnegative_omp(LastLayerGradients(errors, features), budget, lam, tol)` in float64:
    errors (n, C) and features (n, D) on the CPU, any float dtype."""
    e = np.ascontiguousarray(errors.detach().cpu().numpy(), dtype=np.float64)
    h = np.ascontiguousarray(features.detach().cpu().numpy(), dtype=np.float64)
    support, weights, _, picks = _omp(e, h, int(budget), float(lam), float(tol))
    # the stop rule read the cheap, cancelling r_sq; the reported norm is the residual vector's
    return OmpResult(indices=torch.from_numpy(support), weights=torch.from_numpy(weights),
                     residual_norm=_residual_sq(e, h, support, weights) ** 0.5, picks=int(picks))


def warm_up() -> None:
    """Load (or compile) the machine code now, so the first selection does not pay for it."""
    last_layer_omp(torch.eye(2), torch.ones(2, 1), 1, 0.5, 1e-4)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@njit(cache=True, nogil=True, fastmath={"contract"})
def _subtract_scaled(out, scale, row):
    for i in range(out.shape[0]):
        out[i] -= scale * row[i]


@njit(cache=True, nogil=True)
def _column(e, h, j, out):
    """out_i = <g_i, g_j> = (e_i . e_j)(1 + h_i . h_j)."""
    for i in range(e.shape[0]):
        out[i] = _dot(e[i], e[j]) * (1.0 + _dot(h[i], h[j]))


@njit(cache=True, nogil=True)
def _forward(chol, k, rhs):
    """y with L y = rhs, L = chol[:k, :k] lower-triangular."""
    y = np.empty(k)
    for a in range(k):
        y[a] = (rhs[a] - _dot(chol[a, :a], y[:a])) / chol[a, a]
    return y


@njit(cache=True, nogil=True)
def _solve(chol, k, rhs):
    """x with (L L^T) x = rhs, L = chol[:k, :k] lower-triangular (forward, then back)."""
    y = _forward(chol, k, rhs)
    x = np.empty(k)
    for a in range(k - 1, -1, -1):
        total = y[a]
        for b in range(a + 1, k):
            total -= chol[b, a] * x[b]
        x[a] = total / chol[a, a]
    return x


@njit(cache=True, nogil=True)
def _residual_sq(e, h, support, x):
    """||b - sum_a x_a g_support[a]||^2 from the residual [s - E_S^T x, E^T H - E_S^T X H_S]."""
    bias = e.sum(axis=0)
    weights = np.ascontiguousarray(e.T) @ h
    for a in range(len(support)):
        i = support[a]
        for c in range(e.shape[1]):
            bias[c] -= x[a] * e[i, c]
            for d in range(h.shape[1]):
                weights[c, d] -= x[a] * e[i, c] * h[i, d]
    return float(np.sum(bias * bias) + np.sum(weights * weights))


@njit(cache=True, nogil=True)
def _omp(e, h, budget, lam, tol):
    n = e.shape[0]
    # c = A b with b = sum_i g_i: c_i = e_i . s + e_i^T M h_i, s = E^T 1, M = E^T H
    s = e.sum(axis=0)
    m = np.ascontiguousarray(e.T) @ h
    em = e @ m
    c = np.empty(n)
    for i in range(n):
        c[i] = _dot(e[i], s) + _dot(em[i], h[i])
    b_sq = _dot(s, s) + np.sum(m * m)
    cap = max(min(budget, n), 0)
    available = np.ones(n, dtype=np.bool_)
    left = n
    support = np.zeros(cap, dtype=np.int64)
    gram_rows = np.zeros((cap, n))  # gram_rows[a] = G[support[a], :]
    chol = np.zeros((cap, cap))
    x = np.zeros(0)
    column = np.empty(n)
    projections = np.empty(n)
    k, r_sq, picks = 0, b_sq, 0
    limit = max(tol, 0.0) ** 2 * b_sq
    while k < budget and r_sq > limit and left > 0:
        projections[:] = c
        for a in range(k):
            _subtract_scaled(projections, x[a], gram_rows[a])
        j, best = -1, -np.inf
        for i in range(n):
            if available[i] and projections[i] > best:
                j, best = i, projections[i]
        if not best > 0:
            break  # no atom can lower the residual with a positive weight
        available[j] = False
        left -= 1
        picks += 1
        _column(e, h, j, column)
        cross = np.empty(k)
        for a in range(k):
            cross[a] = column[support[a]]
        row = _forward(chol, k, cross)
        diagonal = column[j] + lam
        pivot = diagonal - _dot(row, row)
        if not pivot > 1e-12 * max(abs(diagonal), 1e-300):
            continue  # numerically dependent on the support (lam = 0): skip it
        chol[k, :k] = row
        chol[:k, k] = 0.0
        chol[k, k] = pivot ** 0.5
        gram_rows[k] = column
        support[k] = j
        k += 1
        x = _solve(chol, k, c[support[:k]])
        while k and x.min() <= 0:
            # drop the most negative atom (never a candidate again), re-factor, re-solve
            drop = np.argmin(x)
            for a in range(drop, k - 1):
                gram_rows[a] = gram_rows[a + 1]
                support[a] = support[a + 1]
            k -= 1
            kept = support[:k]
            system = np.empty((k, k))
            for a in range(k):
                for b in range(k):
                    system[a, b] = gram_rows[a, kept[b]]
                system[a, a] += lam
            chol[:k, :k] = np.linalg.cholesky(system) if k else system
            x = _solve(chol, k, c[kept])
        r_sq = max(b_sq - _dot(x, c[support[:k]]) - lam * _dot(x, x), 0.0)
    return support[:k].copy(), x, r_sq, picks
