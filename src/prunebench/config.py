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
from .label_noise import OPTION as LABEL_NOISE
from .methods import METHODS, SCORES, base_method, method_entry, method_options, method_score
from .ops import PROXY_SECTION, operational_keys
from .options import COUNT_OF_EXAMPLES
from .paths import MAX_FRACTION_DECIMALS
from .proxies import DEFAULT_PROXY
from .train_sizes import expected_train_size

OPTIONS_SCHEMA_FILE = "options.schema.yaml"


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


def science_settings(config: dict) -> dict:
    """The validated config without its operational settings (prunebench.ops; the experiment's
    name stays: the summary and report are filed under it)."""
    science = {k: v for k, v in config.items()
               if k not in operational_keys() or k == "experiment"}
    science[PROXY_SECTION] = {k: v for k, v in config[PROXY_SECTION].items()
                              if k not in operational_keys(PROXY_SECTION)}
    if not science.get("proxies"):
        # no named proxies: the settings an experiment had before they existed (the report
        # and aggregate jobs take them as params, so they re-run nothing)
        science.pop("proxies", None)
    return science


def load_schema(path: str | Path) -> dict:
    """The config schema, completed from the registries: the names a config may use, and every
    method's options block (generated from its dataclass into options.schema.yaml beside it)."""
    path = Path(path)
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    with open(path.with_name(OPTIONS_SCHEMA_FILE)) as fh:
        blocks = yaml.safe_load(fh)
    props = schema["properties"]
    props["options"]["properties"] = blocks
    props["variants"]["additionalProperties"]["properties"]["method"]["enum"] = list(METHODS)
    props["proxy"]["properties"]["scores"]["items"]["enum"] = list(SCORES)
    return schema


def _key_path(error) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "".join(parts).lstrip(".") or "(top level)"


def _explain(error, prefix: str = "") -> str:
    """One line: which key, what is wrong, what is allowed."""
    key = _key_path(error)
    if prefix:
        key = prefix if key == "(top level)" else f"{prefix}.{key}"
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
    _raise_first(_Validator(schema).iter_errors(checked))
    _check_variants(checked, schema)
    _check_datasets(checked, schema)
    _check_methods(checked)
    _check_fractions(checked)
    _check_consistency(checked)
    checked["proxy"]["scores"] = proxy_scores(checked)
    _check_counts_against_data(checked, schema)
    if "full" not in checked["methods"]:
        checked["methods"] = ["full", *checked["methods"]]
    return checked


def _raise_first(errors, prefix: str = "") -> None:
    errors = sorted(errors, key=lambda e: list(e.absolute_path))
    if errors:
        raise UserError(_explain(errors[0], prefix))


def _check_variants(config: dict, schema: dict) -> None:
    """Each variant's options against its method's block (filling its defaults)."""
    blocks = schema["properties"]["options"]["properties"]
    for name, variant in config.get("variants", {}).items():
        if name in METHODS:
            raise UserError(f"config key 'variants.{name}': a variant cannot reuse the name of "
                            f"the method '{name}'; rename it (e.g. {name}_v2)")
        # validated on a copy: the variant keeps only the options it sets, on top of the
        # method's (complete) block
        given = variant.setdefault("options", {})
        _raise_first(_Validator(blocks[variant["method"]]).iter_errors(copy.deepcopy(given)),
                     prefix=f"variants.{name}.options")


def dataset_loader(name: str, section: dict) -> str:
    """The DATASETS loader a dataset entry reads (its `loader`, else its own name)."""
    return section.get("loader", name)


def _loader_options_block(schema: dict, loader: str) -> dict:
    """A loader's options block with `label_noise` (every loader's) added, references resolved."""
    definitions = schema["definitions"]
    block = definitions["dataset_options"]["properties"][loader]
    if "$ref" in block:
        block = definitions[block["$ref"].rsplit("/", 1)[-1]]
    return {**block, "properties": {**block["properties"],
                                    LABEL_NOISE: definitions[LABEL_NOISE]}}


def _check_datasets(config: dict, schema: dict) -> None:
    """Each entry's loader exists, and its options are the loader's (checked on a copy: no
    default enters the prepared data's key); a given label_noise gets its defaults filled,
    so {rate: 0.2} and {rate: 0.2, kind: symmetric, seed: 0} are the same data."""
    loaders = schema["definitions"]["loader"]["enum"]
    noise_defaults = {k: v["default"] for k, v in
                      schema["definitions"][LABEL_NOISE]["properties"].items() if k != "rate"}
    for name, section in config["datasets"].items():
        loader = dataset_loader(name, section)
        if loader not in loaders:
            raise UserError(f"config key 'datasets.{name}': {name!r} is not a dataset loader; "
                            f"choose one of: {', '.join(loaders)}, or give the entry "
                            "`loader: <one of them>`")
        options = section.setdefault("options", {})
        _raise_first(Draft7Validator(_loader_options_block(schema, loader)).iter_errors(
            copy.deepcopy(options)), prefix=f"datasets.{name}.options")
        if LABEL_NOISE in options:
            options[LABEL_NOISE] = {**noise_defaults, **options[LABEL_NOISE]}


def _check_methods(config: dict) -> None:
    names = [*METHODS, *config.get("variants", {})]
    for i, method in enumerate(config["methods"]):
        if method not in names:
            raise UserError(f"config key 'methods[{i}]': {method!r} is not allowed; choose one "
                            f"of: {', '.join(names)} (or declare it under 'variants')")


def _check_fractions(config: dict) -> None:
    for i, value in enumerate(config["fractions"]):
        if round(value, MAX_FRACTION_DECIMALS) != value:
            raise UserError(f"config key 'fractions[{i}]': {value!r} has more than "
                            f"{MAX_FRACTION_DECIMALS} decimals; round it (results are filed "
                            f"under the fraction's exact value)")


def _check_counts_against_data(config: dict, schema: dict) -> None:
    """An option that counts training examples (CREST's subset_size from 1 up) must fit in
    every dataset's training set: refused here, in one line, rather than clamped in a job."""
    blocks = schema["properties"]["options"]["properties"]
    for method in config["methods"]:
        base, entry = base_method(method, config), method_entry(method, config)
        block = blocks.get(base, {}).get("properties", {})
        options = method_options(method, config)
        for name, prop in block.items():
            value = options.get(name)
            if not prop.get(COUNT_OF_EXAMPLES) or value is None or value < 1:
                continue
            for dataset, section in config["datasets"].items():
                n_train = expected_train_size(dataset_loader(dataset, section),
                                              section.get("options", {}))
                if n_train is not None and value > n_train:
                    where = (f"variants.{method}.options.{name}"
                             if method in config.get("variants", {}) else
                             f"options.{base}.{name}")
                    raise UserError(
                        f"config key '{where}': {value:g} is more than the {n_train} training "
                        f"examples of '{dataset}' ({entry.description}); lower it, or give a "
                        "fraction of N below 1")


def needed_scores(config: dict) -> list[str]:
    """The proxy arrays the config's methods (and variants) read: each one's score (CCS's from
    its `score` option) and the embeddings, sorted."""
    needed = {method_score(method, config) for method in config["methods"]}
    if any(method_entry(method, config).embeddings for method in config["methods"]):
        needed.add("embeddings")
    return sorted(score for score in needed if score)


def proxy_scores(config: dict) -> list[str]:
    """What every proxy run computes: the scores `proxy.scores` lists (extra ones, kept in their
    order), then those the methods need that it does not list. A config that already listed
    every score its methods need computes exactly its list, under the same proxy key."""
    listed = list(config["proxy"]["scores"])
    return listed + [score for score in needed_scores(config) if score not in listed]


def _check_consistency(config: dict) -> None:
    """Rules the schema cannot express: a method's score must be a rankable score, k <= epochs."""
    proxy = config["proxy"]
    if proxy["score_epoch"] > proxy["epochs"]:
        raise UserError(
            f"config key 'proxy.score_epoch': {proxy['score_epoch']} is after the last proxy "
            f"epoch ({proxy['epochs']}); make it at most proxy.epochs"
        )
    for name, settings in config.get("proxies", {}).items():
        if name == DEFAULT_PROXY:
            raise UserError(f"config key 'proxies.{name}': '{name}' is the `proxy` section's "
                            "name; set the default proxy there, or rename this one")
        if settings.get("epochs", proxy["epochs"]) < proxy["score_epoch"]:
            raise UserError(
                f"config key 'proxies.{name}.epochs': {settings['epochs']} is before the score "
                f"epoch proxy.score_epoch ({proxy['score_epoch']}); make it at least that")
    for name, variant in config.get("variants", {}).items():
        if "proxy" not in variant:
            continue
        named = list(config.get("proxies", {}))
        if variant["proxy"] not in named:
            raise UserError(f"config key 'variants.{name}.proxy': {variant['proxy']!r} is not a "
                            f"proxy of this config; name one under 'proxies' "
                            f"({', '.join(named) or 'none declared'})")
        if not METHODS[variant["method"]].needs_proxy:
            raise UserError(f"config key 'variants.{name}.proxy': method "
                            f"'{variant['method']}' reads no proxy scores; remove the key")
    for method in config["methods"]:
        score = method_score(method, config)
        if score is not None and (score not in SCORES or not SCORES[score].rankable):
            rankable = [name for name, s in SCORES.items() if s.rankable]
            raise UserError(f"config: method '{method}' ranks by score '{score}', which is not "
                            f"a score; choose one of: {', '.join(rankable)}")


def read_config_file(path: str | Path, schema_path: str | Path) -> dict:
    """Load a YAML config file and validate it; every problem is one line naming the file."""
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise UserError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"config file {path} is not valid YAML: {exc}".replace("\n", " ")) from exc
    if raw is None:
        raise UserError(f"config file {path} is empty; it needs at least: experiment, datasets, "
                        "methods, fractions, seeds (see config.yaml)")
    if not isinstance(raw, dict):
        raise UserError(f"config file {path} holds a {type(raw).__name__}, not a YAML mapping of "
                        "keys to values (experiment: ..., datasets: ...)")
    try:
        return validate_config(raw, load_schema(schema_path))
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from exc


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
