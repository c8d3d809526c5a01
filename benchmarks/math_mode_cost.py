"""What the reproducible CPU math mode (speed.reproducible_math, prunebench.math_mode) costs:
quickstart training jobs run as the workflow runs them (`prunebench train`, fresh process, one
thread), native and reproducible in turn, `--reps` times each, so a shared machine's load falls
on both alike.

    python benchmarks/math_mode_cost.py [--reps 3] [--quick]

Prints, per job, the median wall seconds of each mode, their ratio, and whether each mode gave
the same accuracy on every repetition; then the ratio of the summed medians. The jobs are the
quickstart's (config.yaml) recipes: `full` on both datasets, `crest_fixed` and `random` at
f = 0.1 on MNIST-1D. `--quick`: 2 epochs each, one repetition (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOBS = [("digits", "full", 1.0), ("mnist1d", "full", 1.0), ("mnist1d", "crest_fixed", 0.1),
        ("mnist1d", "random_epoch", 0.1)]
MODES = {"native": False, "reproducible": True}


def job_command(plan, dataset, method, fraction, data_dir, out, reproducible, epochs):
    from prunebench.jobspec import TrainSpec

    spec = plan.train_spec(dataset, method, fraction)
    if epochs:
        values = spec.as_dict()
        values["training"]["epochs"] = epochs
        spec = TrainSpec.from_dict(values)
    ops = plan.operations()
    ops = replace(ops, device="cpu", speed=replace(ops.speed, reproducible_math=reproducible))
    return [sys.executable, "-m", "prunebench.cli", "train", "--data", str(data_dir), "--spec",
            spec.to_json(), "--ops", ops.to_json(), "--seed", "0", "--out", str(out),
            "--threads", "1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    reps, epochs = (1, 2) if args.quick else (args.reps, None)

    from prunebench.config import read_config_file
    from prunebench.plan import ExperimentPlan

    plan = ExperimentPlan(read_config_file(str(ROOT / "config.yaml"),
                                           str(ROOT / "workflow/schemas/config.schema.yaml")))
    env = {k: v for k, v in os.environ.items() if k != "PRUNEBENCH_SERVER"}
    env["OMP_NUM_THREADS"] = "1"
    seconds = {(job, mode): [] for job in JOBS for mode in MODES}
    accuracy = {(job, mode): set() for job in JOBS for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        data = {}
        for dataset in {job[0] for job in JOBS}:
            data[dataset] = Path(scratch, dataset)
            options = json.dumps(plan.datasets[dataset].get("options", {}))
            subprocess.run([sys.executable, "-m", "prunebench.cli", "prepare", "--dataset",
                            dataset, "--options", options, "--out", str(data[dataset])],
                           check=True, env=env, capture_output=True)
        for rep in range(reps):
            for job in JOBS:
                for mode, reproducible in MODES.items():
                    out = Path(scratch, f"{'-'.join(map(str, job))}-{mode}-{rep}")
                    started = time.perf_counter()
                    subprocess.run(job_command(plan, *job, data[job[0]], out, reproducible,
                                               epochs), check=True, env=env,
                                   capture_output=True)
                    seconds[job, mode].append(time.perf_counter() - started)
                    metrics = json.loads((out / "metrics.json").read_text())
                    accuracy[job, mode].add(metrics["test_acc"])
                    print(f"rep {rep} {job} {mode}: {seconds[job, mode][-1]:.1f} s, "
                          f"acc {metrics['test_acc']:.4f}, math {metrics['math']}",
                          file=sys.stderr)
    print("| job | native s | reproducible s | ratio | same accuracy every rep |")
    print("| --- | --- | --- | --- | --- |")
    totals = dict.fromkeys(MODES, 0.0)
    for job in JOBS:
        medians = {mode: statistics.median(seconds[job, mode]) for mode in MODES}
        for mode in MODES:
            totals[mode] += medians[mode]
        same = all(len(accuracy[job, mode]) == 1 for mode in MODES)
        print(f"| {job[0]} {job[1]} f={job[2]} | {medians['native']:.1f} | "
              f"{medians['reproducible']:.1f} | {medians['reproducible'] / medians['native']:.2f}"
              f" | {'yes' if same else 'no'} |")
    print(f"| total | {totals['native']:.1f} | {totals['reproducible']:.1f} | "
          f"{totals['reproducible'] / totals['native']:.2f} | |")


if __name__ == "__main__":
    main()
