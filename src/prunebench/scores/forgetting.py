"""Forgetting events (Toneva et al. 2019), counted online during the proxy training run."""

from __future__ import annotations

import numpy as np
import torch

from .protocol import ProxyEpoch, Scorer

_KEYS = ("prev_correct", "ever_correct", "n_forgotten")


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


class ForgettingTracker:
    """Counts, per example, transitions from correct to incorrect between presentations.

    A forgetting event is "classified correctly at one presentation, incorrectly at the next
    presentation of the same example" -- consecutive presentations, not consecutive batches,
    so examples absent from a batch keep their last state.
    """

    def __init__(self, n_examples: int):
        """Track ``n_examples`` examples, indexed 0..n_examples-1 in dataset order."""
        self.n_examples = int(n_examples)
        # False before the first presentation, so a first incorrect one is not an event.
        self.prev_correct = np.zeros(self.n_examples, dtype=bool)
        self.ever_correct = np.zeros(self.n_examples, dtype=bool)
        self.n_forgotten = np.zeros(self.n_examples, dtype=np.int64)

    def update(self, indices, correct) -> None:
        """Record one mini-batch: dataset ``indices`` and whether each was classified correctly.

        Accepts torch tensors or numpy arrays. Indices within one call must be distinct,
        since the vectorised update cannot order two presentations inside one batch.
        """
        idx = _as_numpy(indices).astype(np.int64, copy=False).reshape(-1)
        ok = _as_numpy(correct).astype(bool, copy=False).reshape(-1)
        if idx.shape != ok.shape:
            raise ValueError(f"indices {idx.shape} and correct {ok.shape} differ in length")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_examples):
            raise ValueError(f"indices must lie in [0, {self.n_examples})")
        if np.unique(idx).size != idx.size:
            raise ValueError("indices within one update must be distinct")
        self.n_forgotten[idx] += self.prev_correct[idx] & ~ok
        self.prev_correct[idx] = ok
        self.ever_correct[idx] |= ok

    def scores(self) -> np.ndarray:
        """Forgetting events per example (float32); +inf for examples never classified correctly.

        Never-learned examples rank as the most forgettable, following Toneva et al.
        """
        out = self.n_forgotten.astype(np.float32)
        out[~self.ever_correct] = np.inf
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the counters, so a checkpoint is not mutated by later updates."""
        return {k: getattr(self, k).copy() for k in _KEYS}

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        """Restore counters saved by ``state_dict`` (shapes must match ``n_examples``)."""
        for k in _KEYS:
            arr = _as_numpy(d[k])
            if arr.shape != (self.n_examples,):
                raise ValueError(f"{k} has shape {arr.shape}, expected ({self.n_examples},)")
            setattr(self, k, arr.astype(getattr(self, k).dtype, copy=True))


class ForgettingScorer(Scorer):
    """Forgetting events over every training presentation of the proxy run."""

    def __init__(self, n_train: int, score_epoch: int, **kw):
        super().__init__(n_train, score_epoch, **kw)  # `at: run`: no epoch, every batch
        self.tracker = ForgettingTracker(n_train)

    def on_batch(self, indices, logits, targets) -> None:
        self.tracker.update(indices.cpu(), (logits.argmax(1) == targets).cpu())

    def on_epoch(self, epoch: ProxyEpoch) -> None:
        pass

    def result(self) -> np.ndarray:
        return self.tracker.scores()

    def state_dict(self) -> dict:
        return self.tracker.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.tracker.load_state_dict(state)
