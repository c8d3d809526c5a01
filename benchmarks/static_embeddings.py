"""kcenter and herding at CIFAR-10 / ResNet-18 scale: seconds and peak memory per selection.

    python benchmarks/static_embeddings.py            # 50,000 x 512 float16, 10 classes
    python benchmarks/static_embeddings.py --quick    # 5,000 x 512

Random float16 embeddings (selection time does not depend on what they encode). Each case
runs in a fresh process on one CPU thread (`--threads`); its peak memory is the growth of the
peak resident set (VmHWM, reset after the data exists) over the resident set before selecting,
so it covers torch's allocations too. `reference-style` is the structure of DeepCore's loops,
rewritten here for comparison (argmin for herding): k-center keeps a (k x n) distance matrix,
herding re-sums the chosen rows and measures every unchosen row at each step. It runs at the
smallest fraction, class-balanced only unless --quick (its matrix grows as k x n).
Pass `--device cuda` to time the GPU.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from prunebench.selection.static.common import select_by_group
from prunebench.selection.static.herding import HerdingOptions, select_herding
from prunebench.selection.static.kcenter import KCenterOptions, select_kcenter

FRACTIONS = (0.1, 0.3, 0.5)


def memory_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def make_data(n: int, d: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    x = np.empty((n, d), dtype=np.float16)
    for start in range(0, n, 4096):  # in pieces, so generating them sets no high peak
        x[start:start + 4096] = g.normal(size=(min(4096, n - start), d))
    return x, g.permutation(np.arange(n) % classes)


def reference_kcenter(x: torch.Tensor, q: int, first: int) -> list[int]:
    n, chosen = len(x), np.zeros(len(x), dtype=bool)
    dis = torch.full((q, n), -1.0)  # the (k x n) matrix the reference keeps
    chosen[first] = True
    dis[0] = torch.cdist(x[[first]], x)[0]
    mins, picks = dis[0].clone(), [first]
    for i in range(1, q):
        mins[torch.from_numpy(chosen)] = -1
        p = int(torch.argmax(mins))
        picks.append(p)
        chosen[p] = True
        dis[i] = torch.cdist(x[[p]], x)[0]
        mins = torch.minimum(mins, dis[i])
    return picks


def reference_herding(x: torch.Tensor, q: int) -> list[int]:
    mu, chosen, picks = x.mean(dim=0), np.zeros(len(x), dtype=bool), []
    for i in range(q):
        target = (i + 1) * mu - x[torch.from_numpy(chosen)].sum(dim=0)
        rest = np.flatnonzero(~chosen)
        p = int(rest[int(torch.argmin(torch.cdist(target.view(1, -1), x[rest])[0]))])
        picks.append(p)
        chosen[p] = True
    return picks


def reference(method: str, x: np.ndarray, labels: np.ndarray, fraction: float, balanced: bool):
    rng = np.random.default_rng(0)

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        rows = torch.from_numpy(x[idx]).float()  # the reference holds float32 features
        if method == "kcenter":
            return idx[reference_kcenter(rows, q, int(rng.integers(len(idx))))]
        return idx[reference_herding(rows, q)]

    with torch.no_grad():
        return select_by_group(labels, fraction, balanced, rule)


def run_case(args, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if args.impl == "ours":
        select, options = ((select_kcenter, KCenterOptions) if args.method == "kcenter"
                           else (select_herding, HerdingOptions))
        return select(x, labels, args.fraction, np.random.default_rng(0),
                      options(class_balanced=args.balanced), device=args.device)
    return reference(args.method, x, labels, args.fraction, args.balanced)


def one_case(args) -> None:
    torch.set_num_threads(args.threads)
    x, labels = make_data(args.n, args.d, 10)
    run_case(args, x[:200], labels[:200])  # warm-up: torch's one-time allocations are not ours
    # Return freed heap to the OS, so reused free space does not hide an allocation.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = memory_kib("VmRSS")
    start = time.perf_counter()
    out = run_case(args, x, labels)
    seconds = time.perf_counter() - start
    peak = memory_kib("VmHWM") - before
    print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "n_selected": len(out),
                      "checksum": int(np.sum(out * 7919 % 1000003))}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "IMPL", "BALANCED", "FRACTION"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=512)
    args = parser.parse_args()
    if args.one:
        args.method, args.impl, balanced, fraction = args.one
        args.balanced, args.fraction = balanced == "1", float(fraction)
        return one_case(args)
    n = 5_000 if args.quick else args.n
    print(f"{n} x {args.d} float16, 10 classes, {args.threads} thread(s), device {args.device}; "
          f"the embeddings themselves take {n * args.d * 2 / 2**20:.0f} MiB")
    print(f"{'method':8} {'impl':15} {'balanced':8} {'fraction':8} {'seconds':>8} "
          f"{'peak MiB':>9}  same picks")
    cases = [(m, b, f) for m in ("kcenter", "herding") for b in (True, False) for f in FRACTIONS
             if b or f == FRACTIONS[0]]  # one pool only at the smallest fraction: it is slow
    for method, balanced, fraction in cases:
        results = {}
        # reference-style k-center over one 50,000 pool would hold a 5,000 x 50,000 matrix
        impls = ["ours"] + (["reference-style"] if fraction == FRACTIONS[0]
                            and (balanced or args.quick) else [])
        for impl in impls:
            cmd = [sys.executable, __file__, "--one", method, impl, str(int(balanced)),
                   str(fraction), "--n", str(n), "--d", str(args.d), "--threads",
                   str(args.threads), "--device", args.device]
            results[impl] = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                                      text=True).stdout.splitlines()[-1])
            r = results[impl]
            same = "" if impl == "ours" else str(r["checksum"] == results["ours"]["checksum"])
            print(f"{method:8} {impl:15} {str(balanced):8} {fraction:<8} {r['seconds']:8.2f} "
                  f"{r['peak_mib']:9.1f}  {same}", flush=True)


if __name__ == "__main__":
    main()
