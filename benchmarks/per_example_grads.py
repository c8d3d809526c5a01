"""GraNd per-example gradient norms: our torch.func scorer against a per-example autograd loop.

    python benchmarks/per_example_grads.py            # 2,000 examples, loop on 200 (CPU: ~15 s)
    python benchmarks/per_example_grads.py --quick    # 512 examples, loop on 64

Model: ResNet-20 (`build_model("resnet20", (3, 32, 32), 10)`, eval mode, ~270k parameters).
Data: random CIFAR-shaped uint8 images, normalised with the CIFAR-10 mean and std, random
labels. `ours` is `prunebench.scores.grand_scores` itself (functional_call + vmap(grad), in
chunks of `--chunk-size`); `loop` is the textbook per-example loop (one forward and backward
per example, then the norm of every parameter's .grad), timed on the first `--loop-examples`
examples. Both are reported as examples/s, with the ratio, and their norms on the shared
examples are checked with allclose (rtol 1e-3: float32 rounding; a float64 re-run of 16
examples shows they agree to float32 precision). Uses the GPU when there is one; CPU threads:
`--threads`.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import CIFAR10_MEAN, CIFAR10_STD, synchronize
from torch import nn
from torch.nn import functional as F

from prunebench.models import build_model
from prunebench.scores import grand_scores


def cifar_like(n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return ((images.float() / 255.0 - mean) / std).to(device), labels.to(device)


def loop_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One backward per example; the norm over every parameter's gradient."""
    params = [p for p in model.parameters() if p.requires_grad]
    norms = []
    model.eval()
    for i in range(len(x)):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        norms.append(torch.sqrt(sum(p.grad.pow(2).sum() for p in params)).detach())
    return torch.stack(norms).cpu()


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="512 examples, loop on 64")
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--loop-examples", type=int, default=200)
    parser.add_argument("--chunk-size", type=int, default=64,
                        help="grand_scores chunk_size (the schema default grand_chunk)")
    parser.add_argument("--batch-size", type=int, default=512, help="batches fed to grand_scores")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.examples, args.loop_examples = 512, 64
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    model = build_model("resnet20", (3, 32, 32), 10).to(device).eval()
    x, y = cifar_like(args.examples, args.seed, device)
    batches = [(x[s:s + args.batch_size], y[s:s + args.batch_size])
               for s in range(0, len(x), args.batch_size)]

    # Warm-up (kernel selection, vmap tracing caches) on a few examples, not timed.
    grand_scores(model, [(x[:8], y[:8])], chunk_size=args.chunk_size)
    loop_norms(model, x[:2], y[:2])

    synchronize(device)
    start = time.perf_counter()
    ours = torch.from_numpy(grand_scores(model, batches, chunk_size=args.chunk_size))
    synchronize(device)
    ours_seconds = time.perf_counter() - start

    m = min(args.loop_examples, args.examples)
    start = time.perf_counter()
    loop = loop_norms(model, x[:m], y[:m])
    synchronize(device)
    loop_seconds = time.perf_counter() - start

    # on a GPU cuDNN runs float32 convolutions in TF32 (torch's default), hence a looser rtol
    rtol = 1e-3 if device.type == "cpu" else 1e-2
    same = torch.allclose(ours[:m], loop, rtol=rtol, atol=1e-6)
    worst = relative_difference(ours[:m], loop)
    # float32 rounding explains the difference: in float64 the two agree to float32 output.
    model64, x64 = model.double(), x[:16].double()
    worst64 = relative_difference(torch.from_numpy(grand_scores(model64, [(x64, y[:16])])),
                                  loop_norms(model64, x64, y[:16]))
    params = sum(p.numel() for p in model.parameters())
    print(f"# GraNd over all {params:,} parameters of ResNet-20, device {device.type}, "
          f"{args.threads} CPU thread(s), chunk_size {args.chunk_size}")
    header = (f"{'method':<34} {'examples':>8} {'seconds':>8} {'examples/s':>11} "
              f"{'speedup':>8}")
    print(header)
    print("-" * len(header))
    rate_ours, rate_loop = args.examples / ours_seconds, m / loop_seconds
    print(f"{'ours: grand_scores (vmap(grad))':<34} {args.examples:>8} {ours_seconds:>8.2f} "
          f"{rate_ours:>11.1f} {rate_ours / rate_loop:>7.1f}x")
    print(f"{'loop: autograd, one example/step':<34} {m:>8} {loop_seconds:>8.2f} "
          f"{rate_loop:>11.1f} {1.0:>7.1f}x")
    print(f"norms agree on the {m} shared examples (allclose rtol {rtol:g}): {same}; largest "
          f"relative difference {worst:.1e} in float32, {worst64:.1e} in float64 (16 examples)")


if __name__ == "__main__":
    main()
