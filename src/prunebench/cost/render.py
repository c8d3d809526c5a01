"""`prunebench plan`'s text: per rule and in total, the jobs and their predicted time (hours,
GPU-hours on a GPU), the largest jobs named, and where each throughput came from."""

from __future__ import annotations

from .planner import ExperimentCost
from .predict import largest, rule_totals

MODEL_RULES = ("train", "train_proxy")  # the jobs that take a GPU (the profiles' `gpu: 1`)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plan_text(cost: ExperimentCost, config_name: str) -> str:
    unit = "GPU-hours" if cost.device == "cuda" else "hours"
    lines = [f"{config_name}: experiment '{cost.plan.experiment}' on {cost.device}, one job at "
             "a time"]
    totals = rule_totals(cost.predictions)
    lines.append(f"  {'rule':<22}{'jobs':>6}  {'predicted':>12}  note")
    for t in totals:
        notes = []
        if t.unpriced:
            notes.append(f"{t.unpriced} not priced (no throughput)")
        if t.estimated:
            notes.append(f"{t.estimated} with estimated counts (CREST/InfoBatch)")
        lines.append(f"  {t.rule:<22}{t.jobs:>6}  {duration(t.seconds):>12}  "
                     f"{'; '.join(notes)}".rstrip())
    seconds = sum(t.seconds for t in totals)
    jobs = sum(t.jobs for t in totals)
    model_hours = sum(t.seconds for t in totals if t.rule in MODEL_RULES) / 3600
    lines.append(f"  {'total':<22}{jobs:>6}  {duration(seconds):>12}  "
                 f"({model_hours:.2f} {unit} in training and proxy jobs)")
    lines.append("  largest jobs:")
    lines += [f"    {duration(p.seconds):>9}  {p.job.rule} {p.job.name}"
              for p in largest(cost.predictions)]
    lines.append("  throughput (training / evaluation examples a second):")
    for (dataset, model), rate in cost.rates.items():
        if rate is None:
            lines.append(f"    {dataset} {model}: none on {cost.device} (counted, not priced)")
        else:
            lines.append(f"    {dataset} {model}: {rate.train_per_s:,.0f} / "
                         f"{rate.eval_per_s:,.0f} on {rate.hardware} ({rate.source})")
    if cost.unknown:
        lines.append(f"  left out (sizes not known ahead): {', '.join(cost.unknown)}")
    return "\n".join(lines)
