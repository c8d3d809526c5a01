"""The user's data as the `TensorData` every scorer and sampler reads (`data/tensors.py`).

The user hands over what their model takes: a float tensor (or array) of inputs, already
normalised, or integer token ids, with int64 labels, or a `torch.utils.data.Dataset` of
(x, y) pairs, which is read once, in order, into such tensors. Normalisation is the identity
(mean 0, std 1), so every forward sees exactly the user's inputs; prunebench's own batched
augmentation applies only where the user asks for it (`augment=`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..data.tensors import TensorData
from ..errors import UserError


def _as_tensor(value, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError) as exc:
        raise UserError(f"{name} must be a tensor or an array, not {type(value).__name__}") \
            from exc


def _from_dataset(dataset) -> tuple[Tensor, Tensor]:
    """(x, y) stacked from a map-style Dataset's items, in index order."""
    if len(dataset) == 0:
        raise UserError("x is an empty Dataset; pass the training examples")
    items = [dataset[i] for i in range(len(dataset))]
    if not all(isinstance(item, tuple | list) and len(item) >= 2 for item in items[:1]):
        raise UserError("x is a Dataset whose items are not (x, y) pairs; pass tensors x and y")
    x = torch.stack([_as_tensor(item[0], "a Dataset item's x") for item in items])
    y = torch.as_tensor([int(item[1]) for item in items])
    return x, y


def is_dataset(x) -> bool:
    return not isinstance(x, Tensor | np.ndarray | list | tuple) and \
        hasattr(x, "__getitem__") and hasattr(x, "__len__")


def as_tensor_data(x, y=None, *, device: torch.device | str | None = None,
                   num_classes: int | None = None) -> TensorData:
    """`x` [N, ...] (float inputs as the model takes them, or integer token ids) and `y` [N]
    (integer labels 0..C-1), or a Dataset of (x, y) pairs with `y` None, as a TensorData on
    `device` (default: x's). A TensorData is returned as it is."""
    if isinstance(x, TensorData):
        return x
    if is_dataset(x):
        if y is not None:
            raise UserError("y must be None when x is a Dataset (its items hold the labels)")
        x, y = _from_dataset(x)
    elif y is None:
        raise UserError("y is missing: pass the N integer labels of the N examples in x")
    x, y = _as_tensor(x, "x"), _as_tensor(y, "y")
    if y.dim() != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise UserError(f"y must be a 1-D integer array of labels, got shape {tuple(y.shape)} "
                        f"dtype {y.dtype}")
    if x.dim() < 1 or len(x) != len(y):
        raise UserError(f"y has {len(y)} labels but x has {len(x) if x.dim() else 0} examples; "
                        "pass one label per example")
    if len(y) == 0:
        raise UserError("x holds no examples")
    classes = int(y.max()) + 1
    if int(y.min()) < 0 or (num_classes is not None and classes > num_classes):
        raise UserError(f"y must hold labels 0..num_classes-1, got {int(y.min())}..{classes - 1}"
                        + (f" with num_classes={num_classes}" if num_classes else ""))
    device = torch.device(device) if device is not None else x.device
    kind = "features" if x.is_floating_point() else "text"
    empty = torch.zeros((0, *x.shape[1:]), dtype=x.dtype, device=device)
    return TensorData(train_x=x.to(device), train_y=y.long().to(device), test_x=empty,
                      test_y=torch.zeros(0, dtype=torch.long, device=device),
                      mean=torch.zeros(1, device=device), std=torch.ones(1, device=device),
                      kind=kind, num_classes=num_classes or classes,
                      meta={"name": "the user's data", "kind": kind})


def model_device(model: torch.nn.Module | None) -> torch.device | None:
    """The device of the model's first parameter (None without a model or parameters)."""
    if model is None:
        return None
    parameter = next(model.parameters(), None)
    return None if parameter is None else parameter.device
