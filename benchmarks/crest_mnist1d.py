"""CREST against `full` and `random_epoch` on MNIST-1D, measured side by side in one run.

    python benchmarks/crest_mnist1d.py            # budgets 0.1 and 0.3, seeds 0-2 (CPU: ~5 min)
    python benchmarks/crest_mnist1d.py --quick    # one seed, 5 epochs (a smoke run)

Training settings and CREST's options come from config.yaml (the quickstart's mnist1d block and
its dynamic.crest block), so the numbers match what `make run` trains. Accuracy is last-epoch
test accuracy, mean ± std over seeds. Wall time is the sum of the run's measured phases
(selection + training + evaluation; evaluation is the same for every method), selection share
is CREST's selection time (random subsets' forward, facility location, Hessian, checks, drops)
over that wall time, and speedup is `full` wall time / method wall time, selection included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from prunebench.config import load_schema, validate_config
from prunebench.data import prepare_dataset
from prunebench.train.run import run_training

ROOT = Path(__file__).resolve().parents[1]

METHODS = ("full", "random_epoch", "crest")


def quickstart(epochs: int | None) -> tuple[dict, dict, dict]:
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()),
                             load_schema(ROOT / "workflow/schemas/config.schema.yaml"))
    training = {k: v for k, v in config["datasets"]["mnist1d"].items() if k != "options"}
    if epochs:
        training["epochs"] = epochs
    return config, training, config["datasets"]["mnist1d"]["options"]


def run_one(data_dir, out_dir, config, training, method, fraction, seed, threads) -> dict:
    spec = {"experiment": "bench", "dataset": "mnist1d", "device": "cpu",
            "protocol": "budget", "training": training, "wandb": {"mode": "disabled"},
            "sampler_options": config["dynamic"]["crest"] if method == "crest" else {}}
    with contextlib.redirect_stdout(io.StringIO()):  # per-epoch lines; the table is the output
        metrics = run_training(data_dir=data_dir, spec=spec, method=method, fraction=fraction,
                               seed=seed, out_dir=out_dir, threads=threads)
    time = metrics["time"]
    wall = time["selection"] + time["training"] + time["evaluation"]
    return {"acc": metrics["test_acc"], "wall": wall, "selection": time["selection"],
            "selections": metrics["sampler"].get("selections", 0)}


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 seed, 5 epochs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs = 1, 5
    config, training, options = quickstart(args.epochs)
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "mnist1d"
        prepare_dataset("mnist1d", options, data_dir)
        results: dict[tuple[str, float], list[dict]] = {}
        jobs = [("full", 1.0)] + [(m, b) for b in args.budgets for m in METHODS[1:]]
        for method, fraction in jobs:
            for seed in seeds:
                out = Path(tmp) / f"{method}-{fraction}-{seed}"
                results.setdefault((method, fraction), []).append(run_one(
                    data_dir, out, config, training, method, fraction, seed, args.threads))
                print(f"  done {method} f={fraction} seed {seed}", file=sys.stderr)
    full_wall = statistics.mean(r["wall"] for r in results[("full", 1.0)])
    crest = config["dynamic"]["crest"]
    print(f"# CREST on MNIST-1D ({options['train_size']} train), {training['epochs']} epochs, "
          f"batch {training['batch_size']}, seeds {seeds}, {args.threads} thread(s), "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(f"# CREST r={crest['subset_size']} m={crest['num_subsets']} tau={crest['tau']} "
          f"check_interval={crest['check_interval']} drop={crest['drop']}")
    header = ("budget", "method", "test acc % (mean ± std)", "wall s", "selection s",
              "selection share", "selections", "speedup vs full")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for (method, fraction), rows in results.items():
        wall = statistics.mean(r["wall"] for r in rows)
        selection = statistics.mean(r["selection"] for r in rows)
        selections = statistics.mean(r["selections"] for r in rows)
        cells = (f"{fraction:g}", method, mean_std([r["acc"] for r in rows]), f"{wall:.2f}",
                 f"{selection:.2f}", f"{selection / wall:.1%}", f"{selections:.0f}",
                 f"{full_wall / wall:.2f}x")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
