"""Non-negative OMP with a ridge term, in Gram form: the rule GradMatch's solvers follow, written
plainly for one problem in torch. Only tests and benchmarks call it (the oracle the compiled
and batched solvers are compared with).

Problem: atoms a_1..a_n (rows of A, each of dimension d) and a target b; find a sparse x >= 0
with A^T x close to b. Each round adds the atom most correlated with the residual
r = b - A_S^T x, then solves the ridge normal equations (A_S A_S^T + lam I) x = A_S b on the
support S, dropping the most negative atom and re-solving until every weight is positive
(docs/methods.md, `gradmatch`). It stops at `budget` atoms, when ||r|| < tol ||b||, or when no
atom left has a positive correlation with the residual (adding one could not lower the ridge
objective with a non-negative weight).

Differences from CORDS's `OrthogonalMP_REG_Parallel_V1` (cords/selectionstrategies/helpers/
omp_solvers.py), on purpose:
- an atom is picked at most once. With lam > 0 a support atom keeps the correlation lam * x_j
  with the residual, so CORDS can pick it again; it then appends a duplicate row to its
  system without adding the index, and the weights land on the wrong examples. Here atoms in
  the support, and atoms dropped for a negative weight, are never candidates again;
- the first atom is solved with the ridge term too (CORDS: x = <a, b> / ||a||^2, no lam);
- an atom numerically dependent on the support (a zero pivot, possible only when lam = 0) is
  skipped instead of making the system singular.

Everything runs on inner products: `Atoms` gives A b, ||b||^2 and columns of the Gram matrix
A A^T, so the d-dimensional vectors never need to exist (GradMatch's last-layer gradients have
a factored Gram, see `selection.dynamic.last_layer`). The small k x k system is kept as an
incrementally extended Cholesky factor in float64, in preallocated buffers; the k x n block
of the support's Gram rows is the largest thing held. Works on whatever device the atoms live on.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from ....logit_gradients import error_vectors
from .common import OmpResult


class Atoms(Protocol):
    """What the solver needs to know about the atoms A (n x d) and the target b (d)."""

    def __len__(self) -> int: ...

    def products(self) -> Tensor:
        """A b: each atom's inner product with the target, shape (n,)."""

    def target_sq_norm(self) -> float:
        """||b||^2."""

    def columns(self, idx: Tensor) -> Tensor:
        """Gram columns A A[idx]^T, shape (n, len(idx))."""

    def residual_sq_norm(self, idx: Tensor, x: Tensor) -> float:
        """||b - A[idx]^T x||^2 from the residual vector itself, in float64."""


class DenseAtoms:
    """Atoms given as an explicit matrix A (n x d); the target defaults to the sum of the rows.
    Products and Gram columns are computed `chunk` rows at a time."""

    def __init__(self, matrix: Tensor, target: Tensor | None = None, chunk: int = 4096):
        self.matrix = matrix
        self.target = matrix.sum(0) if target is None else target.to(matrix)
        self.chunk = chunk

    def __len__(self) -> int:
        return len(self.matrix)

    def _times(self, right: Tensor) -> Tensor:
        parts = [self.matrix[s:s + self.chunk] @ right
                 for s in range(0, len(self.matrix), self.chunk)]
        return torch.cat(parts) if parts else right.new_zeros((0,) + right.shape[1:])

    def products(self) -> Tensor:
        return self._times(self.target)

    def target_sq_norm(self) -> float:
        return float(self.target.double().pow(2).sum())

    def columns(self, idx: Tensor) -> Tensor:
        return self._times(self.matrix[idx].T)

    def residual_sq_norm(self, idx: Tensor, x: Tensor) -> float:
        residual = self.target.double() - self.matrix[idx].double().T @ x.double()
        return float(residual.pow(2).sum())


class LastLayerGradients:
    """Rows g_i = [e_i, vec(e_i h_i^T)] given by their factors E (n x C) and H (n x D); the
    target is their sum (see `dynamic.last_layer`). Speaks `Atoms`."""

    def __init__(self, errors: Tensor, features: Tensor):
        self.errors, self.features = errors, features

    @classmethod
    def from_logits(cls, logits: Tensor, labels: Tensor, features: Tensor) -> LastLayerGradients:
        return cls(error_vectors(logits, labels), features)

    def __len__(self) -> int:
        return len(self.errors)

    def restrict_to_class_row(self, label: int) -> LastLayerGradients:
        """Only the head's row of class `label` (CORDS's 'PerClassPerGradient'): [e_c, e_c h]."""
        return LastLayerGradients(self.errors[:, label:label + 1], self.features)

    def _target_factors(self) -> tuple[Tensor, Tensor]:
        # b = sum_i g_i = [E^T 1, E^T H]
        return self.errors.sum(0), self.errors.T @ self.features

    def products(self) -> Tensor:
        """<g_i, b> = e_i . s + e_i^T M h_i with s = E^T 1, M = E^T H."""
        s, m = self._target_factors()
        return self.errors @ s + ((self.errors @ m) * self.features).sum(1)

    def target_sq_norm(self) -> float:
        s, m = self._target_factors()
        return float(s.double().pow(2).sum() + m.double().pow(2).sum())

    def columns(self, idx: Tensor) -> Tensor:
        """<g_i, g_j> = (e_i . e_j)(1 + h_i . h_j) for every i and each j in idx."""
        return ((self.errors @ self.errors[idx].T)
                * (1.0 + self.features @ self.features[idx].T))

    def residual_sq_norm(self, idx: Tensor, x: Tensor) -> float:
        """[s - E_S^T x, E^T H - E_S^T diag(x) H_S] (s = E^T 1), formed in float64."""
        e, h, x = self.errors.double(), self.features.double(), x.double()
        bias = e.sum(0) - e[idx].T @ x
        weights = e.T @ h - (e[idx] * x[:, None]).T @ h[idx]
        return float(bias.pow(2).sum() + weights.pow(2).sum())

    def dense(self) -> Tensor:
        """The explicit n x C(D + 1) rows (tests and small problems only)."""
        outer = self.errors[:, :, None] * self.features[:, None, :]
        return torch.cat([self.errors, outer.flatten(1)], 1)


def nonnegative_omp(atoms: Atoms, budget: int, lam: float = 0.5, tol: float = 1e-4) -> OmpResult:
    """Pick at most `budget` atoms with positive weights whose combination approximates the
    target (see the module docstring for the exact rule and how it differs from CORDS)."""
    c = atoms.products().double()
    n, device = len(c), c.device
    b_sq = float(atoms.target_sq_norm())
    cap = max(min(budget, n), 0)
    available = torch.ones(n, dtype=torch.bool, device=device)
    support = torch.zeros(cap, dtype=torch.long, device=device)  # first k entries used
    gram_rows = c.new_zeros((cap, n))  # gram_rows[i] = G[support[i], :]
    chol = c.new_zeros((cap, cap))  # Cholesky factor of G_SS + lam I in its top-left k x k
    x = c.new_zeros(0)
    k, r_sq, picks = 0, b_sq, 0
    limit = max(tol, 0.0) ** 2 * b_sq
    while k < budget and r_sq > limit and bool(available.any()):
        projections = (c - x @ gram_rows[:k]).masked_fill(~available, float("-inf"))
        j = int(torch.argmax(projections))
        if not float(projections[j]) > 0:
            break  # no atom can lower the residual with a positive weight
        available[j] = False
        picks += 1
        column = atoms.columns(torch.tensor([j], device=device)).double()[:, 0]
        if not _extend_cholesky(chol, k, column[support[:k]], float(column[j]) + lam):
            continue  # numerically dependent on the support (lam = 0): skip it
        gram_rows[k], support[k] = column, j
        k += 1
        x = _solve(chol[:k, :k], c[support[:k]])
        while k and float(x.min()) <= 0:
            # drop the most negative atom (never a candidate again) and re-solve
            keep = torch.arange(k, device=device) != int(torch.argmin(x))
            gram_rows[:k - 1] = gram_rows[:k][keep].clone()
            support[:k - 1] = support[:k][keep].clone()
            k -= 1
            kept = support[:k]
            eye = torch.eye(k, dtype=c.dtype, device=device)
            chol[:k, :k] = torch.linalg.cholesky(gram_rows[:k][:, kept] + lam * eye)
            x = _solve(chol[:k, :k], c[kept])
        r_sq = max(b_sq - float(x @ c[support[:k]]) - lam * float(x @ x), 0.0)
    # the stop rule reads r_sq (cheap, but it cancels near an exact fit); the reported norm
    # is the residual vector's
    return OmpResult(indices=support[:k].clone(), weights=x,
                     residual_norm=atoms.residual_sq_norm(support[:k], x) ** 0.5, picks=picks)


def _extend_cholesky(chol: Tensor, k: int, cross: Tensor, diagonal: float) -> bool:
    """Grow the factor in chol[:k, :k] of K to that of [[K, cross], [cross^T, diagonal]], in
    place; False (nothing written) when the new pivot is not safely positive."""
    if k:
        row = torch.linalg.solve_triangular(chol[:k, :k], cross[:, None], upper=False)[:, 0]
    else:
        row = cross
    pivot = diagonal - float(row @ row)
    if not pivot > 1e-12 * max(abs(diagonal), 1e-300):
        return False
    chol[k, :k] = row
    chol[:k, k] = 0.0  # stale entries from before a drop; the factor is lower-triangular
    chol[k, k] = pivot ** 0.5
    return True


def _solve(chol: Tensor, rhs: Tensor) -> Tensor:
    return torch.cholesky_solve(rhs[:, None], chol)[:, 0]
