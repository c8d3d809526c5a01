"""Validate an experiment config against the JSON schema, fill defaults, and explain errors.

Used by the workflow (`workflow/rules/common.smk`) before any job is planned, so a bad key or
value stops everything with one line naming the key and what is allowed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators

from .errors import UserError
from .methods import method_score


def _with_defaults(validator_class):
    """A validator that also writes each property's `default` into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(Draft7Validator)


def load_schema(path: str | Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _key_path(error) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "".join(parts).lstrip(".") or "(top level)"


def _explain(error) -> str:
    """One line: which key, what is wrong, what is allowed."""
    key = _key_path(error)
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"config key '{key}': {error.instance!r} is not allowed; choose one of: {allowed}"
    if error.validator == "additionalProperties":
        where = key if key != "(top level)" else "the top level"
        return f"config: unknown key at {where}: {error.message}; check its spelling"
    if error.validator == "required":
        return f"config: {error.message} (at {key})"
    if error.validator == "propertyNames":
        allowed = ", ".join(error.schema.get("propertyNames", {}).get("enum", []))
        return f"config key '{key}': {error.message}; allowed names: {allowed}"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict, schema: dict) -> dict:
    """Return a validated copy of `config` with defaults filled in, or raise UserError."""
    if not isinstance(config, dict):
        raise UserError("config: expected a YAML mapping of keys to values at the top level")
    checked = copy.deepcopy(config)
    errors = sorted(_Validator(schema).iter_errors(checked), key=lambda e: list(e.absolute_path))
    if errors:
        raise UserError(_explain(errors[0]))
    _check_consistency(checked)
    if "full" not in checked["methods"]:
        checked["methods"] = ["full", *checked["methods"]]
    return checked


def _check_consistency(config: dict) -> None:
    """Rules the schema cannot express: scores a method needs must be computed, k <= epochs."""
    proxy = config["proxy"]
    if proxy["score_epoch"] > proxy["epochs"]:
        raise UserError(
            f"config key 'proxy.score_epoch': {proxy['score_epoch']} is after the last proxy "
            f"epoch ({proxy['epochs']}); make it at most proxy.epochs"
        )
    for method in config["methods"]:
        score = method_score(method, config)
        if score is not None and score not in proxy["scores"]:
            raise UserError(
                f"config: method '{method}' ranks by score '{score}', which 'proxy.scores' does "
                f"not compute; add '{score}' to proxy.scores"
            )


def read_config_file(path: str | Path, schema_path: str | Path) -> dict:
    """Load a YAML config file and validate it; a file that is not YAML is a UserError."""
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise UserError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"config file {path} is not valid YAML: {exc}".replace("\n", " ")) from exc
    return validate_config(raw, load_schema(schema_path))


@dataclass(frozen=True)
class TrainSettings:
    """A dataset's training hyperparameters, as the schema defines them (defaults filled)."""

    model: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str
    warmup_epochs: float
    milestones: tuple[float, ...]
    gamma: float
    augment: dict
    eval_batch_size: int

    @classmethod
    def from_dataset_config(cls, section: dict) -> TrainSettings:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in section.items() if k in names}
        values["milestones"] = tuple(values.get("milestones", ()))
        return cls(**values)
