"""The workflow's view of the plan's cost: each training and proxy job's Slurm `runtime` and
`mem_mb` at an attempt, looked up by the job's wildcards. Built once per workflow parse from
cached throughputs only (nothing is calibrated while Snakemake parses: `prunebench plan` does
that). The device is the config's, and for `auto` the GPU where a GPU throughput is known for
the dataset (a cached GPU calibration or the H100 table), else the CPU. Torch-free.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from .planner import ExperimentCost, experiment_cost
from .resources import memory_mb, runtime_minutes
from .work import facts_of


def job_name(rule: str, wildcards: dict) -> str:
    """The name `cost.work` gives the job with these wildcards."""
    w = wildcards
    if rule == "train":
        return f"{w['dataset']}/{w['method']}/f{w['fraction']}/seed{w['seed']}"
    return f"{w['data']}/{w['model']}/seed{w['seed']}"


class JobCosts:
    def __init__(self, config: dict, root: Path = Path(".")):
        self.config, self.root = config, root

    def _cost(self, device: str) -> ExperimentCost:
        return experiment_cost(self.config, device, root=self.root)

    @cached_property
    def costs(self) -> dict[str, ExperimentCost]:
        return {device: self._cost(device) for device in ("cpu", "cuda")}

    @cached_property
    def predictions(self) -> dict[str, dict]:
        """device -> (rule, job name) -> its prediction."""
        return {device: cost.by_name() for device, cost in self.costs.items()}

    def device(self, dataset: str) -> str:
        asked = self.config.get("device", "auto")
        if asked in ("cpu", "cuda"):
            return asked
        cuda = self.costs["cuda"]
        priced = cuda.rates.get((dataset, cuda.plan.model(dataset))) is not None
        return "cuda" if priced else "cpu"

    def dataset_of(self, rule: str, wildcards: dict) -> str:
        if rule == "train":
            return wildcards["dataset"]
        plan = self.costs["cpu"].plan
        return next(d for d in plan.datasets if plan.data_key(d) == wildcards["data"])

    def predicted_seconds(self, rule: str, wildcards: dict) -> float | None:
        device = self.device(self.dataset_of(rule, wildcards))
        prediction = self.predictions[device].get((rule, job_name(rule, wildcards)))
        return None if prediction is None else prediction.seconds

    def runtime(self, rule: str, wildcards: dict, attempt: int) -> int:
        """Slurm's time limit (minutes) for the job at this attempt."""
        return runtime_minutes(self.predicted_seconds(rule, wildcards), attempt, rule)

    def mem_mb(self, rule: str, wildcards: dict, attempt: int) -> int:
        plan = self.costs["cpu"].plan
        return memory_mb(facts_of(plan, self.dataset_of(rule, wildcards)), attempt)
