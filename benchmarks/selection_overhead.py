"""Where CREST's time goes on MNIST-1D: the share of wall time in each selection sub-phase.

    python benchmarks/selection_overhead.py                 # budgets 0.1 and 0.3, seed 0
    python benchmarks/selection_overhead.py --budgets 0.1 --seeds 3

Settings come from config.yaml (the quickstart's mnist1d block and its dynamic.crest block).
Wall time is the sum of the run's measured phases (selection + training + evaluation); each
sub-phase is what the sampler's timers recorded with the device synchronised: the random
subsets' forward pass (`proxy`), facility location, the Hutchinson Hessian and coreset
gradient (`hessian`), the quadratic checks and the drops. Runs on the GPU when there is one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
from pathlib import Path

import torch
import yaml

from prunebench.config import load_schema, validate_config
from prunebench.data import prepare_dataset
from prunebench.train.run import run_training

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("proxy", "facility_location", "hessian", "check", "drop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    config = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()),
                             load_schema(ROOT / "workflow/schemas/config.schema.yaml"))
    section = config["datasets"]["mnist1d"]
    training = {k: v for k, v in section.items() if k != "options"}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "mnist1d"
        prepare_dataset("mnist1d", section["options"], data_dir)
        for budget in args.budgets:
            shares: dict[str, list[float]] = {}
            for seed in range(args.seeds):
                spec = {"experiment": "bench", "dataset": "mnist1d", "device": device,
                        "protocol": "budget", "training": training,
                        "wandb": {"mode": "disabled"},
                        "sampler_options": config["dynamic"]["crest"]}
                with contextlib.redirect_stdout(io.StringIO()):
                    metrics = run_training(data_dir=data_dir, spec=spec, method="crest",
                                           fraction=budget, seed=seed,
                                           out_dir=Path(tmp) / f"{budget}-{seed}",
                                           threads=args.threads)
                t = metrics["time"]
                wall = t["selection"] + t["training"] + t["evaluation"]
                values = {"selection": t["selection"] / wall, "training": t["training"] / wall,
                          "evaluation": t["evaluation"] / wall, "wall_s": wall,
                          "selections": metrics["sampler"]["selections"],
                          "checks": metrics["sampler"]["checks"]}
                values.update({p: t.get(f"selection/{p}", 0.0) / wall for p in PARTS})
                for key, value in values.items():
                    shares.setdefault(key, []).append(value)
            rows.append((budget, {k: statistics.mean(v) for k, v in shares.items()}))
    crest = config["dynamic"]["crest"]
    print(f"# CREST selection overhead on MNIST-1D ({section['options']['train_size']} train), "
          f"{training['epochs']} epochs, batch {training['batch_size']}, r={crest['subset_size']}"
          f" m={crest['num_subsets']} tau={crest['tau']} check_interval={crest['check_interval']}"
          f", {device}, {args.threads} thread(s), {args.seeds} seed(s)")
    header = ["budget", "wall s", "selections", "checks", "selection", *PARTS, "training",
              "evaluation"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for budget, m in rows:
        cells = [f"{budget:g}", f"{m['wall_s']:.2f}", f"{m['selections']:.0f}",
                 f"{m['checks']:.0f}", f"{m['selection']:.1%}",
                 *(f"{m[p]:.1%}" for p in PARTS), f"{m['training']:.1%}",
                 f"{m['evaluation']:.1%}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
