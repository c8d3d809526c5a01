"""How close each dynamic method's selection comes to its work limit: seconds per selection
against the passes over the data the method needs by definition, priced at the run's own speed.

    python benchmarks/selection_limits.py                   # MNIST-1D runs, CIFAR-10 kernels
    python benchmarks/selection_limits.py --quick           # 2 epochs, 10,000-row kernels
    python benchmarks/selection_limits.py --device cuda --only kernels

Part 1 (`runs`): real short trainings of craig, gradmatch, glister and crest on MNIST-1D
(10,000 training signals, config.yaml's mnist1d training block, f = `--fraction`). Per method:
selections, the work per selection (forward + backward examples the method needs, from
metrics.json's counts), its price (forward + 2 x backward examples, times the run's evaluation
seconds per example), seconds per selection, the part of them spent in the method's own passes
(its proxy / gradient phase) and the ratio seconds / priced work (= report.efficiency's
selection efficiency; 1.0 is the limit). CREST's work varies between selections; its row shows
the mean.

Part 2 (`kernels`): the selection algorithms alone on CIFAR-10-shaped random inputs (50,000
examples, ResNet-20's last layer: 64-d features, 10 classes, f = 0.1): per-class loops
(`greedy_facility_location` at its default chunk, whose 5,000-point classes then take the torch
lazy greedy; the torch OMP; the one-pick-at-a-time GLISTER) against what the samplers run
(craig_select, gradmatch_select_per_class / gradmatch_select_batches, glister_greedy; on a CPU
the compiled loops), seconds, speedup, whether the picks agree and the largest relative
difference of the weights (OMP's are float64 solves of ill-conditioned ridge systems, so
different summation orders move them in the last digits at 500 picks a class).

Times on a shared machine are only comparable within one run of this script. Writes
benchmarks/out/selection_limits_runs.csv and selection_limits_kernels.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import synchronize
from crest_mnist1d import quickstart_training

from prunebench.data import prepare_dataset
from prunebench.jobspec import TrainSettings, TrainSpec
from prunebench.ops import Ops
from prunebench.report.read.efficiency import (
    evaluated_examples,
    priced_work,
    selection_efficiency,
    selection_seconds,
)
from prunebench.selection.dynamic.last_layer import batch_mean_gradients
from prunebench.selection.kernels.facility_location import craig_select, greedy_facility_location
from prunebench.selection.kernels.glister import glister_greedy
from prunebench.selection.kernels.glister.reference import stochastic_greedy
from prunebench.selection.kernels.omp import gradmatch_select_batches, gradmatch_select_per_class
from prunebench.selection.kernels.omp.gradmatch import fill_at_random
from prunebench.selection.kernels.omp.reference import (
    DenseAtoms,
    LastLayerGradients,
    nonnegative_omp,
)
from prunebench.selection.quotas import class_quotas
from prunebench.train.run import run_training

OUT = Path(__file__).resolve().parent / "out"
METHODS = ("craig", "gradmatch", "glister", "crest")
# each method's phase that is its passes over the data (the rest is its algorithm)
PASS_PHASES = {"craig": ("proxy",), "gradmatch": ("gradients",), "glister": ("proxy",),
               "crest": ("proxy", "hessian")}


def run_methods(args) -> list[dict]:
    training, data_options = quickstart_training("mnist1d", args.epochs)
    data_options = {**data_options, "train_size": 10000}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "mnist1d"
        prepare_dataset("mnist1d", data_options, data_dir)
        for method in args.methods:
            options = {"subset_size": 500} if method == "crest" else {}
            job = TrainSpec(dataset="mnist1d", protocol="budget",
                            training=TrainSettings.from_dataset_config(training),
                            method=method, base_method=method, options=options,
                            fraction=args.fraction, score=None)
            ops = Ops(experiment="bench", device=args.device)
            with contextlib.redirect_stdout(io.StringIO()):
                m = run_training(job, ops, data_dir=data_dir, seed=0,
                                 out_dir=Path(tmp) / method, threads=args.threads)
            rows.append(summarise(method, m, data_options["test_size"]))
    return rows


def summarise(method: str, m: dict, n_test: int) -> dict:
    """One run's per-selection row, priced as the report prices it (report/read/efficiency.py)."""
    t, counts = m["time"], m["counts"]
    m = {**m, "n_test": n_test}
    per = max(int(m["sampler"].get("selections") or 0), 1)
    evaluated = evaluated_examples(m)
    priced = priced_work(m)
    seconds = selection_seconds(m)
    passes = sum(t.get(f"selection/{p}", 0.0) for p in PASS_PHASES[method])
    return {"method": method, "selections": int(m["sampler"].get("selections") or 0),
            "forward_per_selection": counts["selection_forward_examples"] / per,
            "backward_per_selection": counts["selection_backward_examples"] / per,
            "eval_us_per_example": 1e6 * t["evaluation"] / evaluated if evaluated else math.nan,
            "priced_s": priced / per if priced else math.nan, "seconds": seconds / per,
            "passes_s": passes / per, "algorithm_s": (seconds - passes) / per,
            "ratio": selection_efficiency(m) or math.nan,
            "selection_share": t["selection"] / (t["selection"] + t["training"]
                                                + t["evaluation"])}


def timed(device: torch.device, fn):
    synchronize(device)
    started = time.perf_counter()
    result = fn()
    synchronize(device)
    return result, time.perf_counter() - started


def cifar_shaped(n: int, classes: int, dim: int, device: torch.device, seed: int = 0):
    """Error vectors softmax(z) - onehot(y) and ReLU features of a part-trained 10-class head."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=gen)
    logits = 2.0 * torch.randn(n, classes, generator=gen)
    logits[torch.arange(n), labels] += 2.0
    errors = torch.softmax(logits, 1) - torch.nn.functional.one_hot(labels, classes).float()
    features = torch.relu(torch.randn(n, dim, generator=gen))
    return errors.to(device), features.to(device), labels.to(device), logits.to(device)


def craig_loop(proxies, labels, quotas):
    labels_np = labels.cpu().numpy()
    parts, weights = [], []
    for label, quota in quotas.items():
        if quota:
            members = torch.from_numpy(np.flatnonzero(labels_np == label)).to(proxies.device)
            chosen, counts = greedy_facility_location(proxies[members], quota)
            parts.append(members[chosen])
            weights.append(counts.float())
    return torch.cat(parts), torch.cat(weights)


def gradmatch_loop(errors, features, labels, quotas, generator):
    """One torch OMP per class, in the precision the sampler's solver uses on this device
    (a CPU's compiled one is float64, a GPU's batched one float32)."""
    if errors.device.type == "cpu":
        errors, features = errors.double(), features.double()
    labels_np = labels.cpu().numpy()
    parts, weights = [], []
    for label, quota in quotas.items():
        if quota:
            members = torch.from_numpy(np.flatnonzero(labels_np == label))
            on = members.to(errors.device)
            result = nonnegative_omp(LastLayerGradients(errors[on], features[on]), quota, 0.5,
                                     1e-100)
            picked, w, _ = fill_at_random(result.indices.cpu(), result.weights.cpu(),
                                          len(members), quota, generator)
            parts.append(members[picked])
            weights.append(w)
    return torch.cat(parts), torch.cat(weights).float()


def gradmatch_pb_loop(rows, batches, n_budget, batch_size, generator):
    wanted = min(len(batches), math.ceil(n_budget / batch_size))
    result = nonnegative_omp(DenseAtoms(rows), wanted, 0.0, 1e-100)
    picked, w, _ = fill_at_random(result.indices.cpu(), result.weights.cpu(), len(batches),
                                  wanted, generator)
    members = [batches[int(i)] for i in picked]
    sizes = torch.tensor([len(x) for x in members])
    return torch.cat(members), torch.repeat_interleave(w, sizes).float()


def run_kernels(args) -> list[dict]:
    device = torch.device(args.device)
    n, classes, dim = args.kernel_n, 10, 64
    errors, features, labels, logits = cifar_shaped(n, classes, dim, device)
    k = round(args.fraction * n)
    quotas = class_quotas(labels.cpu().numpy(), k)
    rows = []

    def compare(method, old, new, same):
        (old_out, old_s), (new_out, new_s) = timed(device, old), timed(device, new)
        picks_equal, weight_diff = same(old_out, new_out)
        rows.append({"method": method, "n": n, "k": k, "old_s": old_s, "batched_s": new_s,
                     "speedup": old_s / new_s, "same_picks": picks_equal,
                     "max_weight_rel_diff": weight_diff})
        print(f"  {method}: old {old_s:.2f} s, batched {new_s:.2f} s", flush=True)

    def same_indices(a, b):
        """(indices equal, largest relative weight difference)"""
        old_w, new_w = a[1].cpu().double(), b[1].cpu().double()
        diff = float(((old_w - new_w).abs() / old_w.abs().clamp_min(1e-12)).max()) \
            if len(old_w) == len(new_w) and len(old_w) else math.nan
        return torch.equal(a[0].cpu(), b[0].cpu()), diff

    if "craig" in args.methods:
        compare("craig", lambda: craig_loop(errors, labels, quotas),
                lambda: craig_select(errors, labels, quotas), same_indices)
    if "gradmatch" in args.methods:
        compare("gradmatch",
                lambda: gradmatch_loop(errors, features, labels, quotas,
                                       torch.Generator().manual_seed(0)),
                lambda: gradmatch_select_per_class(errors, features, labels, quotas, 0.5,
                                                   1e-100, False,
                                                   torch.Generator().manual_seed(0)),
                lambda a, b: same_indices(a, (b.indices, b.weights)))
        batches = [b.to(device) for b in torch.randperm(n).split(128)]
        batch_rows = batch_mean_gradients(errors, features, batches)
        compare("gradmatch_pb",
                lambda: gradmatch_pb_loop(batch_rows, batches, k, 128,
                                          torch.Generator().manual_seed(0)),
                lambda: gradmatch_select_batches(batch_rows, batches, k, 128, 0.0, 1e-100,
                                                 torch.Generator().manual_seed(0)),
                lambda a, b: same_indices(a, (b.indices, b.weights)))
    if "glister" in args.methods:
        n_val = n // 10
        grads, val_logits, val_labels = errors[n_val:], logits[:n_val], labels[:n_val]
        compare("glister",
                lambda: stochastic_greedy(grads, val_logits, val_labels, k, 0.1, 0.01,
                                          np.random.default_rng(0)),
                lambda: glister_greedy(grads, val_logits, val_labels, k, 0.1, 0.01,
                                       np.random.default_rng(0)),
                lambda a, b: (torch.equal(a.cpu(), b.cpu()), 0.0))
    return rows


def print_table(title: str, rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """A markdown table: columns are (header, row key, format spec)."""
    print(f"\n# {title}")
    print("| " + " | ".join(header for header, _, _ in columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(format(row[key], spec) for _, key, spec in columns) + " |")


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--only", choices=("runs", "kernels"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--kernel-n", type=int, default=50000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 10,000-row kernels")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.kernel_n = 2, 10000
    torch.set_num_threads(args.threads)
    if args.only != "kernels":
        runs = run_methods(args)
        print_table(f"MNIST-1D 10,000, f = {args.fraction:g}, {args.epochs} epochs, "
                    f"{args.device}, {args.threads} thread(s): per selection", runs,
                    [("method", "method", ""), ("selections", "selections", "d"),
                     ("forward ex", "forward_per_selection", ".0f"),
                     ("backward ex", "backward_per_selection", ".0f"),
                     ("eval us/ex", "eval_us_per_example", ".1f"), ("priced s", "priced_s", ".3f"),
                     ("seconds", "seconds", ".3f"), ("passes s", "passes_s", ".3f"),
                     ("algorithm s", "algorithm_s", ".3f"), ("ratio", "ratio", ".2f"),
                     ("selection share", "selection_share", ".0%")])
        write_csv(OUT / "selection_limits_runs.csv", runs)
    if args.only != "runs":
        print(f"\n# kernels on CIFAR-10-shaped inputs ({args.kernel_n} x 64-d features, "
              f"10 classes), {args.device}", flush=True)
        kernels = run_kernels(args)
        print_table("old per-class loop vs batched kernel", kernels,
                    [("method", "method", ""), ("n", "n", "d"), ("k", "k", "d"),
                     ("old s", "old_s", ".3f"),
                     ("batched s", "batched_s", ".3f"), ("speedup", "speedup", ".2f"),
                     ("same picks", "same_picks", ""),
                     ("max weight rel diff", "max_weight_rel_diff", ".1e")])
        write_csv(OUT / "selection_limits_kernels.csv", kernels)


if __name__ == "__main__":
    main()
