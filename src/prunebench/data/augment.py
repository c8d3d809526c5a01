"""Batched augmentation as tensor ops: random crop with zero padding, random horizontal flip.

Works on images (N, C, H, W) and on 1-D signals (N, C, L), uint8 or float, on any device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _random_shifts(n: int, padding: int, generator: torch.Generator, device) -> Tensor:
    draws = torch.randint(0, 2 * padding + 1, (n,), generator=generator,
                          device=generator.device)
    return draws.to(device)


def random_crop(x: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Each example shifted by up to `padding` along every spatial axis, zeros filling in."""
    if padding == 0:
        return x
    n, channels, spatial = x.shape[0], x.shape[1], x.shape[2:]
    padded = F.pad(x, [padding] * (2 * len(spatial))).flatten(2)
    if len(spatial) == 1:
        (length,) = spatial
        start = _random_shifts(n, padding, generator, x.device)
        source = start[:, None] + torch.arange(length, device=x.device)
    else:
        height, width = spatial
        top = _random_shifts(n, padding, generator, x.device)
        left = _random_shifts(n, padding, generator, x.device)
        rows = top[:, None] + torch.arange(height, device=x.device)
        cols = left[:, None] + torch.arange(width, device=x.device)
        # each output pixel's position in the flattened padded image: one gather, no 4-D
        # advanced indexing (several times faster on the CPU, identical values)
        source = (rows[:, :, None] * (width + 2 * padding) + cols[:, None, :]).flatten(1)
    index = source[:, None, :].expand(n, channels, source.shape[1])
    return padded.gather(2, index).view(x.shape)


def random_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror the last axis of a random half of the batch."""
    flip = torch.rand(x.shape[0], generator=generator, device=generator.device) < 0.5
    flip = flip.to(x.device).view(-1, *([1] * (x.dim() - 1)))
    return torch.where(flip, x.flip(-1), x)


def augment_batch(x: Tensor, *, generator: torch.Generator, crop_padding: int = 0,
                  flip: bool = False) -> Tensor:
    if crop_padding:
        x = random_crop(x, crop_padding, generator)
    if flip:
        x = random_flip(x, generator)
    return x
