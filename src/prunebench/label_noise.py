"""Label noise (Data Diet's "detect noisy examples"): flipping training labels once, at
preparation, and the share of flipped labels in what a run trained on. NumPy only, torch-free.

Per class c exactly round(rate * n_c) labels flip, chosen uniformly without replacement by a
generator seeded with the option's own `seed` (never the training seed); `symmetric` draws the
new label uniformly over the C - 1 other classes, `pairflip` maps c -> (c + 1) mod C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("symmetric", "pairflip")
OPTION = "label_noise"  # the dataset option's name
DEFAULTS = {"kind": "symmetric", "seed": 0}


@dataclass(frozen=True)
class NoisyLabels:
    labels: np.ndarray  # [N] labels after flipping (the clean labels' dtype)
    noisy: np.ndarray  # bool [N]: True where the label was flipped
    flips_per_class: list[int]  # by clean class


def flip_labels(clean: np.ndarray, num_classes: int, *, rate: float, kind: str = "symmetric",
                seed: int = 0) -> NoisyLabels:
    """Flip round(rate * n_c) labels of every class c (see the module's docstring)."""
    if not 0 <= rate < 1:
        raise ValueError(f"label_noise rate {rate!r} is outside [0, 1)")
    if kind not in KINDS:
        raise ValueError(f"label_noise kind {kind!r}; choose one of: {', '.join(KINDS)}")
    if num_classes < 2:
        raise ValueError("label noise needs at least 2 classes")
    clean = np.asarray(clean)
    rng = np.random.default_rng(seed)
    labels, noisy = clean.copy(), np.zeros(len(clean), dtype=bool)  # the source's dtype kept
    flips = []
    for c in range(num_classes):
        members = np.flatnonzero(clean == c)
        count = int(round(rate * len(members)))
        chosen = np.sort(rng.choice(members, size=count, replace=False))
        if kind == "pairflip":
            labels[chosen] = (c + 1) % num_classes
        else:
            # uniform over the other classes: draw from C - 1 values and skip c
            draw = rng.integers(0, num_classes - 1, size=count)
            labels[chosen] = draw + (draw >= c)
        noisy[chosen] = True
        flips.append(count)
    return NoisyLabels(labels, noisy, flips)


def noise_settings(options: dict) -> dict | None:
    """A dataset's `label_noise` option with its defaults filled, or None when it has none."""
    given = options.get(OPTION)
    return None if given is None else {**DEFAULTS, **given}


def noisy_share(noisy: np.ndarray, indices: np.ndarray | None = None,
                counts: np.ndarray | None = None) -> float:
    """The share of flipped labels among `indices` (a static subset, one selection; all
    examples when None), or weighted by `counts` (how often each example was trained on: a
    dynamic run); NaN when nothing was trained on."""
    noisy = np.asarray(noisy, dtype=bool)
    if counts is not None:
        counts = np.asarray(counts, dtype=np.float64)
        total = counts.sum()
        return float(counts[noisy].sum() / total) if total > 0 else float("nan")
    chosen = noisy if indices is None else noisy[np.asarray(indices, dtype=np.int64)]
    return float(chosen.mean()) if len(chosen) else float("nan")
