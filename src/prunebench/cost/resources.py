"""Slurm's requests per job from the plan: `runtime` (minutes) and `mem_mb`, each with a stated
safety factor that grows with Snakemake's `attempt`, so a small job asks for minutes, a large
one for what it needs, and a job killed at its limit comes back with a longer one.

    runtime = ceil(max(predicted seconds, STARTUP_S) x SAFETY x GROWTH^(attempt - 1) / 60)
    mem_mb  = ceil((BASE_MB + HELD_COPIES x data MB) x MEMORY_GROWTH^(attempt - 1))

A job without a prediction (no cached throughput for its dataset and model on the device:
run `prunebench plan` first) asks for its rule's FALLBACK_MINUTES. Torch-free; the workflow's
resource functions (workflow/rules/common.smk) call these.
"""

from __future__ import annotations

import math

from .facts import DatasetFacts

SAFETY = 2.0  # the first attempt asks for twice the prediction
GROWTH = 2.0  # each retry doubles the limit again
# a job on a node starts Snakemake's job step, Python and torch and reads its data: 46 s for a
# seconds-long job on the loaded 2-core test cluster, so no job asks for less than 2 minutes
STARTUP_S = 60.0
FALLBACK_MINUTES = {"train": 240, "train_proxy": 120}
BASE_MB = 2_000  # the Python process with torch loaded (and a CUDA context)
HELD_COPIES = 3  # the data in memory: the memory-mapped file, its tensor, a batch's copies
MEMORY_GROWTH = 1.5


def runtime_minutes(predicted_s: float | None, attempt: int, rule: str) -> int:
    """Slurm's time limit for a job (sbatch -t, minutes) at this attempt (1, 2, ...)."""
    if predicted_s is None:
        return FALLBACK_MINUTES[rule] * int(GROWTH ** (attempt - 1))
    seconds = max(predicted_s, STARTUP_S) * SAFETY * GROWTH ** (attempt - 1)
    return math.ceil(seconds / 60)


def memory_mb(facts: DatasetFacts | None, attempt: int) -> int:
    """Slurm's memory request for a training or proxy job (sbatch --mem, MB)."""
    data_mb = 0.0 if facts is None else (
        (facts.n_train + facts.n_test) * facts.input_bytes / 1e6)
    return math.ceil((BASE_MB + HELD_COPIES * data_mb) * MEMORY_GROWTH ** (attempt - 1))
