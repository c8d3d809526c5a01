"""What the library offers, read from the registries (`METHODS`, `SCORES`) and each method's
options dataclass; and a method's options checked exactly as a config's block is: against the
JSON-schema block generated from the dataclass (`options.options_schema`, the block the
config schema holds), then built into the dataclass (`options.build_options`)."""

from __future__ import annotations

from dataclasses import dataclass

from jsonschema import Draft7Validator

from ..errors import UserError
from ..implementations import implementation
from ..methods import METHODS, SCORE_FROM_OPTION, SCORES, Method
from ..options import COUNT_OF_EXAMPLES, build_options, option_fields, options_schema


@dataclass(frozen=True)
class OptionInfo:
    """One option of a method: its default, one-line description, choices and bounds."""

    default: object
    description: str
    choices: tuple | None = None
    bounds: dict | None = None


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: `kind` is "reference", "static" or "dynamic"; `score` the score a
    static method ranks by ("option": its `score` option names it), `embeddings` whether it
    selects on penultimate embeddings; `options` its options with their defaults."""

    name: str
    kind: str
    description: str
    score: str | None
    embeddings: bool
    options: dict[str, OptionInfo]


@dataclass(frozen=True)
class ScoreInfo:
    """A registered score: `at` says when the proxy run takes it ("score_epoch", "init" or
    "run"); `rankable` whether static methods rank by it (embeddings are not a ranking)."""

    name: str
    at: str
    description: str
    rankable: bool


def _options_of(entry: Method) -> dict[str, OptionInfo]:
    _, cls = implementation(entry)
    return {f.name: OptionInfo(f.default, f.metadata.get("help", ""),
                               f.metadata.get("choices"), dict(f.metadata.get("bounds", {})))
            for f in option_fields(cls)}


def available_methods() -> dict[str, MethodInfo]:
    """Every registered method (prunebench.methods.METHODS), with its options and defaults."""
    return {name: MethodInfo(name, entry.kind, entry.description, entry.score, entry.embeddings,
                             _options_of(entry))
            for name, entry in METHODS.items()}


def available_scores() -> dict[str, ScoreInfo]:
    """Every registered score (prunebench.methods.SCORES)."""
    return {name: ScoreInfo(name, s.at, s.description, s.rankable) for name, s in SCORES.items()}


def method_entry(method: str, kind: str, use: str) -> Method:
    """The METHODS entry of `method`, which must be of `kind`; else one UserError naming the
    argument, the methods of that kind and, for the other kind, what to call instead (`use`)."""
    entry = METHODS.get(method) if isinstance(method, str) else None
    names = [name for name, m in METHODS.items() if m.kind == kind]
    if entry is None:
        raise UserError(f"method {method!r} is not a registered method; {kind} methods: "
                        f"{', '.join(names)}")
    if entry.kind != kind:
        raise UserError(f"method {method!r} is {entry.kind}, not {kind}; {use}")
    return entry


def checked_options(method: str, options: dict, n_train: int | None = None):
    """`options` (by name, as a config writes them) as an instance of `method`'s options
    dataclass, checked as a config's `options.<method>` block is: unknown names, types,
    choices, bounds and (with `n_train`) counts of examples beyond the training set."""
    entry = METHODS[method]
    _, cls = implementation(entry)
    block = options_schema(cls, entry.description)
    errors = sorted(Draft7Validator(block).iter_errors(dict(options)),
                    key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join(map(str, errors[0].absolute_path))
        raise UserError(f"{method} option{' ' + where if where else 's'}: {errors[0].message}")
    for name, prop in block["properties"].items():
        value = options.get(name)
        if prop.get(COUNT_OF_EXAMPLES) and n_train is not None and value is not None \
                and value >= 1 and value > n_train:
            raise UserError(f"{method} option {name}: {value:g} is more than the {n_train} "
                            "training examples; lower it, or give a fraction of N below 1")
    return build_options(cls, options, what=method)


def static_score_name(entry: Method, options: dict) -> str | None:
    """The score a static method ranks by (CCS's from its `score` option, default el2n)."""
    if entry.score != SCORE_FROM_OPTION:
        return entry.score
    _, cls = implementation(entry)
    return options.get("score", cls().score)
