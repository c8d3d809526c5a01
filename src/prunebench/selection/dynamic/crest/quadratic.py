"""CREST's quadratic (second-order Taylor) model of the loss around the selection point.

Fitted right after a selection over the union of the mini-batch coresets, in shuffled batches of
B with the coreset weights (a batch's loss = mean of w_i l_i), as the reference code's
`_get_quadratic_approximation` does (docs/methods.md, CREST 4). Per batch b: g_b = its gradient,
z ~ Rademacher, u_b = z * (H z) (one Hessian-vector product per probe, averaged over probes).
- `adahessian` (the reference: utils/gradients.py, class Adahessian, `step(momentum=True)`):
  moment state per parameter, kept across selections, t counting every batch ever fitted:
  m <- 0.9 m + 0.1 g_b; v <- 0.999 v + 0.001 u_b^2; g_hat_b = m / (1 - 0.9^t);
  h_hat_b = sqrt(v) / sqrt(1 - 0.999^t) + 1e-4 (always positive).
- `hutchinson` (an ablation): g_hat_b = g_b, h_hat_b = u_b (signed), no state.
g0 and h0 = the means of g_hat_b and h_hat_b weighted by batch size; the curvature norm = the
plain mean over batches of ||h_hat_b||. L0 comes from the caller (the eval-mode loss on the random
subsets, where the check measures). At a check, with delta = theta - theta0:
approx = L0 + g0 . delta + 0.5 * delta . (h0 * delta).
These are CREST's only double-backward passes; a training step does one backward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ....models.base import module_mode, uncompiled
from ....train.loop import autocast

BETAS = (0.9, 0.999)  # the reference's Adahessian defaults
EPS = 1e-4


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def flat_parameters(model: torch.nn.Module) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in trainable(model)])


class AdaHessianMoments:
    """AdaHessian's exponential moving averages of the gradient and of (z * Hz)^2, flat over
    the trainable parameters (the reference keeps them per parameter: the same numbers)."""

    def __init__(self, betas: tuple[float, float] = BETAS, eps: float = EPS):
        self.betas, self.eps = betas, eps
        self.grad_avg: Tensor | None = None
        self.hess_sq_avg: Tensor | None = None
        self.t = 0  # batches fitted so far, over every selection

    def update(self, grad: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """One batch: update the averages, return the bias-corrected (g_hat, h_hat)."""
        b1, b2 = self.betas
        if self.grad_avg is None:
            self.grad_avg, self.hess_sq_avg = torch.zeros_like(grad), torch.zeros_like(u)
        self.t += 1
        self.grad_avg.mul_(b1).add_(grad, alpha=1 - b1)
        self.hess_sq_avg.mul_(b2).addcmul_(u, u, value=1 - b2)
        g_hat = self.grad_avg / (1 - b1 ** self.t)
        h_hat = self.hess_sq_avg.sqrt() / math.sqrt(1 - b2 ** self.t) + self.eps
        return g_hat, h_hat

    def state_dict(self) -> dict:
        return {"grad_avg": self.grad_avg, "hess_sq_avg": self.hess_sq_avg, "t": self.t}

    def load_state_dict(self, state: dict) -> None:
        self.grad_avg, self.hess_sq_avg, self.t = (state["grad_avg"], state["hess_sq_avg"],
                                                   state["t"])


@dataclass
class QuadraticModel:
    loss0: float
    grad0: Tensor  # flat, same layout as flat_parameters
    hess0: Tensor  # flat diagonal
    theta0: Tensor
    curvature_norm: float

    def predict(self, theta: Tensor) -> float:
        delta = theta - self.theta0
        return float(self.loss0 + self.grad0 @ delta + 0.5 * (delta * self.hess0 * delta).sum())

    def state_dict(self) -> dict:
        return {"loss0": self.loss0, "grad0": self.grad0, "hess0": self.hess0,
                "theta0": self.theta0, "curvature_norm": self.curvature_norm}

    @classmethod
    def from_state(cls, state: dict) -> QuadraticModel:
        return cls(state["loss0"], state["grad0"], state["hess0"], state["theta0"],
                   state["curvature_norm"])


def rademacher(n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """n random signs, drawn on the CPU generator so runs are reproducible on any device."""
    return (torch.randint(0, 2, (n,), generator=generator) * 2 - 1).float().to(device)


@contextmanager
def kept_buffers(model: torch.nn.Module) -> Iterator[None]:
    """Restore every buffer (batch-norm running statistics) on exit: a train-mode fit measures
    the loss surface, it must not move the statistics the eval-mode check then uses."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)


def batch_gradient_and_curvature(model: torch.nn.Module, x: Tensor, y: Tensor, w: Tensor, *,
                                 probes: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(g_b, u_b): the gradient of mean(w * loss) and mean over probes of z * (H z), flat."""
    params = trainable(model)
    with autocast(x.device), uncompiled(model):  # double backward: never a compiled graph
        logits = model(x)
    loss = (F.cross_entropy(logits.float(), y, reduction="none") * w).mean()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])
    u = torch.zeros_like(flat)
    for k in range(probes):
        z = rademacher(len(flat), generator, flat.device)
        hvp = torch.autograd.grad(flat, params, grad_outputs=z, retain_graph=k < probes - 1)
        u += z * torch.cat([h.reshape(-1) for h in hvp])
    return flat.detach(), u / probes


def fit_quadratic(model: torch.nn.Module, batches: Iterable[tuple[Tensor, Tensor, Tensor]], *,
                  loss0: float, moments: AdaHessianMoments | None, probes: int,
                  generator: torch.Generator, train: bool) -> QuadraticModel:
    """The quadratic model from (x, y, w) batches: AdaHessian moments when `moments` is given
    (updated in place), else the signed Hutchinson estimate. `train`: batch-norm batch
    statistics (the reference) or eval mode; buffers are restored either way."""
    grad_sum = hess_sum = None
    norms, examples = [], 0
    with kept_buffers(model), module_mode(model, training=train):
        for x, y, w in batches:
            g, u = batch_gradient_and_curvature(model, x, y, w, probes=probes,
                                                generator=generator)
            g_hat, h_hat = moments.update(g, u) if moments is not None else (g, u)
            if grad_sum is None:
                grad_sum, hess_sum = torch.zeros_like(g_hat), torch.zeros_like(h_hat)
            grad_sum += len(y) * g_hat
            hess_sum += len(y) * h_hat
            norms.append(h_hat.norm())
            examples += len(y)
    return QuadraticModel(loss0=loss0, grad0=grad_sum / examples, hess0=hess_sum / examples,
                          theta0=flat_parameters(model),
                          curvature_norm=float(torch.stack(norms).mean()))
