"""A prepared dataset held in memory as tensors (on the GPU when there is one).

Images stay uint8 until a batch is drawn: augmentation runs on the batch, then it is
scaled and normalised. Text (kind "text") is int32 (N, 3, L) token ids, attention mask and
token types: it is never augmented and `normalize` only widens it to int64 for the embedding.
Nothing here loops over single examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import UserError
from .augment import augment_batch
from .prepared import Prepared


@dataclass
class TensorData:
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    mean: Tensor
    std: Tensor
    kind: str
    num_classes: int
    meta: dict = field(default_factory=dict)  # meta.json (text models read the tokenizer here)
    # layout of normalised image batches; channels_last on GPUs (see train.setup.apply_speed)
    memory_format: torch.memory_format = torch.contiguous_format

    @classmethod
    def from_prepared(cls, data: Prepared, device: torch.device) -> TensorData:
        meta = data.meta
        # broadcast shape (1, C, 1, ...) matching the example shape
        view = (1, -1) + (1,) * (len(meta["shape"]) - 1)
        return cls(
            train_x=torch.from_numpy(data.train_x).to(device),
            train_y=torch.from_numpy(data.train_y).long().to(device),
            test_x=torch.from_numpy(data.test_x).to(device),
            test_y=torch.from_numpy(data.test_y).long().to(device),
            mean=torch.tensor(meta["mean"], dtype=torch.float32, device=device).view(view),
            std=torch.tensor(meta["std"], dtype=torch.float32, device=device).view(view),
            kind=meta["kind"],
            num_classes=int(meta["num_classes"]),
            meta=meta,
        )

    @property
    def n_train(self) -> int:
        return len(self.train_y)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def normalize(self, x: Tensor) -> Tensor:
        if self.kind == "text":
            return x.long()  # ids stay ids; the text model embeds them
        x = x.float()
        if self.kind == "image":
            x = x / 255.0
        x = (x - self.mean) / self.std
        if self.memory_format is not torch.contiguous_format:
            x = x.contiguous(memory_format=self.memory_format)
        return x

    def train_batch(self, indices: Tensor, augment: dict, generator: torch.Generator | None):
        """Augmented, normalised training inputs and labels for the given example indices."""
        x = self.train_x[indices]
        if self.kind == "text":
            refuse_augment_for_text(augment, self.meta.get("name", "this dataset"))
        elif generator is not None:
            x = augment_batch(x, generator=generator, **augment)
        return self.normalize(x), self.train_y[indices]

    def eval_batches(self, split: str, batch_size: int,
                     indices: Tensor | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        """Un-augmented, normalised (x, y) batches in dataset order (scores rely on the order)."""
        xs, ys = (self.train_x, self.train_y) if split == "train" else (self.test_x, self.test_y)
        if indices is not None:
            xs, ys = xs[indices], ys[indices]
        for start in range(0, len(ys), batch_size):
            yield self.normalize(xs[start:start + batch_size]), ys[start:start + batch_size]


def refuse_augment_for_text(augment: dict, dataset: str) -> None:
    """Crop and flip have no meaning for token ids: a config asking for them is a mistake."""
    asked = [key for key in ("crop_padding", "flip") if augment.get(key)]
    if asked:
        raise UserError(f"config: dataset '{dataset}' is text, which is never augmented; remove "
                        f"augment.{asked[0]} from datasets.{dataset} (set crop_padding: 0, "
                        "flip: false)")
