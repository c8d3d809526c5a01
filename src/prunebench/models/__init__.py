"""The model registry: name -> constructor ``fn(input_shape, num_classes) -> ClassifierNet``.

Text models (TEXT_MODELS) also take ``meta=``, the prepared dataset's meta.json, whose
tokenizer record says which vocabulary (and, for pretrained models, which checkpoint) to use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..errors import UserError
from .base import ClassifierNet
from .resnet18 import resnet18
from .resnet_cifar import resnet8, resnet20, resnet32, resnet56
from .small import digits_cnn, digits_mlp, mnist1d_cnn, mnist1d_mlp
from .text import bert_tiny, hf_pretrained, minilm

ModelConstructor = Callable[[tuple[int, ...], int], ClassifierNet]

MODELS: dict[str, ModelConstructor] = {
    "digits_cnn": digits_cnn,
    "mnist1d_cnn": mnist1d_cnn,
    "digits_mlp": digits_mlp,
    "mnist1d_mlp": mnist1d_mlp,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet56": resnet56,
    "resnet18": resnet18,
    "bert_tiny": bert_tiny,
    "minilm": minilm,
    "hf_pretrained": hf_pretrained,
}
TEXT_MODELS = {"bert_tiny", "minilm", "hf_pretrained"}

# The input_shape each model accepts, batch dimension excluded.
_INPUT_LAYOUTS = {
    "digits_cnn": "(C, H, W)",
    "mnist1d_cnn": "(C, L)",
    "digits_mlp": "(C, H, W)",
    "mnist1d_mlp": "(C, L)",
    "resnet8": "(C, H, W)",
    "resnet20": "(C, H, W)",
    "resnet32": "(C, H, W)",
    "resnet56": "(C, H, W)",
    "resnet18": "(C, H, W)",
    "bert_tiny": "(3, L) token ids, mask, types",
    "minilm": "(3, L) token ids, mask, types",
    "hf_pretrained": "(3, L) token ids, mask, types",
}

__all__ = ["MODELS", "TEXT_MODELS", "ClassifierNet", "build_model"]


def build_model(name: str, input_shape: Sequence[int], num_classes: int,
                meta: Mapping | None = None) -> ClassifierNet:
    """Build the named model for inputs of ``input_shape`` (no batch dim) and ``num_classes``.

    ``meta`` is the prepared dataset's meta.json; text models need it (the tokenizer record).
    """
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if meta is not None and meta.get("kind") == "text" and name not in TEXT_MODELS:
        raise UserError(f"model {name!r} cannot read text; for dataset {meta.get('name')!r} "
                        f"choose one of {', '.join(sorted(TEXT_MODELS))}")
    shape = tuple(int(size) for size in input_shape)
    layout = _INPUT_LAYOUTS[name]
    expected_rank = layout.split(")")[0].count(",") + 1
    if len(shape) != expected_rank:
        raise UserError(f"model {name!r} needs {expected_rank}-D inputs {layout}, but the data "
                        f"has input_shape {shape}; pick a model made for this dataset")
    if any(size < 1 for size in shape):
        raise UserError(f"model {name!r}: input_shape {shape} has a size below 1")
    if num_classes < 2:
        raise UserError(f"model {name!r}: num_classes must be at least 2, got {num_classes}")
    if name in TEXT_MODELS:
        return MODELS[name](shape, num_classes, meta=None if meta is None else dict(meta))
    return MODELS[name](shape, num_classes)
