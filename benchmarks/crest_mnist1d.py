"""CREST as its reference code runs it, each ablation, and the baselines on MNIST-1D, side by side.

    python benchmarks/crest_mnist1d.py                    # budgets 0.1 and 0.3, seeds 0-2
    python benchmarks/crest_mnist1d.py --quick            # one seed, 5 epochs (a smoke run)
    python benchmarks/crest_mnist1d.py --variants crest crest_fixed --json out.json
    python benchmarks/crest_mnist1d.py --dataset digits --subset-size 120   # the other set

Training settings come from config.yaml's mnist1d block (what `make run` trains); CREST's
options are built here, as CrestOptions overrides, so the table does not follow config.yaml's
crest block. Every CREST row uses the same r (`--subset-size`, default 500: 50 per class, the
per-class count of CIFAR-10's r = 1% of 50,000, so facility location picks 13 of 50 per class
as it does there). Rows:
- crest: the reference mechanism (AdaHessian moments fitted in train mode on augmented batches,
  warm-up epoch at lr 0, adaptive check interval and m); then one reference behaviour changed
  per row: curvature_mode eval, warmup_lr schedule, curvature hutchinson, adaptive false
  (a fixed interval of 10, m 5), train_batches per_coreset, similarity exp_euclidean (the
  reference's facility-location kernel, submodlib's exp(-d / dim));
- crest_fixed: our earlier engineered mechanism (hutchinson, eval mode, interval 10, m 4, one
  coreset per step, warm-up at the schedule's lr);
- crest / random_epoch at 2x lr: the reference's doubled gradient trains CREST at twice the
  learning rate while its random baseline keeps 1x (docs/methods.md, CREST faults 1).
Accuracy is last-epoch test accuracy, mean ± std over seeds. Selection share is the run's
selection time over its measured phases (selection + training + evaluation, wall clock).
Speedup is `full`'s CPU seconds over the row's (the process's user + system time over the run,
one thread): on a shared machine wall time swings with the other jobs, CPU time much less.
Checks failed is the share of quadratic checks that triggered a selection; the check interval
is the mean over selections of the interval the rule set; the curvature and interval
trajectories give the first / median / last selection (each the median over seeds).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import resource
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
import yaml

from prunebench.config import TrainSettings, load_schema, validate_config
from prunebench.data import prepare_dataset
from prunebench.jobspec import TrainSpec
from prunebench.ops import Ops
from prunebench.selection.dynamic.crest import CrestOptions
from prunebench.train.run import run_training

ROOT = Path(__file__).resolve().parents[1]

FIXED = {"adaptive": False, "check_interval": 10}
# name -> (method, CrestOptions overrides, lr multiplier)
VARIANTS = {
    "crest": ("crest", {}, 1.0),
    "crest curvature_mode=eval": ("crest", {"curvature_mode": "eval"}, 1.0),
    "crest warmup_lr=schedule": ("crest", {"warmup_lr": "schedule"}, 1.0),
    "crest curvature=hutchinson": ("crest", {"curvature": "hutchinson"}, 1.0),
    "crest adaptive=false": ("crest", FIXED, 1.0),
    "crest train_batches=per_coreset": ("crest", {"train_batches": "per_coreset"}, 1.0),
    "crest similarity=exp_euclidean": ("crest", {"similarity": "exp_euclidean"}, 1.0),
    "crest_fixed": ("crest", {**FIXED, "curvature": "hutchinson", "curvature_mode": "eval",
                              "num_subsets": 4, "warmup_lr": "schedule",
                              "train_batches": "per_coreset"}, 1.0),
    "crest 2x lr": ("crest", {}, 2.0),
    "random_epoch": ("random_epoch", {}, 1.0),
    "random_epoch 2x lr": ("random_epoch", {}, 2.0),
}


def quickstart_training(dataset: str, epochs: int | None) -> tuple[dict, dict]:
    """config.yaml's training block for `dataset` (defaults filled) and its data options."""
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()),
                             load_schema(ROOT / "workflow/schemas/config.schema.yaml"))
    section = config["datasets"][dataset]
    training = {k: v for k, v in section.items() if k != "options"}
    if epochs:
        training["epochs"] = epochs
    return training, section.get("options", {})


def run_one(data_dir, out_dir, training, method, options, lr_mul, fraction, seed,
            threads, dataset: str = "mnist1d") -> dict:
    job = TrainSpec(
        dataset=dataset, protocol="budget",
        training=TrainSettings.from_dataset_config({**training, "lr": training["lr"] * lr_mul}),
        method=method, base_method=method,
        options=asdict(CrestOptions(**options)) if method == "crest" else {},
        fraction=fraction, score=None)
    cpu_before = cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):  # per-epoch lines; the table is the output
        metrics = run_training(job, Ops(experiment="bench", device="cpu"), data_dir=data_dir,
                               seed=seed, out_dir=out_dir, threads=threads)
    cpu = cpu_seconds() - cpu_before
    time = metrics["time"]
    sampler = metrics["sampler"]
    row = {"acc": metrics["test_acc"], "selection": time["selection"], "cpu": cpu,
           "wall": time["selection"] + time["training"] + time["evaluation"],
           "selections": sampler.get("selections", 0), "checks": sampler.get("checks", 0),
           "checks_failed": sampler.get("checks_failed", 0),
           "warmup_steps": sampler.get("warmup_steps", 0), "steps": metrics["steps"]}
    log = Path(out_dir) / "selections.csv"
    if method == "crest" and log.exists():
        table = pd.read_csv(log)
        row["curvature"] = table.curvature_norm.tolist()
        row["interval"] = table.check_interval.tolist()
        row["num_coresets"] = table.num_coresets.tolist()
    return row


def cpu_seconds() -> float:
    """CPU seconds this process has used (user + system): on a shared machine, unlike wall
    time, it barely moves when other jobs compete for the cores (one thread, no waits)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def trajectory(runs: list[list[float]], form: str) -> str:
    """first / median / last value over a run's selections, each the median over seeds."""
    runs = [r for r in runs if r]
    if not runs:
        return "–"
    points = zip(*[(r[0], statistics.median(r), r[-1]) for r in runs], strict=True)
    return " / ".join(form.format(statistics.median(p)) for p in points)


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f}"


def print_table(results: dict, header_lines: list[str]) -> None:
    print("\n".join(header_lines))
    header = ("budget", "variant", "test acc % (mean ± std)", "checks failed",
              "mean check interval", "selections / run", "selection share", "cpu s",
              "speedup vs full", "curvature norm first / median / last",
              "interval first / median / last")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    full_cpu = statistics.mean(r["cpu"] for r in results["full|1.0"])
    for key, rows in sorted(results.items(), key=lambda item: float(item[0].split("|")[1])):
        name, fraction = key.split("|")
        wall = statistics.mean(r["wall"] for r in rows)
        cpu = statistics.mean(r["cpu"] for r in rows)
        selection = statistics.mean(r["selection"] for r in rows)
        checks = sum(r["checks"] for r in rows)
        failed = f"{sum(r['checks_failed'] for r in rows) / checks:.0%}" if checks else "–"
        intervals = [i for r in rows for i in r.get("interval", [])]
        cells = (fraction, name, mean_std([r["acc"] for r in rows]), failed,
                 f"{statistics.mean(intervals):.2f}" if intervals else "–",
                 f"{statistics.mean(r['selections'] for r in rows):.1f}",
                 f"{selection / wall:.1%}", f"{cpu:.1f}", f"{full_cpu / cpu:.2f}x",
                 trajectory([r.get("curvature") for r in rows], "{:.3g}"),
                 trajectory([r.get("interval") for r in rows], "{:g}"))
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument("--subset-size", type=float, default=500, help="CREST's r for every row")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--dataset", default="mnist1d", choices=("mnist1d", "digits"),
                        help="a quickstart dataset (its config.yaml training block)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    parser.add_argument("--quick", action="store_true", help="1 seed, 5 epochs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs = 1, 5
    training, data_options = quickstart_training(args.dataset, args.epochs)
    seeds = list(range(args.seeds))
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / args.dataset
        prepare_dataset(args.dataset, data_options, data_dir)
        # seed-major, so that a change in the machine's load falls on every row alike
        jobs = [("full", 1.0)] + [(v, b) for b in args.budgets for v in args.variants]
        for seed in seeds:
            for name, fraction in jobs:
                method, overrides, lr_mul = VARIANTS.get(name, ("full", {}, 1.0))
                options = {"subset_size": args.subset_size, **overrides}
                out = Path(tmp) / f"{name}-{fraction}-{seed}".replace(" ", "_")
                results.setdefault(f"{name}|{fraction}", []).append(run_one(
                    data_dir, out, training, method, options, lr_mul, fraction, seed,
                    args.threads, args.dataset))
                print(f"  done {name} f={fraction} seed {seed}", file=sys.stderr, flush=True)
                if args.json:  # after every run, so a long benchmark can be read as it goes
                    args.json.write_text(json.dumps(results, indent=1))
    print_table(results, [
        f"# CREST on {args.dataset} ({data_options.get('train_size', 'all')} train), "
        f"{training['epochs']} "
        f"epochs, batch {training['batch_size']}, lr {training['lr']}, seeds {seeds}, "
        f"{args.threads} thread(s), {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}",
        f"# every CREST row: r = {args.subset_size:g}; other options as the variant says "
        "(defaults: CrestOptions, the reference's)"])


if __name__ == "__main__":
    main()
