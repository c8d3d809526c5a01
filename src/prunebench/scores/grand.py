"""GraNd scores (Paul et al. 2021): the norm of each example's loss gradient."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from ..errors import UserError
from .el2n import error_norm, to_float32
from .protocol import ProxyEpoch, Scorer, eval_mode, model_device_dtype


def grand_scores(
    model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], chunk_size: int = 256
) -> np.ndarray:
    """Per-example ``|| grad_theta CE(f(x), y) ||_2`` over every parameter with requires_grad.

    Runs in eval mode (BatchNorm uses running statistics, so examples do not interact)
    and computes per-example gradients with ``torch.func.vmap(grad(...))`` over chunks of
    at most ``chunk_size`` examples; ``chunk_size`` bounds memory, which grows as
    ``chunk_size * n_params``. Returns a float32 array of length N in dataset order.
    """
    if chunk_size < 1:
        raise UserError(f"grand chunk_size must be a positive integer, got {chunk_size}")
    device, dtype = model_device_dtype(model)
    # Only trainable parameters are differentiated; frozen ones and buffers (BatchNorm
    # running stats) are passed as constants so functional_call sees the whole state.
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise UserError("grand needs a model with at least one parameter that requires grad")
    consts = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    consts.update({n: b.detach() for n, b in model.named_buffers()})

    def loss_fn(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        # vmap strips the batch dimension, so rebuild a batch of one for the model.
        logits = functional_call(model, (p, consts), (x.unsqueeze(0),))
        return F.cross_entropy(logits, y.unsqueeze(0))

    per_example_grads = vmap(grad(loss_fn), in_dims=(None, 0, 0))
    parts: list[Tensor] = []
    with eval_mode(model):
        for x, y in batches:
            x = x.to(device=device, dtype=dtype)
            y = y.to(device)
            for start in range(0, len(x), chunk_size):
                xs, ys = x[start : start + chunk_size], y[start : start + chunk_size]
                grads = per_example_grads(params, xs, ys)
                # Sum squared norms tensor by tensor instead of concatenating all
                # gradients, which would double peak memory.
                sq = sum(g.reshape(len(xs), -1).pow(2).sum(dim=1) for g in grads.values())
                parts.append(sq.sqrt().detach().cpu())
    return to_float32(parts)


def grand_last_scores(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]]) -> np.ndarray:
    """GraNd restricted to the final linear layer, in closed form (no autograd).

    For ``z = W h + b`` and cross-entropy, ``dL/dW = e h^T`` and ``dL/db = e`` with
    ``e = softmax(z) - onehot(y)``, so the norm is ``||e|| * sqrt(||h||^2 + 1)``.
    ``model`` must be a ``ClassifierNet`` (``forward_features`` and a ``head`` Linear
    with bias). Runs in eval mode under no_grad; returns float32 of length N.
    """
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Linear) or head.bias is None:
        raise UserError("grand_last needs a ClassifierNet whose head is an nn.Linear with bias")
    device, dtype = model_device_dtype(model)
    parts: list[Tensor] = []
    with eval_mode(model), torch.no_grad():
        for x, y in batches:
            h = model.forward_features(x.to(device=device, dtype=dtype))
            e = error_norm(head(h), y.to(device))
            parts.append((e * torch.sqrt(h.pow(2).sum(dim=1) + 1.0)).cpu())
    return to_float32(parts)


class GraNdScorer(Scorer):
    """Full-parameter GraNd when its entry says (`grand` at epoch k, `grand_init` at
    initialisation): its own vmap pass, in grand_chunk chunks."""

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        self.array = grand_scores(epoch.model, epoch.batches(), chunk_size=self.grand_chunk)


class GraNdLastScorer(Scorer):
    """Closed-form last-layer GraNd at epoch k, from the epoch's shared eval pass."""

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        logits, h = epoch.outputs()
        if h is None:
            raise UserError("grand_last needs a ClassifierNet (forward_features and a head)")
        e = error_norm(logits, epoch.labels)
        self.array = (e * torch.sqrt(h.pow(2).sum(dim=1) + 1.0)).numpy().astype(np.float32)
