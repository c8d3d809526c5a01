"""CIFAR ResNet-8/20/32/56 of He et al. 2016 (section 4.2), with option-A identity shortcuts."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .base import ClassifierNet

STAGE_WIDTHS = (16, 32, 64)


class ZeroPadShortcut(nn.Module):
    """Option-A shortcut: subsample by the stride and zero-pad the new channels; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        # Index and pad from the end so the same code works on unbatched inputs under vmap.
        x = x[..., :: self.stride, :: self.stride]
        half = self.extra_channels // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with a residual connection, as in the paper's CIFAR nets."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = ZeroPadShortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # Out-of-place add and ReLU keep torch.func transforms (vmap, grad) happy.
        return self.relu(out + self.shortcut(x))


def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [BasicBlock(in_channels, out_channels, stride)]
    layers += [BasicBlock(out_channels, out_channels, 1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def cifar_resnet(depth: int, input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet of depth 6n+2: a 16-channel stem, three stages of n blocks, average pool, linear."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
    blocks = (depth - 2) // 6
    first, second, third = STAGE_WIDTHS
    body = nn.Sequential(
        nn.Conv2d(input_shape[0], first, 3, padding=1, bias=False),
        nn.BatchNorm2d(first),
        nn.ReLU(),
        _stage(first, first, blocks, stride=1),
        _stage(first, second, blocks, stride=2),
        _stage(second, third, blocks, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    for module in body.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return ClassifierNet(body, nn.Linear(third, num_classes))


def resnet8(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet-8 (n=1, about 0.08M parameters for 10 classes): the small proxy of ResNet-20."""
    return cifar_resnet(8, input_shape, num_classes)


def resnet20(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet-20 (n=3, about 0.27M parameters for 10 classes)."""
    return cifar_resnet(20, input_shape, num_classes)


def resnet32(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet-32 (n=5, about 0.46M parameters for 10 classes)."""
    return cifar_resnet(32, input_shape, num_classes)


def resnet56(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """ResNet-56 (n=9, about 0.85M parameters for 10 classes)."""
    return cifar_resnet(56, input_shape, num_classes)
