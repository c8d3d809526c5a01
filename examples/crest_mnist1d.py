"""(a) Train MNIST-1D with CREST from your own training loop (docs/library.md).

    python examples/crest_mnist1d.py [--tiny]
"""

import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn

import prunebench as pb
from prunebench.data.mnist1d import load_mnist1d_arrays

parser = argparse.ArgumentParser()
parser.add_argument("--tiny", action="store_true", help="a toy size that runs in seconds")
args = parser.parse_args()
n_train, epochs = (1000, 8) if args.tiny else (10_000, 30)
arrays, _ = load_mnist1d_arrays({"train_size": n_train, "test_size": 400})
x, y = torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"])  # [N, 1, 40]
x_test, y_test = torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"])

torch.manual_seed(0)
model = nn.Sequential(nn.Conv1d(1, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
                      nn.Conv1d(32, 64, 3, stride=2, padding=1), nn.BatchNorm1d(64), nn.ReLU(),
                      nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
crest = pb.DynamicMethod("crest", model, x, y, fraction=0.3, batch_size=64, epochs=epochs,
                         seed=0, subset_size=0.1 if args.tiny else 0.01)
total = epochs * crest.steps_per_epoch
shift = torch.Generator().manual_seed(1)  # our own augmentation: a random circular shift
step = 0

for epoch in range(1, epochs + 1):
    model.train()
    for _ in range(crest.start_epoch(epoch)):
        lr = 0.1 * 0.5 * (1 + math.cos(math.pi * step / total))  # cosine over the run
        batch = crest.next_batch(lr)
        step += 1
        for group in optimizer.param_groups:
            group["lr"] = lr * batch.lr_scale  # 0 during CREST's warm-up: no optimizer step
        xb = torch.roll(x[batch.indices], int(torch.randint(-2, 3, (1,), generator=shift)), -1)
        with crest.timed("training"):
            losses = F.cross_entropy(model(xb), y[batch.indices], reduction="none")
            loss = (losses * batch.weights).mean() if batch.weights is not None else losses.mean()
            optimizer.zero_grad()
            loss.backward()
            if batch.lr_scale > 0:
                optimizer.step()
        crest.observe(batch.indices, losses.detach())

model.eval()
with torch.no_grad():
    accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
print(crest.selections[["step", "reason", "n_selected", "selection_s"]].tail(3).to_string())
print(f"selections: {len(crest.selections)}, seconds per phase: {crest.times}")
print(f"final test accuracy: {accuracy:.4f}")
