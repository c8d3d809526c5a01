"""What a scorer needs from a proxy run, as one small protocol the proxy loop speaks.

A scorer (one per name in `prunebench.methods.SCORES`) computes at the epochs its registry
entry's `at` gives (`epochs`, derived here, so when a score is taken is declared once: 0 is
initialisation, an `at: run` score watches the whole run), may add earlier epochs it
accumulates over (EL2N's sum), may watch training batches (`on_batch`, for forgetting),
computes at an epoch's end from a `ProxyEpoch` (`on_epoch`), and returns its array (`result`).
Its cost is charged by the recorder, not by the scorer: proxy training up to the last epoch it
needs (the whole run for run-long scores) plus the seconds of every pass it used, a pass shared
by several scorers being charged in full to each, as if it had been computed alone.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor, nn

from ..methods import SCORE_TIMES
from ..models.base import eval_mode


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of the model's first parameter (inputs are moved to match)."""
    p = next(model.parameters())
    return p.device, p.dtype


class ProxyEpoch:
    """The model at the end of one epoch, with one cached eval-mode pass over the un-augmented
    training set: logits and penultimate features of every example, in dataset order."""

    def __init__(self, epoch: int, model: torch.nn.Module, data, batch_size: int):
        self.epoch, self.model, self.data, self.batch_size = epoch, model, data, batch_size
        self._outputs: tuple[Tensor, Tensor | None] | None = None
        self.pass_seconds = 0.0

    def batches(self):
        """(x, y) batches of the un-augmented, normalised training set, in dataset order."""
        return self.data.eval_batches("train", self.batch_size)

    @torch.no_grad()
    def outputs(self) -> tuple[Tensor, Tensor | None]:
        """(logits float32 [N, C], features [N, d] or None) on the CPU, computed once."""
        if self._outputs is None:
            start = time.perf_counter()
            model = self.model
            device, dtype = model_device_dtype(model)
            split = hasattr(model, "forward_features") and hasattr(model, "head")
            logits, features = [], []
            with eval_mode(model):
                for x, _ in self.batches():
                    x = x.to(device=device, dtype=dtype)
                    if split:
                        h = model.forward_features(x)
                        features.append(h.float().cpu())
                        logits.append(model.head(h).float().cpu())
                    else:
                        logits.append(model(x).float().cpu())
            self._outputs = (torch.cat(logits), torch.cat(features) if features else None)
            self.pass_seconds = time.perf_counter() - start
        return self._outputs

    @property
    def labels(self) -> Tensor:
        return self.data.train_y.cpu()


def epoch_taken(at: str, score_epoch: int) -> int | None:
    """The proxy epoch a score registered with `at` is taken at (0: initialisation); None for
    `at: run`, a score accumulated over the whole run."""
    if at not in SCORE_TIMES:
        raise ValueError(f"score time {at!r}; choose one of: {', '.join(SCORE_TIMES)}")
    return {"init": 0, "score_epoch": score_epoch, "run": None}[at]


class Scorer:
    """Base scorer: computes at `epochs`, nothing during training. `at` is its SCORES entry's
    (passed by `scores.proxy.build_scorer`); subclasses fill `self.array` and may add epochs
    before the one it is taken at."""

    dtype = np.float32

    def __init__(self, n_train: int, score_epoch: int, *, at: str, grand_chunk: int = 64):
        self.n_train, self.score_epoch, self.grand_chunk = n_train, score_epoch, grand_chunk
        taken = epoch_taken(at, score_epoch)
        self.epochs: set[int] = set() if taken is None else {taken}
        self.run_long = taken is None  # True: needs every training batch of the proxy run
        self.array: np.ndarray | None = None

    def on_batch(self, indices: Tensor, logits: Tensor, targets: Tensor) -> None:
        pass

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        raise NotImplementedError

    def result(self) -> np.ndarray:
        if self.array is None:
            raise RuntimeError(f"{type(self).__name__} computed nothing (epochs {self.epochs})")
        return np.asarray(self.array, dtype=self.dtype)

    def state_dict(self) -> dict:
        return {"array": self.array}

    def load_state_dict(self, state: dict) -> None:
        self.array = state["array"]
