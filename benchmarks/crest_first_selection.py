"""Where CREST's first selection's extra time goes on a GPU (issue: ~9 s on an H100 against
0.3-0.6 s for each later one). One short CREST run (f = 0.1 of the grid's budget) is timed in
three settings, each in a fresh process so no cache carries over between them:

- `jobs`: as a training job runs (set_up_compute turns cudnn.benchmark on for GPUs);
- `no-autotune`: the same with cudnn.benchmark off, so cuDNN picks algorithms by heuristics;
- `warm`: two runs in one process, timing the second: every per-process one-time cost (CUDA
  context, cuBLAS/cuDNN handles, autotuned algorithms, lazily loaded kernels) already paid.

If `no-autotune`'s first selection is as fast as its later ones, autotuning new shapes is the
cost; if only `warm`'s is, it is a per-process one-time cost. Per setting: first selection s,
later median s, and the run's selection sub-phases (totals).

    python benchmarks/crest_first_selection.py --workdir benchmarks/out/gpu_dag-cifar10
    python benchmarks/crest_first_selection.py --workdir /tmp/gd --epochs 1   # CPU smoke run

`--workdir` is a finished `benchmarks/gpu_dag.py` folder (its prepared data and config).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from unittest import mock

SETTINGS = ("jobs", "no-autotune", "warm")


def run_once(workdir: Path, dataset: str, epochs: int, out: Path) -> dict:
    """One CREST training run of the gpu_dag grid's config; its selection timings."""
    from gpu_dag import SCHEMA, grid_config, selection_summary

    from prunebench.config import read_config_file
    from prunebench.plan import ExperimentPlan
    from prunebench.train.run import run_training

    config = read_config_file(str(grid_config(workdir, dataset)), str(SCHEMA))
    config["datasets"][dataset]["epochs"] = epochs
    plan = ExperimentPlan(config)
    job = plan.train_spec(dataset, "crest", 0.1)
    ops = plan.operations()  # uncompiled: selections run eager anyway, and no compile to wait on
    ops = replace(ops, wandb={"mode": "disabled"}, speed=replace(ops.speed, compile=False))
    metrics = run_training(job, ops, data_dir=workdir / plan.data_dir(dataset), seed=0,
                           out_dir=out)
    summary = selection_summary(out)
    return {"selections": summary["selections"], "first_s": summary["first_selection_s"],
            "later_median_s": summary["later_selection_median_s"],
            "selection_s": metrics["time"].get("selection"),
            "sub_phases": {k: round(v, 3) for k, v in metrics["time"].items() if "/" in k},
            "hardware": metrics["hardware"]}


def child(args) -> None:
    """One setting, in this (fresh) process; prints its JSON last."""
    import torch

    from prunebench.train import setup

    def no_autotune(device, threads):
        original(device, threads)
        torch.backends.cudnn.benchmark = False

    original = setup.set_up_compute
    patch = (mock.patch.object(setup, "set_up_compute", no_autotune)
             if args.child == "no-autotune" else contextlib.nullcontext())
    with patch, tempfile.TemporaryDirectory() as tmp:
        result = run_once(args.workdir, args.dataset, args.epochs, Path(tmp, "a"))
        if args.child == "warm":
            result = run_once(args.workdir, args.dataset, args.epochs, Path(tmp, "b"))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True,
                        help="a finished benchmarks/gpu_dag.py folder")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--epochs", type=int, default=2, help="full's epochs for the budget")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    if args.child:
        return child(args)
    rows = {}
    for setting in SETTINGS:
        done = subprocess.run([sys.executable, __file__, "--workdir", str(args.workdir),
                               "--dataset", args.dataset, "--epochs", str(args.epochs),
                               "--child", setting], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"setting {setting} failed:\n{done.stderr[-3000:]}")
        rows[setting] = json.loads(done.stdout.strip().splitlines()[-1])
    hardware = next(iter(rows.values()))["hardware"]
    print(f"CREST's selections, {args.dataset}, budget of {args.epochs} full epochs at f = 0.1, "
          f"on {hardware}:")
    print("| setting | selections | first s | later median s | selection s | sub-phases s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for setting, r in rows.items():
        later = "" if r["later_median_s"] is None else f"{r['later_median_s']:.3f}"
        first = "" if r["first_s"] is None else f"{r['first_s']:.3f}"
        subs = ", ".join(f"{k.split('/', 1)[1]} {v:.2f}" for k, v in r["sub_phases"].items())
        print(f"| {setting} | {r['selections']} | {first} | {later} | "
              f"{r['selection_s']:.2f} | {subs} |")
    (args.workdir / "crest_first_selection.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
