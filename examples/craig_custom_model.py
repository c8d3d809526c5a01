"""(c) CRAIG in your own loop, with a model of your own that prunebench has never seen
(docs/library.md). CRAIG reads only the model's logits: any nn.Module that returns [B, C].

    python examples/craig_custom_model.py [--tiny]
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import prunebench as pb
from prunebench.data.mnist1d import load_mnist1d_arrays


class WideAndDeep(nn.Module):
    """A convolutional path and a linear path over the raw signal, their logits summed."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.deep = nn.Sequential(nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                                  nn.Conv1d(32, 64, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveMaxPool1d(1), nn.Flatten(), nn.Linear(64, classes))
        self.wide = nn.Linear(40, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, 1, 40] -> logits [B, 10]
        return self.deep(x) + self.wide(x.flatten(1))


parser = argparse.ArgumentParser()
parser.add_argument("--tiny", action="store_true", help="a toy size that runs in seconds")
args = parser.parse_args()
n_train, epochs = (1000, 8) if args.tiny else (10_000, 30)
arrays, _ = load_mnist1d_arrays({"train_size": n_train, "test_size": 400})
x, y = torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"])
x_test, y_test = torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"])

torch.manual_seed(0)
model = WideAndDeep()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
craig = pb.DynamicMethod("craig", model, x, y, fraction=0.3, batch_size=32, epochs=epochs, seed=0)
for epoch in range(1, epochs + 1):
    model.train()
    for batch in craig.batches(epoch):  # CRAIG re-selects at each epoch's start (interval 1)
        losses = F.cross_entropy(model(x[batch.indices]), y[batch.indices], reduction="none")
        optimizer.zero_grad()
        (losses * batch.weights).mean().backward()  # CRAIG's weights: cluster sizes, mean 1
        optimizer.step()
        craig.observe(batch.indices, losses.detach())

model.eval()
with torch.no_grad():
    accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
print(f"{len(craig.selections)} selections, {craig.times['selection']:.2f} s selecting")
print(f"final test accuracy: {accuracy:.4f}")
