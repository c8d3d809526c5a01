"""Small nets that train in seconds on CPU: 8x8 digit images and MNIST-1D signals (CNNs, and
MLPs a fraction of their size to score with, as proxies)."""

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


def _linear_bn_relu(in_features: int, out_features: int) -> list[nn.Module]:
    return [nn.Linear(in_features, out_features, bias=False), nn.BatchNorm1d(out_features),
            nn.ReLU()]


def _mlp(in_features: int, hidden: int, num_classes: int) -> ClassifierNet:
    body = nn.Sequential(nn.Flatten(), *_linear_bn_relu(in_features, hidden),
                         *_linear_bn_relu(hidden, hidden))
    return ClassifierNet(body, nn.Linear(hidden, num_classes))


def mnist1d_mlp(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """Two hidden layers of 64 units over the flattened signal: a proxy for mnist1d_cnn with
    2.6x fewer parameters (7.6k) and no convolution over the signal's length."""
    return _mlp(input_shape[0] * input_shape[1], 64, num_classes)


def digits_mlp(input_shape: tuple[int, ...], num_classes: int) -> ClassifierNet:
    """Two hidden layers of 64 units over the flattened 8x8 image: a proxy for digits_cnn
    (9.1k parameters against 56.6k, and no convolution)."""
    return _mlp(input_shape[0] * input_shape[1] * input_shape[2], 64, num_classes)
