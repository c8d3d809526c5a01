"""Where CREST's time goes on MNIST-1D: the share of wall time in each selection sub-phase.

    python benchmarks/selection_overhead.py                 # budgets 0.1 and 0.3, seed 0
    python benchmarks/selection_overhead.py --budgets 0.1 --seeds 3 --variants crest

Training settings come from config.yaml's mnist1d block; CREST's options are the variants of
crest_mnist1d.py (default: the reference mechanism `crest` and our engineered `crest_fixed`),
with the same r (`--subset-size`). Wall time is the sum of the run's measured phases
(selection + training + evaluation); each sub-phase is what the sampler's timers recorded with
the device synchronised: the random subsets' forward pass (`proxy`), facility location, the
quadratic model's fit (`hessian`: gradients and Hessian-vector products over the coresets),
the checks and the learned-example rule (`drop`). Runs on the GPU when there is one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from crest_mnist1d import VARIANTS, quickstart_training

from prunebench.config import TrainSettings
from prunebench.data import prepare_dataset
from prunebench.jobspec import TrainSpec
from prunebench.ops import Ops
from prunebench.selection.dynamic.crest import CrestOptions
from prunebench.train.run import run_training

PARTS = ("proxy", "facility_location", "hessian", "check", "drop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--subset-size", type=float, default=500)
    crest_rows = [v for v, (method, _, _) in VARIANTS.items() if method == "crest"]
    parser.add_argument("--variants", nargs="+", default=["crest", "crest_fixed"],
                        choices=crest_rows)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    training, data_options = quickstart_training("mnist1d", None)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "mnist1d"
        prepare_dataset("mnist1d", data_options, data_dir)
        for variant in args.variants:
            _, overrides, lr_mul = VARIANTS[variant]
            options = asdict(CrestOptions(**{"subset_size": args.subset_size, **overrides}))
            for budget in args.budgets:
                shares: dict[str, list[float]] = {}
                for seed in range(args.seeds):
                    job = TrainSpec(
                        dataset="mnist1d", protocol="budget",
                        training=TrainSettings.from_dataset_config(
                            {**training, "lr": training["lr"] * lr_mul}),
                        method="crest", base_method="crest", options=options, fraction=budget,
                        score=None)
                    ops = Ops(experiment="bench", device=device)
                    with contextlib.redirect_stdout(io.StringIO()):
                        metrics = run_training(job, ops, data_dir=data_dir, seed=seed,
                                               out_dir=Path(tmp) / f"{budget}-{seed}",
                                               threads=args.threads)
                    t = metrics["time"]
                    wall = t["selection"] + t["training"] + t["evaluation"]
                    values = {"selection": t["selection"] / wall,
                              "training": t["training"] / wall,
                              "evaluation": t["evaluation"] / wall, "wall_s": wall,
                              "selections": metrics["sampler"]["selections"],
                              "checks": metrics["sampler"]["checks"]}
                    values.update({p: t.get(f"selection/{p}", 0.0) / wall for p in PARTS})
                    for key, value in values.items():
                        shares.setdefault(key, []).append(value)
                rows.append((variant, budget, {k: statistics.mean(v) for k, v in shares.items()}))
    print(f"# CREST selection overhead on MNIST-1D ({data_options['train_size']} train), "
          f"{training['epochs']} epochs, batch {training['batch_size']}, r={args.subset_size:g}, "
          f"{device}, {args.threads} thread(s), {args.seeds} seed(s)")
    header = ["variant", "budget", "wall s", "selections", "checks", "selection", *PARTS,
              "training", "evaluation"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for variant, budget, m in rows:
        cells = [variant, f"{budget:g}", f"{m['wall_s']:.2f}", f"{m['selections']:.0f}",
                 f"{m['checks']:.0f}", f"{m['selection']:.1%}",
                 *(f"{m[p]:.1%}" for p in PARTS), f"{m['training']:.1%}",
                 f"{m['evaluation']:.1%}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
