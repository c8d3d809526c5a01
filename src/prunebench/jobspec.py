"""A job's science (`JobSpec`): everything its numbers depend on, typed and frozen. Torch-free.

`prunebench.plan` builds one per job (`TrainSpec`, `ProxySpec`, `SelectSpec`), the workflow
passes it serialised (`to_json`) as the rule's only science param, so a change re-runs exactly
the jobs it affects, and the CLI parses it once (`from_json`) and hands it whole to the job
(`run_training`, `run_proxy`, `run_selection`), beside the job's `Ops` (`prunebench.ops`).
The serialised form is the dict of the fields (sorted keys); checkpoint fingerprints are taken
over it, so for the same science both stay what they were.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from .config import TrainSettings
from .errors import UserError
from .jsonflags import checked_object, json_object
from .methods import METHODS, Method


class JobSpec:
    """What the three job specs share: their serialised form and its checked parsing."""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def _parse(cls, values: dict) -> dict:
        """Field values from their serialised form (subclasses convert nested settings)."""
        return values

    @classmethod
    def from_dict(cls, values: dict, flag: str = "--spec"):
        names = [f.name for f in dataclasses.fields(cls)]
        checked_object(values, flag, required=names)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise UserError(f"{flag} has unknown key(s) {unknown}; a {cls.__name__} holds: "
                            f"{', '.join(names)}")
        return cls(**cls._parse(dict(values)))

    @classmethod
    def from_json(cls, text: str, flag: str = "--spec"):
        return cls.from_dict(json_object(text, flag), flag)


def _training(values: dict) -> TrainSettings:
    if not isinstance(values, dict):
        raise UserError("--spec training must be a JSON object of training settings")
    try:
        return TrainSettings.from_dataset_config(values)
    except TypeError as exc:
        raise UserError(f"--spec training is incomplete ({exc}); run jobs through snakemake, "
                        "which writes the full settings") from exc


def _method_entry(name: str) -> Method:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


@dataclass(frozen=True)
class TrainSpec(JobSpec):
    """One training run (`prunebench train`)."""

    dataset: str
    protocol: str  # budget | equal_steps
    training: TrainSettings
    method: str  # the run's name: a registered method or a variant
    base_method: str  # the registered method it runs
    options: dict  # that method's options, complete (schema defaults, then config, variant)
    fraction: float
    score: str | None  # the proxy array the run is charged: its score, "embeddings" or None

    @classmethod
    def _parse(cls, values: dict) -> dict:
        values["training"] = _training(values["training"])
        return values

    @property
    def method_entry(self) -> Method:
        """The registered method's METHODS entry (UserError for an unknown name)."""
        return _method_entry(self.base_method)


@dataclass(frozen=True)
class ProxySettings:
    """The proxy settings a proxy run's numbers depend on (config `proxy`, or a named proxy,
    without its seed count, its recipe keys, which are in the spec's `training`, and its
    operational keys)."""

    epochs: int
    score_epoch: int
    scores: tuple[str, ...]  # what the run computes while training: the workflow's is always
    # methods.TRAINED_SCORES (any other score comes from the run's saved states)

    @classmethod
    def from_dict(cls, values: dict) -> ProxySettings:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(values, dict) or set(values) != names:
            raise UserError(f"--spec proxy must hold exactly {', '.join(sorted(names))}; run "
                            "jobs through snakemake, which writes the full settings")
        return cls(values["epochs"], values["score_epoch"], tuple(values["scores"]))


@dataclass(frozen=True)
class ProxySpec(JobSpec):
    """One proxy run (`prunebench proxy`): full-data training that saves score arrays and
    model states; `training` is the proxy's recipe (the dataset's unless the proxy sets its
    own model or keys). `prunebench proxy-score` reads the same spec."""

    dataset: str
    training: TrainSettings
    proxy: ProxySettings

    @classmethod
    def _parse(cls, values: dict) -> dict:
        values["training"] = _training(values["training"])
        values["proxy"] = ProxySettings.from_dict(values["proxy"])
        return values


@dataclass(frozen=True)
class SelectSpec(JobSpec):
    """One static selection (`prunebench select`)."""

    base_method: str  # a registered static method
    options: dict  # its options, complete
    fraction: float

    @property
    def method_entry(self) -> Method:
        return _method_entry(self.base_method)
