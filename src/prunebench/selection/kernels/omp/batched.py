"""Many non-negative OMPs at once: `reference.nonnegative_omp`'s rule on G stacked problems.

GradMatch solves one OMP per class per selection; looped, every step of every class is a chain
of small kernels and several host synchronisations (argmax, the pivot test, the sign test).
Here the G problems (atoms padded to a common n, padding never available) advance together:
one step is one chain of batched kernels for all of them (correlations, argmax, Gram columns,
triangular solve, Cholesky solve) and two host reads (which problems are still running, which
need a drop). The package's `__init__` decides per device whether the matrix-vector
products run one per problem (`_matvec`). The rule is the single solver's (`reference`): the
most correlated available atom, picked once; ridge normal equations on the support through
an incrementally extended Cholesky factor; an atom with a zero pivot skipped; the most
negative weight dropped and the system re-solved until all weights are positive; stop at the
budget, at ||r|| < tol ||b||, or when no available atom correlates positively.

Layout that keeps the batch rectangular: each problem's factor lives in a (cap x cap) matrix
whose first k rows and columns hold the support's factor and whose rest is the identity, with
zeros in the right-hand side there; triangular and Cholesky solves over the whole matrix then
return the support's solution followed by exact zeros. Drops (a negative weight) are rare and
handled for the problems that need them one at a time, as the single solver does.

Arithmetic differs from the looped solver only in summation order (batched products, padded
zeros), so weights agree to float rounding and picks are the same unless two correlations tie
to rounding (tests compare with `nonnegative_omp` and with scipy's NNLS).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .common import OmpResult


class StackedAtoms(Protocol):
    """G atom sets padded to n atoms each (padding atoms are zero vectors)."""

    def products(self) -> Tensor:
        """(G, n): each atom's inner product with its problem's target."""

    def target_sq_norms(self) -> Tensor:
        """(G,): ||b_g||^2."""

    def columns(self, idx: Tensor) -> Tensor:
        """(G, n): problem g's Gram column of its atom idx[g]."""

    def residual_sq_norm(self, g: int, idx: Tensor, x: Tensor) -> float:
        """Problem g's ||b_g - A_g[idx]^T x||^2 from its residual vector, in float64."""


class StackedLastLayer:
    """Last-layer gradients [e, vec(e h^T)] of G groups, factored (see `dynamic.last_layer`):
    errors (G, n, C) and features (G, n, D), zero rows as padding; targets are the row sums.
    Batched products (a GPU's path: a CPU runs each class's OMP compiled, `compiled`)."""

    def __init__(self, errors: Tensor, features: Tensor):
        self.errors, self.features = errors, features
        self.error_sums = errors.sum(1)  # (G, C)
        self.moments = errors.transpose(1, 2) @ features  # (G, C, D) = E^T H

    def products(self) -> Tensor:
        e, h = self.errors, self.features
        return (e @ self.error_sums.unsqueeze(2))[..., 0] + ((e @ self.moments) * h).sum(2)

    def target_sq_norms(self) -> Tensor:
        return (self.error_sums.double().pow(2).sum(1)
                + self.moments.double().pow(2).flatten(1).sum(1))

    def columns(self, idx: Tensor) -> Tensor:
        e, h = self.errors, self.features
        g = torch.arange(len(idx), device=idx.device)
        return (e @ e[g, idx].unsqueeze(2))[..., 0] * (1.0 + (h @ h[g, idx].unsqueeze(2))[..., 0])

    def residual_sq_norm(self, g: int, idx: Tensor, x: Tensor) -> float:
        e, h, x = self.errors[g].double(), self.features[g].double(), x.double()
        bias = e.sum(0) - e[idx].T @ x
        weights = e.T @ h - (e[idx] * x[:, None]).T @ h[idx]
        return float(bias.pow(2).sum() + weights.pow(2).sum())


class StackedDense:
    """Explicit atoms (G, n, d), targets (G, d) (default: the row sums); with `sizes` (the
    package's choice on a CPU) computed per group as `reference.DenseAtoms` computes them, so
    the inner products are bit for bit the looped solver's (OMP's argmax over rounded
    correlations otherwise flips at near-ties); without, batched."""

    def __init__(self, matrix: Tensor, target: Tensor | None = None,
                 sizes: list[int] | None = None):
        self.matrix = matrix
        self.sizes = sizes
        if target is None:
            target = matrix.sum(1)
            for g, n_g in enumerate(self.sizes or []):
                target[g] = matrix[g, :n_g].sum(0)
        self.target = target.to(matrix)

    def products(self) -> Tensor:
        if self.sizes is not None:
            return _per_group(self.sizes, self.matrix.shape[:2],
                              lambda g, n_g: self.matrix[g, :n_g] @ self.target[g])
        return (self.matrix @ self.target.unsqueeze(2))[..., 0]

    def target_sq_norms(self) -> Tensor:
        return self.target.double().pow(2).sum(1)

    def residual_sq_norm(self, g: int, idx: Tensor, x: Tensor) -> float:
        residual = self.target[g].double() - self.matrix[g][idx].double().T @ x.double()
        return float(residual.pow(2).sum())

    def columns(self, idx: Tensor) -> Tensor:
        m = self.matrix
        if self.sizes is not None:
            return _per_group(self.sizes, m.shape[:2],
                              lambda g, n_g: (m[g, :n_g] @ m[g][idx[g:g + 1]].T)[:, 0])
        g = torch.arange(len(idx), device=idx.device)
        return (m @ m[g, idx].unsqueeze(2))[..., 0]


def _per_group(sizes: list[int], shape: torch.Size, fn) -> Tensor:
    """(G, n) zeros with row g's first sizes[g] entries fn(g, sizes[g])."""
    parts = [fn(g, n_g) for g, n_g in enumerate(sizes)]
    out = parts[0].new_zeros(tuple(shape))
    for g, part in enumerate(parts):
        out[g, :len(part)] = part
    return out


@torch.no_grad()
def batched_nonnegative_omp(atoms: StackedAtoms, sizes: list[int], budgets: list[int],
                            lam: float, tol: float, *, per_problem_products: bool
                            ) -> list[OmpResult]:
    """`nonnegative_omp` on each of G stacked problems: problem g has `sizes[g]` real atoms
    (the first ones of its padded row) and budget `budgets[g]`. One OmpResult per problem.
    `per_problem_products`: the matrix-vector products one problem at a time (see `_matvec`)."""
    c = atoms.products().double()
    count, n = c.shape
    device = c.device
    if count == 0:
        return []
    size_t = torch.tensor(sizes, device=device)
    budget_t = torch.tensor(budgets, device=device)
    cap = max(1, max(min(b, s) for b, s in zip(budgets, sizes, strict=True)))
    b_sq = atoms.target_sq_norms().double().to(device)
    limit = max(tol, 0.0) ** 2 * b_sq
    available = torch.arange(n, device=device).unsqueeze(0) < size_t.unsqueeze(1)
    support = torch.zeros(count, cap, dtype=torch.long, device=device)
    gram_rows = c.new_zeros(count, cap, n)
    chol = torch.eye(cap, dtype=c.dtype, device=device).repeat(count, 1, 1)
    x = c.new_zeros(count, cap)
    k = torch.zeros(count, dtype=torch.long, device=device)
    picks = torch.zeros(count, dtype=torch.long, device=device)
    r_sq = b_sq.clone()
    slots = torch.arange(cap, device=device).unsqueeze(0)
    groups = torch.arange(count, device=device)
    running = budget_t > 0
    for step in range(n + 1):
        # k <= step for every problem, so only the first m slots are ever in use (the rest of
        # each factor is the identity and of x zeros): the products run over m, not cap.
        m = min(cap, step + 1)
        running &= (k < budget_t) & (r_sq > limit) & available.any(1)
        projections = c - _matvec(gram_rows[:, :m].transpose(1, 2), x[:, :m],
                                  per_problem_products)
        projections.masked_fill_(~available, -torch.inf)
        best, j = projections.max(dim=1)
        running &= best > 0  # no atom can lower the residual with a positive weight
        if not bool(running.any()):
            break
        available[groups[running], j[running]] = False
        picks += running
        column = atoms.columns(j).double()
        used = slots[:, :m] < k.unsqueeze(1)
        cross = torch.gather(column, 1, support[:, :m]).masked_fill_(~used, 0.0)
        row = torch.linalg.solve_triangular(chol[:, :m, :m], cross.unsqueeze(2),
                                            upper=False)[..., 0]
        diagonal = torch.gather(column, 1, j.unsqueeze(1))[:, 0] + lam
        pivot = diagonal - (row * row).sum(1)
        extend = running & (pivot > 1e-12 * diagonal.abs().clamp_min(1e-300))
        grow = groups[extend]
        at = k[extend]
        chol[grow, at, :m] = row[extend]
        chol[grow, at, at] = pivot[extend].clamp_min(0.0).sqrt()
        gram_rows[grow, at] = column[extend]
        support[grow, at] = j[extend]
        k += extend
        x_new = _solve(chol[:, :m, :m], c, support[:, :m], slots[:, :m] < k.unsqueeze(1))
        x[:, :m] = torch.where(extend.unsqueeze(1), x_new, x[:, :m])
        negative = extend & (x.masked_fill(slots >= k.unsqueeze(1), torch.inf).min(1).values <= 0)
        for g in torch.nonzero(negative).flatten().tolist():
            _drop_until_positive(g, c, k, support, gram_rows, chol, x, lam)
        used = slots < k.unsqueeze(1)
        rhs = torch.gather(c, 1, support).masked_fill_(~used, 0.0)
        fresh = (b_sq - (x * rhs).sum(1) - lam * (x * x).sum(1)).clamp_min(0.0)
        r_sq = torch.where(extend, fresh, r_sq)
    # the stop rule read the cheap, cancelling r_sq; the reported norm is the residual vector's
    k_list, picks_list = k.tolist(), picks.tolist()
    return [OmpResult(indices=support[g, :k_list[g]].clone(), weights=x[g, :k_list[g]].clone(),
                      residual_norm=atoms.residual_sq_norm(g, support[g, :k_list[g]],
                                                           x[g, :k_list[g]]) ** 0.5,
                      picks=picks_list[g])
            for g in range(count)]


def _matvec(matrices: Tensor, vectors: Tensor, per_problem: bool) -> Tensor:
    """(G, n, d) @ (G, d) -> (G, n): one bmm, or (`per_problem`, a CPU's choice: a bmm with a
    single column ran 4-10x slower there, no batched gemv) one product per problem."""
    if not per_problem:
        return (matrices @ vectors.unsqueeze(2))[..., 0]
    out = matrices.new_empty(matrices.shape[:2])
    for g in range(len(matrices)):
        torch.mv(matrices[g], vectors[g], out=out[g])
    return out


def _solve(chol: Tensor, c: Tensor, support: Tensor, used: Tensor) -> Tensor:
    """x on every problem's support (exact zeros on the unused slots)."""
    rhs = torch.gather(c, 1, support).masked_fill_(~used, 0.0)
    return torch.cholesky_solve(rhs.unsqueeze(2), chol)[..., 0]


def _drop_until_positive(g: int, c: Tensor, k: Tensor, support: Tensor, gram_rows: Tensor,
                         chol: Tensor, x: Tensor, lam: float) -> None:
    """Problem g: drop the most negative weight and re-solve until every weight is positive
    (the single solver's inner loop), leaving its factor in the padded layout."""
    size = int(k[g])
    weights = x[g, :size]
    while size and float(weights.min()) <= 0:
        keep = torch.arange(size, device=c.device) != int(torch.argmin(weights))
        gram_rows[g, :size - 1] = gram_rows[g, :size][keep].clone()
        support[g, :size - 1] = support[g, :size][keep].clone()
        size -= 1
        kept = support[g, :size]
        eye = torch.eye(size, dtype=c.dtype, device=c.device)
        factor = torch.linalg.cholesky(gram_rows[g, :size][:, kept] + lam * eye)
        weights = torch.cholesky_solve(c[g, kept].unsqueeze(1), factor)[:, 0]
        chol[g].zero_()
        chol[g].diagonal().fill_(1.0)
        chol[g, :size, :size] = factor
    k[g] = size
    x[g].zero_()
    x[g, :size] = weights
