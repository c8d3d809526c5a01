"""What a dataset is, known from its name and preparation options alone (nothing loaded):
training and test sizes, input shape, classes, kind. The cost model needs them before the data
exists. None where a value cannot be known ahead."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..train_sizes import expected_test_size, expected_train_size

SNLI_MAX_LENGTH = 128  # prunebench.data.snli's default
SHAPES = {"digits": (1, 8, 8), "mnist1d": (1, 40), "cifar10": (3, 32, 32),
          "cifar100": (3, 32, 32), "tinyimagenet": (3, 64, 64)}
CLASSES = {"digits": 10, "mnist1d": 10, "cifar10": 10, "cifar100": 100, "tinyimagenet": 200,
           "snli": 3}
KINDS = {"digits": "image", "mnist1d": "signal", "cifar10": "image", "cifar100": "image",
         "tinyimagenet": "image", "snli": "text"}


@dataclass(frozen=True)
class DatasetFacts:
    name: str
    n_train: int
    n_test: int
    input_shape: tuple[int, ...]
    num_classes: int
    kind: str  # image | signal | text

    @property
    def input_bytes(self) -> int:
        """Bytes of one example as prepared (uint8 images, float32 signals, int32 tokens)."""
        width = {"image": 1, "signal": 4, "text": 4}[self.kind]
        return width * math.prod(self.input_shape)


def dataset_facts(dataset: str, options: dict) -> DatasetFacts | None:
    """The facts of a registered dataset, or None for one whose sizes are not known ahead."""
    n_train, n_test = expected_train_size(dataset, options), expected_test_size(dataset, options)
    if n_train is None or n_test is None or dataset not in CLASSES:
        return None
    shape = SHAPES.get(dataset) or (3, int(options.get("max_length", SNLI_MAX_LENGTH)))
    return DatasetFacts(dataset, n_train, n_test, shape, CLASSES[dataset], KINDS[dataset])
