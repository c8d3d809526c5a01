"""Non-negative OMP for GradMatch (per class) and GradMatchPB (over mini-batches).

The public calls, and the only place that chooses a path by device:
- on a CPU everything is float64: each class's OMP runs compiled with numba (``compiled``: a
  torch step there is ~30 small kernels and host reads, most of the selection's time), and
  GradMatchPB's one problem runs the batched torch solver with its products computed one
  problem at a time, as the reference solver computes them;
- elsewhere (float32 inner products) every class's OMP runs in one batched solver
  (``batched``: one chain of kernels per step for all classes), and GradMatchPB's one problem
  in the same solver.
- ``warm_up(device)`` loads the compiled code before any timed phase (a no-op off the CPU).
``reference.nonnegative_omp`` is the rule written plainly, for tests; ``gradmatch`` turns
answers into selections (random fill, class order).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .batched import StackedDense, batched_nonnegative_omp
from .common import OmpResult
from .gradmatch import (
    GradMatchSelection,
    class_members,
    filled_selection,
    select_batches,
    stacked_omps,
)

__all__ = ["GradMatchSelection", "OmpResult", "gradmatch_select_batches",
           "gradmatch_select_per_class", "warm_up"]


def gradmatch_select_per_class(errors: Tensor, features: Tensor, labels: Tensor,
                               quotas: dict[int, int], lam: float, tol: float,
                               class_row_only: bool, generator: torch.Generator
                               ) -> GradMatchSelection:
    """Per class with a positive quota (in `quotas`' order), non-negative OMP over the class's
    last-layer gradients (errors (N, C) and features (N, D) of every training example;
    `class_row_only`: only the class's row of the head), filled at random to the quota."""
    classes, members = class_members(labels, quotas)
    if errors.device.type == "cpu":
        from .compiled import last_layer_omp  # numba loads only in the jobs that use it

        results = [last_layer_omp(errors[m][:, label:label + 1] if class_row_only else errors[m],
                                  features[m], quota, lam, tol)
                   for (label, quota), m in zip(classes, members, strict=True)]
    else:
        results = stacked_omps(errors, features, classes, members, lam, tol, class_row_only)
    return filled_selection(classes, members, results, generator)


def gradmatch_select_batches(batch_rows: Tensor, batches: list[Tensor], n_budget: int,
                             batch_size: int, lam: float, tol: float,
                             generator: torch.Generator) -> GradMatchSelection:
    """GradMatchPB: OMP over the mini-batches' mean gradients `batch_rows` (one row per batch
    of `batches`, from `last_layer.batch_mean_gradients`) for ceil(n_budget / batch_size)
    batches, each batch's weight given to all its members, random batches filling."""
    on_cpu = batch_rows.device.type == "cpu"

    def solve(rows: Tensor, budget: int) -> OmpResult:
        if on_cpu:  # one precision per device: a CPU's OMPs are float64 (the compiled ones too)
            rows = rows.double()
        atoms = StackedDense(rows.unsqueeze(0), sizes=[len(rows)] if on_cpu else None)
        return batched_nonnegative_omp(atoms, [len(rows)], [budget], lam, tol,
                                       per_problem_products=on_cpu)[0]

    return select_batches(solve, batch_rows, batches, n_budget, batch_size, generator)


def warm_up(device: torch.device) -> None:
    """Load (or compile) the CPU's compiled OMP now, outside any timed phase."""
    if torch.device(device).type == "cpu":
        from .compiled import warm_up as load_compiled

        load_compiled()
