"""Work x throughput -> predicted seconds per job, per rule and in total.

A training job's seconds: its training examples at the training speed, its evaluated, selection
forwarded and selection back-propagated examples (a backward priced as two forwards, as the
report's selection efficiency prices them) at the evaluation speed, its set-up, and a dynamic
method's measured seconds per selection on top of its passes where the throughput has them. A
proxy's: training, evaluation and its scoring passes likewise, GraNd's per-example gradients at
their own speed. A job without model passes costs its rule's seconds (finished jobs' median,
else `throughput.SMALL_JOB_SECONDS`). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from .throughput import SMALL_JOB_SECONDS, Throughput
from .work import JobWork

BACKWARD_PRICE = 2.0  # a backward example costs two forward ones (report/read/efficiency.py)
RULE_ORDER = ("prepare_dataset", "prepare_noisy_dataset", "train_proxy", "score_proxy",
              "mean_scores", "select_subset", "train", "aggregate", "report")


@dataclass(frozen=True)
class Prediction:
    job: JobWork
    seconds: float | None  # None: no throughput for the job's (dataset, model) on this device


def model_seconds(job: JobWork, rate: Throughput, method: str = "") -> float:
    """Seconds of a training or proxy job's counted work at `rate`, set-up included."""
    forwards = (job.eval_examples + job.selection_forward + job.scoring_forward
                + BACKWARD_PRICE * job.selection_backward)
    seconds = (job.train_examples / rate.train_per_s + forwards / rate.eval_per_s
               + rate.job_overhead_s)
    if job.scoring_gradients:
        seconds += job.scoring_gradients / max(rate.gradients_per_s, 1e-9)
    return seconds + job.selections * rate.selection_s.get(method, 0.0)


def job_method(job: JobWork) -> str:
    """The method a training job runs, from its name dataset/method/f.../seed...; "" else."""
    return job.name.split("/")[1] if job.rule == "train" else ""


def predict(jobs: list[JobWork], rates: dict[tuple[str, str], Throughput | None],
            small_seconds: dict[str, float] | None = None,
            base_methods: dict[str, str] | None = None) -> list[Prediction]:
    """A prediction per job; `rates` maps (dataset, model) to its throughput (or None),
    `base_methods` a variant's name to the registered method its selection seconds are of."""
    small = {**SMALL_JOB_SECONDS, **(small_seconds or {})}
    base_methods = base_methods or {}
    out = []
    for job in jobs:
        if job.rule in small:
            out.append(Prediction(job, small[job.rule]))
            continue
        rate = rates.get((job.dataset, job.model))
        method = base_methods.get(job_method(job), job_method(job))
        out.append(Prediction(job, None if rate is None else model_seconds(job, rate, method)))
    return out


@dataclass(frozen=True)
class RuleTotal:
    rule: str
    jobs: int
    seconds: float  # of the priced jobs
    unpriced: int  # jobs without a throughput
    estimated: int  # jobs whose counts are estimates (CREST, InfoBatch)


def rule_totals(predictions: list[Prediction]) -> list[RuleTotal]:
    totals = []
    for rule in RULE_ORDER:
        mine = [p for p in predictions if p.job.rule == rule]
        if mine:
            totals.append(RuleTotal(rule, len(mine), sum(p.seconds or 0.0 for p in mine),
                                    sum(p.seconds is None for p in mine),
                                    sum(not p.job.exact for p in mine)))
    return totals


def largest(predictions: list[Prediction], count: int = 5) -> list[Prediction]:
    priced = [p for p in predictions if p.seconds is not None]
    return sorted(priced, key=lambda p: -p.seconds)[:count]
