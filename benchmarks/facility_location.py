"""Greedy facility location: ours (torch, chunked lazy greedy) against reference-style Python,
and CREST's many small problems batched against looped.

    python benchmarks/facility_location.py            # n = 500, 5,000, 20,000; d = 10, 100; k = 50
    python benchmarks/facility_location.py --quick    # n = 500, 2,000 (under a minute on a CPU)
    python benchmarks/facility_location.py --only batched   # the second table only

Every cell runs in a fresh subprocess on the same seeded Gaussian features, so the peak
memory it reports belongs to that call: the growth of the process's anonymous resident
memory (RssAnon, sampled every 2 ms) over its size just before the call; on a GPU, for
ours, the growth of torch.cuda.max_memory_allocated.
- ours: `greedy_facility_location(features, k)` (default chunk_size 4096), on the GPU when
  there is one.
- naive: the textbook greedy as the reference implementations write it: a dense n x n
  similarity matrix in numpy (float32 here, to halve its memory), then each step a Python
  loop over all candidates, gain = `np.maximum(best, S[c]).sum()` (CRAIG's `inc`). Where that
  would take minutes it runs `--naive-steps` steps and the time is extrapolated linearly to
  k steps (marked `~`); the matrix build is measured in full.
- lazy heap: the same matrix with a `heapq` lazy greedy (CRAIG's `lazy_greedy_heap`).
Times are seconds, single-threaded by default (`--threads`; the machine is shared, so ratios
measured in one run are what to read). `same` says whether the baseline chose the same medoids
(for a truncated naive run: its first steps); `obj` is its objective over ours (1 = equal).

The second table is CREST's selection: m random subsets of r examples, class-stratified, C
classes; features softmax(logits) - onehot(label) (d = C); one problem per (subset, class)
with k = ceil(128 / C) medoids. `looped`: `greedy_facility_location` per problem (what CREST's
`_coresets` does); `batched`: one `facility_location_by_group` call. Best of `--repeats` runs
each, in this process, on the GPU when there is one; `same`: identical picks and weights.
`equal` class quotas come from a balanced pool (CIFAR's, r/C per class); `mixed` from a pool
whose class sizes vary by up to 25% (as after CREST drops examples), so the problems have
several sizes, and problems of one size are what the batched call stacks (`shapes`).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import synchronize

from prunebench.selection.kernels.facility_location import (
    facility_location_by_group,
    greedy_facility_location,
)
from prunebench.selection.kernels.facility_location.reference import facility_location_objective
from prunebench.selection.quotas import class_quotas


def features(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed + 1000 * n + d))


class PeakAnonymousMemory:
    """Peak growth (MiB) of this process's anonymous resident memory (RssAnon), sampled.

    Anonymous pages are the arrays and tensors themselves; file-backed pages (libraries)
    are left out, so page-cache pressure from other processes cannot move the figure.
    """

    def __init__(self, interval: float = 0.002):
        self.interval, self.peak = interval, 0.0
        self.stop = threading.Event()

    def __enter__(self) -> PeakAnonymousMemory:
        self.base = rss_anon_mb()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_anon_mb() - self.base)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_anon_mb() - self.base)


def rss_anon_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return math.nan


def similarity_matrix(x: np.ndarray) -> np.ndarray:
    """The reference code's dense S = d_max - D (float32), built with numpy."""
    sq = (x * x).sum(axis=1)
    dist = x @ x.T  # in place from here on: one n x n buffer, as lean as it gets
    dist *= -2.0
    dist += sq[:, None]
    dist += sq[None, :]
    np.maximum(dist, 0.0, out=dist)
    np.sqrt(dist, out=dist)
    return np.subtract(dist.max(), dist, out=dist)


def naive_greedy(sim: np.ndarray, k: int) -> list[int]:
    best = np.zeros(len(sim), dtype=sim.dtype)
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(k):
        top_gain, top = -1.0, -1
        for c in range(len(sim)):
            if c in taken:
                continue
            gain = float(np.maximum(best, sim[c]).sum())
            if gain > top_gain:
                top_gain, top = gain, c
        chosen.append(top)
        taken.add(top)
        np.maximum(best, sim[top], out=best)
    return chosen


def lazy_heap_greedy(sim: np.ndarray, k: int) -> list[int]:
    best = np.zeros(len(sim), dtype=sim.dtype)
    total = 0.0
    heap = [(-float(np.maximum(best, sim[c]).sum()), c) for c in range(len(sim))]
    heapq.heapify(heap)
    chosen: list[int] = []
    while len(chosen) < k:
        _, c = heapq.heappop(heap)
        gain = float(np.maximum(best, sim[c]).sum()) - total
        if not heap or gain >= -heap[0][0]:
            chosen.append(c)
            np.maximum(best, sim[c], out=best)
            total += gain
        else:
            heapq.heappush(heap, (-gain, c))
    return chosen


def worker(args: argparse.Namespace) -> dict:
    """One measurement in this (fresh) process; prints a JSON line."""
    torch.set_num_threads(args.threads)
    x = features(args.n, args.d, args.seed)
    steps = min(args.k, args.steps) if args.steps else args.k
    if args.method == "ours":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        x = x.to(device)
        greedy_facility_location(x[:64], 5)  # first-call (lazy init) costs are not timed
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        with PeakAnonymousMemory() as memory:
            start = time.perf_counter()
            indices, _ = greedy_facility_location(x, args.k)
            chosen = indices.tolist()  # synchronises
            seconds, build = time.perf_counter() - start, 0.0
        peak = ((torch.cuda.max_memory_allocated() - base) / 2**20 if device.type == "cuda"
                else memory.peak)
    else:
        data = x.numpy()
        run = naive_greedy if args.method == "naive" else lazy_heap_greedy
        with PeakAnonymousMemory() as memory:
            start = time.perf_counter()
            sim = similarity_matrix(data)
            build = time.perf_counter() - start
            chosen = run(sim, steps)
            seconds = time.perf_counter() - start
        peak = memory.peak
        if steps < args.k:  # extrapolate the greedy steps, keep the measured build
            seconds = build + (seconds - build) * args.k / steps
    return {"seconds": seconds, "build": build, "peak_mb": peak, "chosen": chosen,
            "extrapolated": steps < args.k}


def measure(method: str, n: int, d: int, k: int, seed: int, threads: int, steps: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--worker", method, "--n", str(n), "--d", str(d),
           "--k", str(k), "--seed", str(seed), "--threads", str(threads), "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def crest_problems(m: int, classes: int, r: int, mixed: bool, seed: int,
                   device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One CREST selection's input: proxies (m x r rows, d = C) and groups subset * C + class."""
    gen = torch.Generator().manual_seed(seed + 7 * m + 11 * classes + r)
    spread = 0.75 + 0.5 * torch.rand(classes, generator=gen) if mixed else torch.ones(classes)
    pool_labels = torch.repeat_interleave(torch.arange(classes), (1000 * spread).long())
    quotas = class_quotas(pool_labels.numpy(), r)
    one_subset = torch.repeat_interleave(torch.arange(classes),
                                         torch.tensor([quotas[c] for c in range(classes)]))
    labels = torch.cat([one_subset[torch.randperm(r, generator=gen)] for _ in range(m)])
    subset = torch.arange(m).repeat_interleave(r)
    proxies = (torch.softmax(2.0 * torch.randn(m * r, classes, generator=gen), dim=1)
               - F.one_hot(labels, classes).float())
    return proxies.to(device), (subset * classes + labels).to(device)


def looped_by_group(x: torch.Tensor, groups: torch.Tensor, k: int):
    """The per-problem loop facility_location_by_group replaces (as CREST's _coresets runs it)."""
    indices, weights = [], []
    for g in torch.unique(groups).tolist():
        members = torch.nonzero(groups == g).flatten()
        chosen, counts = greedy_facility_location(x[members], k)
        indices.append(members[chosen])
        weights.append(counts)
    return torch.cat(indices), torch.cat(weights)


def best_of(device: torch.device, repeats: int, run, *args):
    """(fewest seconds over `repeats` timed calls of run(*args) after one untimed, a result)."""
    result, best = run(*args), math.inf
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        result = run(*args)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def batched_table(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    subsets = [5, 50] if args.quick else [5, 10, 20, 50]
    sizes = [500] if args.quick else [500, 5000]
    print(f"# CREST's facility location per selection, batched vs looped, device {device.type}, "
          f"{args.threads} thread(s), best of {args.repeats}")
    header = (f"{'m':>3} {'C':>4} {'r':>5} {'quotas':>6} {'n/problem':>9} {'k':>3} "
              f"{'problems':>8} {'shapes':>6} | {'looped s':>8} {'batched s':>9} {'x':>6} "
              f"{'same':>4}")
    print(header)
    print("-" * len(header))
    rows = [(m, c, r, False) for c in (10, 100) for r in sizes for m in subsets]
    rows += [(max(subsets), c, r, True) for c in (10, 100) for r in sizes]
    for m, classes, r, mixed in rows:
        x, groups = crest_problems(m, classes, r, mixed, args.seed, device)
        k = math.ceil(128 / classes)
        loop_s, expected = best_of(device, args.repeats, looped_by_group, x, groups, k)
        batch_s, result = best_of(device, args.repeats, facility_location_by_group, x, groups, k)
        same = all(torch.equal(a, b) for a, b in zip(result, expected, strict=True))
        counts = torch.unique(groups, return_counts=True)[1]
        low, high = int(counts.min()), int(counts.max())
        spread = str(low) if low == high else f"{low}-{high}"
        print(f"{m:>3} {classes:>4} {r:>5} {'mixed' if mixed else 'equal':>6} {spread:>9} "
              f"{k:>3} {len(counts):>8} {len(torch.unique(counts)):>6} | {loop_s:>8.4f} "
              f"{batch_s:>9.4f} {loop_s / batch_s:>5.1f}x {yes(same):>4}")
    print("x: looped seconds / batched. shapes: distinct problem sizes (one stacked batch "
          "chain each).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="n = 500 and 2,000 only; batched: m = 5, 50 and r = 500")
    parser.add_argument("--only", choices=["single", "batched"],
                        help="print one table (default: both)")
    parser.add_argument("--repeats", type=int, default=3, help="batched table: timed runs")
    parser.add_argument("--k", type=int, default=50, help="medoids to pick (default 50)")
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--sizes", type=int, nargs="+", help="override the n values")
    parser.add_argument("--naive-max-n", type=int, default=5000,
                        help="above this n the naive greedy runs --naive-steps steps only")
    parser.add_argument("--naive-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=["ours", "naive", "heap"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--d", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.method = args.worker
        print(json.dumps(worker(args)))
        return
    if args.only != "batched":
        single_table(args)
    if args.only is None:
        print()
    if args.only != "single":
        batched_table(args)


def single_table(args: argparse.Namespace) -> None:
    sizes = args.sizes or ([500, 2000] if args.quick else [500, 5000, 20000])
    device = "cuda (ours)" if torch.cuda.is_available() else "cpu"
    print(f"# facility location, k = {args.k}, Gaussian features, device {device}, "
          f"{args.threads} thread(s), fresh process per cell")
    header = (f"{'n':>6} {'d':>4} | {'ours s':>7} {'MB':>6} | {'naive s':>8} {'x':>6} "
              f"{'same':>4} | {'heap s':>7} {'x':>6} {'same':>4} {'obj':>8} | "
              f"{'S build s':>9} {'S MB':>6} {'n*n*4 MB':>8}")
    print(header)
    print("-" * len(header))
    for n in sizes:
        for d in args.dims:
            k = min(args.k, n)
            ours = measure("ours", n, d, k, args.seed, args.threads, 0)
            naive_steps = args.naive_steps if n > args.naive_max_n else 0
            naive = measure("naive", n, d, k, args.seed, args.threads, naive_steps)
            heap = measure("heap", n, d, k, args.seed, args.threads, 0)
            x = features(n, d, args.seed)
            d_max = 2.0 * float((x - x.mean(dim=0)).norm(dim=1).max())  # >= every distance
            ratio = (facility_location_objective(x, heap["chosen"], d_max)
                     / facility_location_objective(x, ours["chosen"], d_max))
            naive_same = naive["chosen"] == ours["chosen"][:len(naive["chosen"])]
            mark = "~" if naive["extrapolated"] else ""
            print(f"{n:>6} {d:>4} | {ours['seconds']:>7.2f} {ours['peak_mb']:>6.0f} | "
                  f"{mark + format(naive['seconds'], '.2f'):>8} "
                  f"{naive['seconds'] / ours['seconds']:>5.1f}x {yes(naive_same):>4} | "
                  f"{heap['seconds']:>7.2f} {heap['seconds'] / ours['seconds']:>5.1f}x "
                  f"{yes(heap['chosen'] == ours['chosen']):>4} {ratio:>8.6f} | "
                  f"{naive['build']:>9.2f} {heap['peak_mb']:>6.0f} {n * n * 4 / 2**20:>8.0f}")
    print("MB: peak memory growth of the call (ours; for the baselines `S MB`, measured on the "
          "lazy-heap run). x: baseline seconds / ours. ~: extrapolated from "
          f"{args.naive_steps} greedy steps (matrix build measured).")


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


if __name__ == "__main__":
    main()
