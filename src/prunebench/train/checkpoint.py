"""Checkpoints: a killed training or proxy job resumes where it stopped, bit for bit on CPU.

Every `every` epochs the loop saves, atomically, everything the rest of the run depends on:
model, optimizer (momentum buffers), sampler state, loop callbacks (proxy score recorders),
phase timers, the history so far and every random generator. A restarted job with the same
settings loads it and continues with the next epoch; a checkpoint written under other
settings (its fingerprint differs) is ignored. The job deletes its checkpoint once its result
files exist, so checkpoints never outlive a finished run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..atomic import write_atomically
from ..errors import UserError

FORMAT = 1


def fingerprint(*parts) -> str:
    """A digest of the settings a checkpoint belongs to (any JSON-able values)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Checkpoint:
    def __init__(self, path: str | Path, every: int, generators: list[torch.Generator],
                 key: str, log=print):
        self.path = Path(path)
        self.every = every
        self.generators = generators
        self.key = key
        self.log = log

    def due(self, epoch: int, last_epoch: int) -> bool:
        return self.every > 0 and epoch % self.every == 0 and epoch < last_epoch

    def save(self, epoch: int, parts: dict) -> None:
        state = {"format": FORMAT, "key": self.key, "epoch": epoch, **parts,
                 "generators": [g.get_state() for g in self.generators],
                 "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        try:
            write_atomically(self.path, lambda tmp: torch.save(state, tmp))
        except UserError as exc:
            raise UserError(f"{exc}; or set checkpoint_every: 0 in the config") from exc

    def load(self) -> dict | None:
        """The saved state, generators restored; None when there is nothing usable."""
        if self.every <= 0 or not self.path.exists():
            return None
        try:
            state = torch.load(self.path, weights_only=False)  # our own file; holds dataclasses
        except Exception as exc:  # a damaged checkpoint costs a restart, never a wrong result
            self.log(f"ignoring unreadable checkpoint {self.path} ({exc}); starting over")
            self.remove()
            return None
        if not isinstance(state, dict) or state.get("format") != FORMAT \
                or state.get("key") != self.key:
            self.log(f"ignoring checkpoint {self.path}: written under other settings")
            self.remove()
            return None
        for generator, saved in zip(self.generators, state["generators"], strict=True):
            generator.set_state(saved)
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.log(f"resuming from {self.path} after epoch {state['epoch']}")
        return state

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
