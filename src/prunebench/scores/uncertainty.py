"""Uncertainty scores (DeepCore `uncertainty.py`) from predicted class probabilities.

Every score is oriented so that **higher = more uncertain**, so the `top` selector keeps the
most uncertain examples, with or without class balance:
- `uncertainty_entropy`: -sum_c p_c log p_c (0 log 0 = 0), in [0, log C].
- `uncertainty_margin`: 1 - (p1 - p2), p1 >= p2 the two largest probabilities, in [0, 1].
  DeepCore ranks p1 - p2 ascending; 1 - (p1 - p2) is the same order, reversed for `top`.
- `uncertainty_lc` (least confidence): 1 - max_c p_c, in [0, 1 - 1/C]. DeepCore ranks the
  largest *logit*, which is not a probability (a quirk, docs/methods.md); we use the probability.

The probabilities come from one eval-mode forward over un-augmented training inputs (as for
EL2N); the three summaries are computed batch by batch, so N x C is never held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

from .protocol import ProxyEpoch, Scorer, eval_mode, model_device_dtype


def _checked(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must be (N, C) with C >= 2, got shape {probs.shape}")
    return probs


def entropy(probs: np.ndarray) -> np.ndarray:
    """-sum_c p log p per row of an (N, C) probability array (0 log 0 = 0); float32."""
    probs = _checked(probs)
    logs = np.log(np.where(probs > 0, probs, 1.0))  # log 1 = 0 where p = 0
    return (-(probs * logs).sum(axis=1)).astype(np.float32)


def margin(probs: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2), p1 and p2 the two largest probabilities of each row; float32."""
    probs = _checked(probs)
    top2 = np.partition(probs, probs.shape[1] - 2, axis=1)[:, -2:]
    return (1.0 - (top2[:, 1] - top2[:, 0])).astype(np.float32)


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """1 - max_c p_c per row; float32."""
    return (1.0 - _checked(probs).max(axis=1)).astype(np.float32)


# Score name -> summary of the probabilities (the names the proxy files and methods use).
UNCERTAINTY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "uncertainty_entropy": entropy,
    "uncertainty_margin": margin,
    "uncertainty_lc": least_confidence,
}


def _check_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in UNCERTAINTY]
    if unknown:
        raise ValueError(f"unknown uncertainty score(s) {unknown}; choose from {list(UNCERTAINTY)}")
    return names


def uncertainty_from_logits(
    logits: Tensor, names: Iterable[str] = tuple(UNCERTAINTY)
) -> dict[str, np.ndarray]:
    """The scores `names` of one batch of logits (so a pass that already has the logits, such
    as EL2N's, can add them). Softmax is taken in float64, so the tiny probabilities entropy
    sums are not flushed to zero. Returns name -> float32 (batch,)."""
    probs = torch.softmax(logits.detach().double(), dim=1).cpu().numpy()
    return {n: UNCERTAINTY[n](probs) for n in _check_names(names)}


def uncertainty_scores(
    model: nn.Module,
    batches: Iterable[tuple[Tensor, Tensor]],
    names: Iterable[str] = tuple(UNCERTAINTY),
) -> dict[str, np.ndarray]:
    """The uncertainty scores `names` of every example, in batch order, from one forward pass.

    ``batches`` yields ``(x, y)`` (x normalised, un-augmented); labels are not used. Eval mode
    under no_grad; the model's previous train/eval flags are restored. Returns
    name -> float32 (N,).
    """
    names = _check_names(names)
    device, dtype = model_device_dtype(model)
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    with eval_mode(model), torch.no_grad():
        for x, _ in batches:
            scores = uncertainty_from_logits(model(x.to(device=device, dtype=dtype)), names)
            for n in names:
                parts[n].append(scores[n])
    return {n: np.concatenate(p) if p else np.zeros(0, dtype=np.float32)
            for n, p in parts.items()}


class _UncertaintyScorer(Scorer):
    """One uncertainty score at the score epoch k, from the epoch's shared eval pass."""

    name = ""

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        logits, _ = epoch.outputs()
        self.array = uncertainty_from_logits(logits, [self.name])[self.name]


class EntropyScorer(_UncertaintyScorer):
    name = "uncertainty_entropy"


class MarginScorer(_UncertaintyScorer):
    name = "uncertainty_margin"


class LeastConfidenceScorer(_UncertaintyScorer):
    name = "uncertainty_lc"
