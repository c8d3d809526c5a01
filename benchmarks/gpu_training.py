"""Training and proxy-scoring throughput of our data path and models, option by option.

    python benchmarks/gpu_training.py           # on a GPU: ResNet-20 and ResNet-18, ~2 min
    python benchmarks/gpu_training.py --quick   # fewer steps (the CPU default)

Data: random CIFAR-shaped uint8 images held on the device as a `TensorData` (as training
jobs hold them); every step draws a batch with `train_batch` (random crop with padding 4 and
flip, run on the device, then normalised), and does one SGD step (momentum 0.9, nesterov) of
the model from `build_model`. Variants, each timed after its own warm-up:

- `fp32`: no autocast, contiguous layout;
- `bf16`: bf16 autocast (what training jobs use on a GPU);
- `bf16+cl`: plus channels_last for model and batches (`speed.channels_last`, on by default);
- `bf16+cl+compile`: plus `nn.Module.compile` (`speed.compile: true`);
- `bf16+cl+cudagraphs`: compiled with CUDA graphs (`speed.compile: reduce-overhead`).

On the CPU only `fp32` and `fp32+compile` run (autocast and channels_last are GPU-only there).
Scoring: `el2n_scores` (one eval forward per example) and `grand_scores` (per-example gradient
norms over all parameters, torch.func) on the un-augmented training set, examples/s.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import torch
from common import CIFAR10_MEAN, CIFAR10_STD, synchronize
from torch.nn import functional as F

from prunebench.data.tensors import TensorData
from prunebench.models import build_model
from prunebench.ops import Speed
from prunebench.scores import el2n_scores, grand_scores
from prunebench.train.setup import apply_speed

AUGMENT = {"crop_padding": 4, "flip": True}


def cifar_like(n: int, device: torch.device) -> TensorData:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    return TensorData(
        train_x=images.to(device), train_y=labels.to(device),
        test_x=images[:256].to(device), test_y=labels[:256].to(device),
        mean=torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1),
        std=torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1),
        kind="image", num_classes=10)


def train_rate(model_name: str, data: TensorData, device: torch.device, *, bf16: bool,
               channels_last: bool, compile_model: bool | str, batch_size: int, steps: int,
               warmup: int) -> float:
    """Images/s of augmented SGD steps, measured after `warmup` untimed steps."""
    data.memory_format = torch.contiguous_format
    if compile_model:  # every nn.Module.compile compiles one code object (Module._call_impl):
        torch._dynamo.reset()  # past dynamo's recompile limit a later variant would run eager
    torch.manual_seed(0)
    model = build_model(model_name, (3, 32, 32), 10).to(device)
    apply_speed(model, data, device, Speed(channels_last=channels_last, compile=compile_model))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    order = torch.Generator().manual_seed(1)
    augment = torch.Generator(device=device).manual_seed(2)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if bf16 and device.type == "cuda"
                else contextlib.nullcontext())

    def step() -> None:
        indices = torch.randint(0, data.n_train, (batch_size,), generator=order).to(device)
        x, y = data.train_batch(indices, AUGMENT, augment)
        with autocast:
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def scoring_rates(model_name: str, data: TensorData, device: torch.device, *, examples: int,
                  batch_size: int) -> tuple[float, float]:
    """(EL2N, GraNd) examples/s on the first `examples` training examples, after a warm-up."""
    data.memory_format = torch.contiguous_format
    torch.manual_seed(0)
    model = build_model(model_name, (3, 32, 32), 10).to(device)
    apply_speed(model, data, device, Speed(channels_last=True, compile=False))
    subset = torch.arange(examples, device=device)
    rates = []
    for score in (el2n_scores, grand_scores):
        score(model, list(data.eval_batches("train", 16, subset[:32])))  # warm-up
        synchronize(device)
        start = time.perf_counter()
        score(model, data.eval_batches("train", batch_size, subset))
        synchronize(device)
        rates.append(examples / (time.perf_counter() - start))
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "resnet18"])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    parser.add_argument("--score-examples", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="few steps (default on the CPU)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--variants", nargs="+", help="only these variants (default: all)")
    parser.add_argument("--no-scoring", action="store_true", help="skip the scoring rates")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(args.threads)
    quick = args.quick or device.type == "cpu"
    steps = args.steps or (5 if quick else 200)
    score_examples = args.score_examples or (256 if quick else 10_000)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name()
        variants = [("fp32", False, False, False), ("bf16", True, False, False),
                    ("bf16+cl", True, True, False), ("bf16+cl+compile", True, True, True),
                    ("bf16+cl+cudagraphs", True, True, "reduce-overhead")]
    else:
        name = f"CPU, {args.threads} thread(s)"
        variants = [("fp32", False, False, False), ("fp32+compile", False, False, True)]
    if args.variants:
        unknown = set(args.variants) - {v[0] for v in variants}
        if unknown:
            sys.exit(f"unknown --variants {sorted(unknown)}; on this device: "
                     f"{[v[0] for v in variants]}")
        variants = [v for v in variants if v[0] in args.variants]
    data = cifar_like(max(score_examples, 4 * args.batch_size), device)
    print(f"# {name}, torch {torch.__version__}, batch {args.batch_size}, {steps} timed steps "
          f"per variant, CIFAR-shaped data on the device")
    header = f"{'model':<9} {'variant':<19} {'train img/s':>12} {'vs fp32':>8}"
    print(header)
    print("-" * len(header))
    for model_name in args.models:
        base = None
        for label, bf16, channels_last, compile_model in variants:
            rate = train_rate(model_name, data, device, bf16=bf16, channels_last=channels_last,
                              compile_model=compile_model, batch_size=args.batch_size,
                              steps=steps, warmup=3 if quick else 30)
            base = base or rate
            print(f"{model_name:<9} {label:<19} {rate:>12,.0f} {rate / base:>7.2f}x", flush=True)
    if args.no_scoring:
        return
    print()
    header = f"{'model':<9} {'EL2N ex/s':>12} {'GraNd ex/s':>12} {'examples':>9}"
    print(header)
    print("-" * len(header))
    for model_name in args.models:
        el2n, grand = scoring_rates(model_name, data, device, examples=score_examples,
                                    batch_size=512)
        print(f"{model_name:<9} {el2n:>12,.0f} {grand:>12,.0f} {score_examples:>9,}", flush=True)


if __name__ == "__main__":
    main()
