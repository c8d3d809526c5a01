"""What every dynamic sampler shares: its set-up, eval-mode forwards, stratified draws, passes.

Dynamic samplers choose examples inside training (docs/methods.md, "Dynamic methods"). They talk to
the one training loop through the sampler protocol of `prunebench.train.samplers`, so the loop
never branches on the method.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...train.samplers import Batch
from ..static.quotas import class_quotas


@dataclass
class SamplerSetup:
    """Everything a sampler is built from; `options` is an instance of the sampler's `Options`
    dataclass (its defaults overridden by the config's block for the method)."""

    labels: Tensor  # int64 [N] training labels, on the data's device
    num_classes: int
    fraction: float
    batch_size: int
    eval_batch_size: int
    epochs: int
    generator: torch.Generator  # CPU generator for every random draw of the sampler
    options: object

    @property
    def n_train(self) -> int:
        return len(self.labels)

    @property
    def n_budget(self) -> int:
        """Examples per epoch the budget allows: round(f * N), at least 1."""
        return min(self.n_train, max(1, round(self.fraction * self.n_train)))


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (batch-norm running statistics, no dropout), each module's flag restored."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


def autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def eval_logits(model: torch.nn.Module, data, indices: Tensor, batch_size: int) -> Tensor:
    """float32 logits of the un-augmented training examples `indices`, in eval mode."""
    device = data.train_y.device
    parts = []
    with eval_mode(model):
        for x, _ in data.eval_batches("train", batch_size, indices.to(device)):
            with autocast(device):
                parts.append(model(x).float())
    return torch.cat(parts) if parts else torch.zeros(0, device=device)


def error_vectors(logits: Tensor, labels: Tensor) -> Tensor:
    """The last-layer gradient proxy: softmax(f(x)) - onehot(y), one row per example."""
    return torch.softmax(logits, dim=1) - F.one_hot(labels, logits.shape[1]).to(logits.dtype)


def stratified_draw(pool: Tensor, labels: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """`size` distinct indices from `pool` (CPU int64), per-class quotas proportional to the
    pool's class sizes (largest remainder); the whole pool when it is smaller than `size`."""
    if size >= len(pool):
        return pool[torch.randperm(len(pool), generator=generator)]
    pool_labels = labels[pool].numpy()
    quotas = class_quotas(pool_labels, size)
    picked = []
    for label, quota in quotas.items():
        members = pool[torch.from_numpy(np.flatnonzero(pool_labels == label))]
        picked.append(members[torch.randperm(len(members), generator=generator)[:quota]])
    return torch.cat(picked)


def uniform_draw(n: int, size: int, generator: torch.Generator) -> Tensor:
    return torch.randperm(n, generator=generator)[:size]


def normalise_weights(weights: Tensor) -> Tensor:
    """Scale weights to mean 1 (a weighted-mean loss then has the plain mean's scale)."""
    return (weights * (len(weights) / weights.sum())).float()


class Stopwatch:
    """Seconds of one selection, with the device synchronised at both ends."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self) -> Stopwatch:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


class WeightedPasses:
    """Shuffled passes over (indices, weights): each pass is one permutation; the last batch of
    a pass may be smaller; a new pass starts when one runs out."""

    def __init__(self, batch_size: int, generator: torch.Generator):
        self.batch_size = batch_size
        self.generator = generator
        self.indices: Tensor | None = None
        self.weights: Tensor | None = None
        self._order: Tensor | None = None
        self._cursor = 0

    def reset(self, indices: Tensor, weights: Tensor | None) -> None:
        self.indices, self.weights = indices, weights
        self._order, self._cursor = None, 0

    def batches_per_pass(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def next(self) -> Batch:
        if self._order is None or self._cursor >= len(self._order):
            self._order = torch.randperm(len(self.indices), generator=self.generator)
            self._cursor = 0
        take = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += len(take)
        device = self.indices.device
        weights = None if self.weights is None else self.weights[take.to(self.weights.device)]
        return Batch(self.indices[take.to(device)], weights)

    def state_dict(self) -> dict:
        return {"indices": self.indices, "weights": self.weights, "order": self._order,
                "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        self.indices, self.weights = state["indices"], state["weights"]
        self._order, self._cursor = state["order"], state["cursor"]
