"""An experiment's cost: its jobs' work, the throughputs that price it, the predictions, and
(for jobs that already ran) the actual seconds. `prunebench plan` prints it and writes
results/<experiment>/plan.csv; the workflow's resource functions read the same predictions
from cached throughputs only (never calibrating while Snakemake parses). Torch-free: a missing
calibration is measured through `calibrate`, imported only then.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import UserError
from ..methods import base_method
from ..paths import plan_file
from ..plan import ExperimentPlan
from .actual import actual_seconds, finished_small_job_seconds
from .h100 import H100
from .predict import Prediction, predict
from .throughput import (
    DEVICES,
    SMALL_JOB_SECONDS,
    Throughput,
    cached_calibration,
    calibration_file,
)
from .work import JobWork, experiment_work, facts_of

Calibrator = Callable[..., Throughput]


@dataclass
class ExperimentCost:
    plan: ExperimentPlan
    device: str
    jobs: list[JobWork]
    predictions: list[Prediction]
    rates: dict[tuple[str, str], Throughput | None]
    unknown: list[str]  # datasets whose sizes are not known ahead (their jobs left out)

    def by_name(self) -> dict[tuple[str, str], Prediction]:
        """(rule, job name) -> its prediction."""
        return {(p.job.rule, p.job.name): p for p in self.predictions}


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise UserError(f"--device {device!r}; choose one of: {', '.join(DEVICES)}")
    return device


def throughputs(plan: ExperimentPlan, device: str, threads: int, root: Path,
                calibrator: Calibrator | None) -> dict[tuple[str, str], Throughput | None]:
    """(dataset, model) -> its throughput on `device`: a cached calibration, the H100 table
    (cuda), or (with a `calibrator`) a new calibration run, cached; None when none is had."""
    rates = {}
    gradients = any(s in ("grand", "grand_init") for s in plan.proxy["scores"])
    recipes = [(d, plan.training(d)) for d in plan.datasets]
    recipes += [(d, plan.proxy_spec(d, name).training) for name in plan.proxy_names()
                for d in plan.datasets]
    for dataset, settings in recipes:
        facts, key = facts_of(plan, dataset), (dataset, settings.model)
        if key in rates:
            continue
        if facts is None:
            rates[key] = None
            continue
        path = root / calibration_file(facts, settings, device, threads)
        rate = cached_calibration(path, device)
        if rate is None and device == "cuda":
            rate = H100.get((plan.loader(dataset), settings.model))
        if rate is None and calibrator is not None:
            try:
                rate = calibrator(facts, settings, device, threads,
                                  gradients=gradients and plan.needs_proxy())
            except UserError:  # e.g. --device cuda where no GPU is visible: leave it unpriced
                if device == "cpu":
                    raise
            else:
                write_text(path, rate.to_json())
        rates[key] = rate
    return rates


def experiment_cost(config: dict, device: str, *, threads: int = 1, root: Path = Path("."),
                    calibrator: Calibrator | None = None,
                    finished: bool = True) -> ExperimentCost:
    """The cost of a validated config on `device` (cpu or cuda); with `finished`, jobs without
    model passes are priced at their rule's finished jobs' median seconds."""
    plan = ExperimentPlan(config)
    device = check_device(device)
    jobs, unknown = experiment_work(plan)
    rates = throughputs(plan, device, threads, root, calibrator)
    small = finished_small_job_seconds(jobs, root, tuple(SMALL_JOB_SECONDS)) if finished else {}
    variants = {m: base_method(m, config) for m in config["methods"]}
    return ExperimentCost(plan, device, jobs, predict(jobs, rates, small, variants), rates,
                          unknown)


PLAN_COLUMNS = ("rule", "job", "dataset", "model", "exact", "predicted_s", "actual_s", "steps",
                "train_examples", "eval_examples", "selection_forward", "selection_backward",
                "scoring_forward", "scoring_gradients", "device", "throughput")


def plan_rows(cost: ExperimentCost, root: Path) -> list[dict]:
    """One row per job: its counts, prediction and (when it ran) actual seconds."""
    rows = []
    for p in cost.predictions:
        job, rate = p.job, cost.rates.get((p.job.dataset, p.job.model))
        actual = actual_seconds(job, root)
        rows.append({
            "rule": job.rule, "job": job.name, "dataset": job.dataset, "model": job.model,
            "exact": job.exact, "predicted_s": "" if p.seconds is None else round(p.seconds, 3),
            "actual_s": "" if actual is None else round(actual, 3), "steps": job.steps,
            "train_examples": job.train_examples, "eval_examples": job.eval_examples,
            "selection_forward": job.selection_forward,
            "selection_backward": job.selection_backward,
            "scoring_forward": job.scoring_forward, "scoring_gradients": job.scoring_gradients,
            "device": cost.device,
            "throughput": "" if rate is None or job.rule not in ("train", "train_proxy")
            else f"{rate.hardware}; {rate.source}"})
    return rows


def write_plan_csv(cost: ExperimentCost, root: Path) -> Path:
    """results/<experiment>/plan.csv, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PLAN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(plan_rows(cost, root))
    path = root / plan_file(cost.plan.experiment)
    write_text(path, buffer.getvalue())
    return path
