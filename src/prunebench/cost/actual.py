"""What finished jobs took and counted, to set beside the prediction: a training or proxy job's
own wall time and counts (its metrics.json), any other job's wall time as Snakemake's benchmark
TSV measured it. Torch-free."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

from .work import JobWork


def recorded_metrics(job: JobWork, root: Path) -> dict | None:
    path = root / job.output
    if job.rule not in ("train", "train_proxy") or not path.exists():
        return None
    return json.loads(path.read_text())


def recorded_counts(metrics: dict, names) -> dict[str, int]:
    """The named counts of a finished run (top level, or under `counts`)."""
    counts = metrics.get("counts") or {}
    return {name: counts.get(name, metrics.get(name)) for name in names}


def benchmark_seconds(path: Path) -> float | None:
    """The `s` column of a Snakemake benchmark TSV (its first row)."""
    if not path.exists():
        return None
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return float(rows[0]["s"]) if rows else None


def actual_seconds(job: JobWork, root: Path) -> float | None:
    """A finished job's seconds: a run's own total (metrics.json wall_time_s), else Snakemake's
    benchmark; None when the job has not run."""
    metrics = recorded_metrics(job, root)
    if metrics is not None:
        return float(metrics["wall_time_s"])
    return benchmark_seconds(root / job.benchmark) if job.benchmark else None


def finished_small_job_seconds(jobs: list[JobWork], root: Path,
                               rules: tuple[str, ...]) -> dict[str, float]:
    """rule -> the median benchmark seconds of its finished jobs, for the rules given."""
    out = {}
    for rule in rules:
        seconds = [s for j in jobs if j.rule == rule
                   if (s := benchmark_seconds(root / j.benchmark)) is not None]
        if seconds:
            out[rule] = statistics.median(seconds)
    return out
