"""What the OMP solvers share: their result."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class OmpResult:
    indices: Tensor  # int64 atom positions kept, in the order they were picked
    weights: Tensor  # float64, all > 0, aligned with indices
    residual_norm: float  # ||b - A_S^T x||
    picks: int  # atoms ever added (dropped and skipped ones included)
