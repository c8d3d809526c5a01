"""Small CNNs that train in seconds on CPU: 8x8 digit images and MNIST-1D signals."""

from __future__ import annotations

from torch import nn

from .base import ClassifierNet


def _conv2d_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    # No conv bias: the BatchNorm shift that follows makes it redundant.
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


def _conv1d_bn_relu(in_channels: int, out_channels: int, kernel_size: int,
                    stride: int) -> list[nn.Module]:
    return [
        nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=kernel_size // 2, bias=False),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
    ]


def digits_cnn(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """Three 3x3 conv layers (32, 64, 64 channels), one 2x2 max-pool, global average pool."""
    in_channels = input_shape[0]
    body = nn.Sequential(
        *_conv2d_bn_relu(in_channels, 32),
        *_conv2d_bn_relu(32, 64),
        nn.MaxPool2d(2),
        *_conv2d_bn_relu(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return ClassifierNet(body, nn.Linear(64, num_classes))


def mnist1d_cnn(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """Three 1-D conv layers (32, 64, 64 channels; the last two stride 2), global average pool."""
    in_channels = input_shape[0]
    body = nn.Sequential(
        *_conv1d_bn_relu(in_channels, 32, kernel_size=5, stride=1),
        *_conv1d_bn_relu(32, 64, kernel_size=3, stride=2),
        *_conv1d_bn_relu(64, 64, kernel_size=3, stride=2),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
    )
    return ClassifierNet(body, nn.Linear(64, num_classes))
