"""The shape every model in the registry has: a feature body and one linear head.

Scores that need the penultimate features (``grand_last``) or the last layer (CREST's
gradient proxy) rely on this split instead of reaching into model internals.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import Tensor, nn


@contextmanager
def module_mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """``model`` and every submodule in train (``training``) or eval mode, then each module's
    own flag restored: not just the root's, since a caller may have frozen some submodules
    (e.g. BatchNorm) in eval mode on purpose."""
    modes = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield model
    finally:
        for module, was_training in modes:
            module.training = was_training


def uncompiled(model: nn.Module) -> AbstractContextManager:
    """Inside this block a compiled `model` runs its eager call
    (`torch.compiler.set_stance("force_eager")`): `speed.compile` is for the training steps,
    whose shapes repeat; a selection or evaluation pass would compile (and, under
    `reduce-overhead`, record CUDA graphs) for shapes it meets once an epoch, and charge that
    to its own phase. Double backward (create_graph=True, CREST's Hessian-vector products)
    needs it too: a compiled graph refuses it (its backward donates its buffers). For a model
    that is not compiled (nn.Module.compile never called) the block is empty."""
    if model._compiled_call_impl is None:
        return nullcontext()
    return torch.compiler.set_stance("force_eager")


def eval_mode(model: nn.Module):
    """Eval mode (batch-norm running statistics, no dropout), each module's flag restored."""
    return module_mode(model, training=False)


class ClassifierNet(nn.Module):
    """``forward(x) = head(body(x))`` where ``head`` is a single ``nn.Linear`` with bias."""

    def __init__(self, body: nn.Module, head: nn.Linear):
        super().__init__()
        self.body = body
        self.head = head

    def forward_features(self, x: Tensor) -> Tensor:
        """Penultimate features, shape (batch, head.in_features)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))
