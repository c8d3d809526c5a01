"""CREST's quadratic (second-order Taylor) model of the loss around the selection point.

At selection time: L0 = loss on the union of the random subsets, g0 = gradient of the weighted
coreset loss, h0 = a diagonal Hessian estimate by Hutchinson's method (mean over Rademacher
probes z of z * (H z), one Hessian-vector product each). These are the only double-backward
passes CREST makes; ordinary training steps do one backward each. At a check, with
delta = theta - theta0:  approx = L0 + g0 . delta + 0.5 * delta . (h0 * delta).
All losses here are computed in eval mode on un-augmented inputs, so the model compares like
with like (batch-norm running statistics are not parameters and are not in delta).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import autocast, eval_mode


def trainable(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def flat_parameters(model: torch.nn.Module) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in trainable(model)])


@dataclass
class QuadraticModel:
    loss0: float
    grad0: Tensor  # flat, same layout as flat_parameters
    hess0: Tensor  # flat diagonal estimate
    theta0: Tensor

    def predict(self, theta: Tensor) -> float:
        delta = theta - self.theta0
        return float(self.loss0 + self.grad0 @ delta + 0.5 * (delta * self.hess0 * delta).sum())

    def state_dict(self) -> dict:
        return {"loss0": self.loss0, "grad0": self.grad0, "hess0": self.hess0,
                "theta0": self.theta0}

    @classmethod
    def from_state(cls, state: dict) -> QuadraticModel:
        return cls(state["loss0"], state["grad0"], state["hess0"], state["theta0"])


def fit_quadratic(model: torch.nn.Module, data, indices: Tensor, weights: Tensor, *,
                  loss0: float, probes: int, chunk: int,
                  generator: torch.Generator) -> QuadraticModel:
    """g0 and Hutchinson's h0 of the weighted coreset loss sum_i w_i l_i / sum_i w_i.

    The coreset is processed in chunks of `chunk` examples; gradients and Hessian-vector
    products add up over chunks (the loss is a weighted sum), so memory stays bounded.
    """
    params = trainable(model)
    device = params[0].device
    n_params = sum(p.numel() for p in params)
    # Rademacher probes, drawn on the CPU generator so runs are reproducible on any device
    zs = [(torch.randint(0, 2, (n_params,), generator=generator) * 2 - 1).float().to(device)
          for _ in range(probes)]
    grad0 = torch.zeros(n_params, device=device)
    hz = [torch.zeros(n_params, device=device) for _ in range(probes)]
    total_weight = weights.sum()
    indices = indices.to(data.train_y.device)
    with eval_mode(model):
        for start in range(0, len(indices), chunk):
            part = indices[start:start + chunk]
            x, y = next(data.eval_batches("train", len(part), part))
            with autocast(device):
                logits = model(x)
            losses = F.cross_entropy(logits.float(), y, reduction="none")
            loss = (losses * weights[start:start + chunk].to(device)).sum() / total_weight
            grads = torch.autograd.grad(loss, params, create_graph=True)
            flat = torch.cat([g.reshape(-1) for g in grads])
            grad0 += flat.detach()
            for k, z in enumerate(zs):
                hvp = torch.autograd.grad(flat @ z, params, retain_graph=k < probes - 1)
                hz[k] += torch.cat([h.reshape(-1) for h in hvp])
    hess0 = torch.stack([z * h for z, h in zip(zs, hz, strict=True)]).mean(dim=0)
    return QuadraticModel(loss0=loss0, grad0=grad0, hess0=hess0, theta0=flat_parameters(model))
