"""Training data path: our in-memory batched augmentation against torchvision's DataLoader + PIL.

    python benchmarks/data_path.py            # 10,000 images, batch 128, 2 epochs each (~1 min)
    python benchmarks/data_path.py --quick    # 2,560 images, 1 epoch each

Both produce the same thing per batch: 128 CIFAR-shaped images randomly cropped (zero
padding 4) and flipped, scaled to [0, 1] and normalised, in shuffled order, on the training
device. `ours` is what training does (`TensorData.train_batch`: uint8 tensors in memory,
`augment_batch` on the whole batch, then `TensorData.normalize`); `torchvision` is a Dataset
returning PIL images through RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor and
Normalize, batched by a DataLoader with num_workers 0 and 2 (persistent workers; the timed
epochs follow an untimed one so worker start-up is excluded). Reported as images/s with the
ratio to ours. Uses the GPU when there is one (ours then augments on the GPU; torchvision
batches are copied there from pinned memory). CPU threads for ours: `--threads`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import CIFAR10_MEAN, CIFAR10_STD, synchronize
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from prunebench.data.tensors import TensorData

AUGMENT = {"crop_padding": 4, "flip": True}


class PILImages(Dataset):
    """CIFAR-style dataset: HWC uint8 arrays turned into PIL images, as torchvision's CIFAR10."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def time_ours(data: TensorData, batch_size: int, epochs: int, device: torch.device) -> float:
    order = torch.Generator().manual_seed(0)
    augment = torch.Generator(device=device).manual_seed(1)
    checksum = torch.zeros((), device=device)

    def epoch() -> None:
        nonlocal checksum
        perm = torch.randperm(data.n_train, generator=order).to(device)
        for start in range(0, data.n_train, batch_size):
            x, y = data.train_batch(perm[start:start + batch_size], AUGMENT, augment)
            checksum = checksum + x[:, 0, 0, 0].sum()  # use the batch so no work is skipped

    return timed_epochs(epoch, epochs, device)


def timed_epochs(epoch, epochs: int, device: torch.device) -> float:
    """Seconds for `epochs` calls of `epoch`, after one untimed warm-up call."""
    epoch()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    synchronize(device)
    return time.perf_counter() - start


def time_torchvision(dataset: PILImages, batch_size: int, workers: int, epochs: int,
                     device: torch.device) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(0))
    checksum = torch.zeros((), device=device)

    def epoch() -> None:
        nonlocal checksum
        for x, _ in loader:
            x = x.to(device, non_blocking=True)
            checksum = checksum + x[:, 0, 0, 0].sum()

    return timed_epochs(epoch, epochs, device)  # its warm-up epoch also starts the workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,560 images, 1 epoch")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per method")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for ours")
    args = parser.parse_args()
    if args.quick:
        args.images, args.epochs = 2560, 1
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, args.images)

    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)
    nchw = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(device)
    data = TensorData(train_x=nchw, train_y=torch.from_numpy(labels).to(device),
                      test_x=nchw[:0], test_y=torch.from_numpy(labels[:0]).to(device),
                      mean=mean, std=std, kind="image", num_classes=10)
    pipeline = transforms.Compose([
        transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), transforms.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    dataset = PILImages(images, labels, pipeline)

    seen = args.images * args.epochs
    rows = [("ours: TensorData.train_batch", time_ours(data, args.batch_size, args.epochs,
                                                      device))]
    for workers in args.workers:
        seconds = time_torchvision(dataset, args.batch_size, workers, args.epochs, device)
        rows.append((f"torchvision DataLoader, {workers} workers", seconds))

    print(f"# {args.images:,} CIFAR-shaped uint8 images, batch {args.batch_size}, "
          f"{args.epochs} timed epoch(s) each, device {device.type}, ours on "
          f"{args.threads} CPU thread(s)")
    header = f"{'pipeline':<36} {'seconds':>8} {'images/s':>10} {'ours is':>9}"
    print(header)
    print("-" * len(header))
    ours_rate = seen / rows[0][1]
    for name, seconds in rows:
        rate = seen / seconds
        print(f"{name:<36} {seconds:>8.2f} {rate:>10.0f} {ours_rate / rate:>8.1f}x")


if __name__ == "__main__":
    main()
