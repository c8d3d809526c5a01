"""Where a whole workflow run's time goes: job start-up, training, evaluation, selection,
scoring, the small jobs, and Snakemake (scheduling and idle cores), from the files a finished
run leaves.

    python benchmarks/run_breakdown.py --workdir . --wall 480 [--cores 2]
    python benchmarks/run_breakdown.py --run [--config config.yaml] [--workdir /tmp/qs]

`--run` runs `snakemake --profile workflow/profiles/local --configfile CONFIG` in WORKDIR
(a fresh folder: every job runs) and times it; otherwise give the wall time of a run already
made there. Reads every job's Snakemake benchmark TSV (`s`: the job's wall time) and every
run's and proxy run's metrics.json (the phases measured inside the job). It does not depend on
the results layout (it globs), so it reads the trees of earlier versions too, which is how
before/after comparisons are made. Core-seconds: a 2-core machine has 2 x wall of them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INNER = ("training", "evaluation", "selection", "scoring")


def job_seconds(results: Path) -> dict[str, float]:
    """rule -> summed wall seconds of its jobs, from every benchmark TSV under results/."""
    totals: dict[str, float] = defaultdict(float)
    for tsv in results.rglob("*.tsv"):
        parts = tsv.relative_to(results).parts
        if "benchmarks" not in parts:
            continue
        rule = parts[parts.index("benchmarks") + 1].removesuffix(".tsv")
        with open(tsv) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        totals[rule] += sum(float(row["s"]) for row in rows)
    return dict(totals)


def inner_phases(results: Path) -> dict[str, dict[str, float]]:
    """{"train": phase seconds summed over runs, "train_proxy": ... over proxy runs}."""
    totals = {"train": defaultdict(float), "train_proxy": defaultdict(float)}
    for path in results.rglob("metrics.json"):
        metrics = json.loads(path.read_text())
        rule = "train" if "method" in metrics else "train_proxy"
        for phase in INNER:
            totals[rule][phase] += metrics.get("time", {}).get(phase, 0.0)
        totals[rule]["runs"] += 1
    return {rule: dict(values) for rule, values in totals.items()}


def breakdown(workdir: Path, wall: float, cores: int) -> list[tuple[str, float]]:
    results = workdir / "results"
    jobs, inner = job_seconds(results), inner_phases(results)
    rows = []
    for rule in ("train", "train_proxy"):
        measured = sum(inner.get(rule, {}).get(p, 0.0) for p in INNER)
        for phase in INNER:
            value = inner.get(rule, {}).get(phase, 0.0)
            if value:
                rows.append((f"{rule}: {phase}", value))
        rows.append((f"{rule}: start-up and set-up (job time - measured phases)",
                     jobs.get(rule, 0.0) - measured))
    for rule in sorted(set(jobs) - {"train", "train_proxy"}):
        rows.append((f"{rule} jobs", jobs[rule]))
    rows.append(("Snakemake and idle cores (cores x wall - job time)",
                 cores * wall - sum(jobs.values())))
    return rows


def run_workflow(config: str, workdir: Path) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    command = [str(bindir / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
               "--profile", str(ROOT / "workflow/profiles/local"), "--directory", str(workdir),
               "--configfile", str(Path(config).resolve()), "--quiet"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=workdir)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=".", help="the run's working directory")
    parser.add_argument("--wall", type=float, help="wall seconds of the run (without --run)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--run", action="store_true", help="run the workflow first, timed")
    parser.add_argument("--config", default=str(ROOT / "config.yaml"))
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    if args.run:
        wall = run_workflow(args.config, workdir)
    elif args.wall is None:
        parser.error("give --wall SECONDS for a run already made, or --run")
    else:
        wall = args.wall
    rows = breakdown(workdir, wall, args.cores)
    capacity = args.cores * wall
    print(f"| {workdir} | core-seconds | share of {args.cores} x wall |")
    print("| --- | --- | --- |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {100 * seconds / capacity:.1f}% |")
    print(f"| **wall time** | {wall:.1f} s | |")


if __name__ == "__main__":
    main()
