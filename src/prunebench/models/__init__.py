"""The model registry: name -> constructor ``fn(input_shape, num_classes) -> ClassifierNet``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import UserError
from .base import ClassifierNet
from .resnet18 import resnet18
from .resnet_cifar import resnet20, resnet32, resnet56
from .small import digits_cnn, mnist1d_cnn

ModelConstructor = Callable[[tuple[int, ...], int], ClassifierNet]

MODELS: dict[str, ModelConstructor] = {
    "digits_cnn": digits_cnn,
    "mnist1d_cnn": mnist1d_cnn,
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet56": resnet56,
    "resnet18": resnet18,
}

# The input_shape each model accepts, batch dimension excluded.
_INPUT_LAYOUTS = {
    "digits_cnn": "(C, H, W)",
    "mnist1d_cnn": "(C, L)",
    "resnet20": "(C, H, W)",
    "resnet32": "(C, H, W)",
    "resnet56": "(C, H, W)",
    "resnet18": "(C, H, W)",
}

__all__ = ["MODELS", "ClassifierNet", "build_model"]


def build_model(name: str, input_shape: Sequence[int], num_classes: int) -> ClassifierNet:
    """Build the named model for inputs of ``input_shape`` (no batch dim) and ``num_classes``."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    shape = tuple(int(size) for size in input_shape)
    layout = _INPUT_LAYOUTS[name]
    expected_rank = layout.count(",") + 1
    if len(shape) != expected_rank:
        raise UserError(f"model {name!r} needs {expected_rank}-D inputs {layout}, but the data "
                        f"has input_shape {shape}; pick a model made for this dataset")
    if any(size < 1 for size in shape):
        raise UserError(f"model {name!r}: input_shape {shape} has a size below 1")
    if num_classes < 2:
        raise UserError(f"model {name!r}: num_classes must be at least 2, got {num_classes}")
    return MODELS[name](shape, num_classes)
