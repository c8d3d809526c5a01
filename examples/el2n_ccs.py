"""(b) Score MNIST-1D with EL2N at epoch k of your own model, then train on CCS's subset
(docs/library.md).

    python examples/el2n_ccs.py [--tiny]
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import prunebench as pb
from prunebench.data.mnist1d import load_mnist1d_arrays

parser = argparse.ArgumentParser()
parser.add_argument("--tiny", action="store_true", help="a toy size that runs in seconds")
args = parser.parse_args()
n_train, k, epochs = (1000, 2, 15) if args.tiny else (10_000, 3, 30)
arrays, _ = load_mnist1d_arrays({"train_size": n_train, "test_size": 400})
x, y = torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"])  # [N, 1, 40]
x_test, y_test = torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"])


def new_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256),
                         nn.ReLU(), nn.Linear(256, 10))


def train(model: nn.Module, indices: torch.Tensor, epochs: int, seed: int = 0) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for batch in indices[torch.randperm(len(indices), generator=order)].split(64):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


torch.manual_seed(0)
proxy = new_model()
train(proxy, torch.arange(n_train), epochs=k)  # k epochs on all data: Data Diet's proxy
scores = pb.score("el2n", proxy, x, y)  # float32 [N], eval mode, un-augmented, dataset order
subset = pb.select("ccs", 0.3, y.numpy(), scores=scores, seed=0, beta=0.1)  # int64 indices
print(f"EL2N at epoch {k}: mean {scores.mean():.3f}; CCS keeps {len(subset)} of {n_train}")

torch.manual_seed(1)
model = new_model()
train(model, torch.from_numpy(subset), epochs=epochs)
model.eval()
with torch.no_grad():
    accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
print(f"final test accuracy: {accuracy:.4f}")
