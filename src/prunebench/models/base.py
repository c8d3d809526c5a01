"""The shape every model in the registry has: a feature body and one linear head.

Scores that need the penultimate features (``grand_last``) or the last layer (CREST's
gradient proxy) rely on this split instead of reaching into model internals.
"""

from torch import Tensor, nn


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
