"""Method options: each method file declares its options once, as a frozen dataclass.

    @dataclass(frozen=True)
    class Options:
        beta: float = option(0.1, "fraction of the hardest examples dropped first", minimum=0,
                             maximum=1)

The dataclass is the single source of an option's name, type, default, bounds and one-line
description: the config schema's option blocks are generated from it (`options_schema`), the
docs/methods.md lists it, and the method receives an instance of it (`build_options`, which
checks it against the same choices and bounds). Torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import UserError

# annotation (as written under `from __future__ import annotations`) -> JSON schema type
_JSON_TYPES = {
    "int": "integer", "float": "number", "bool": "boolean", "str": "string",
    "int | None": ["integer", "null"], "float | None": ["number", "null"],
    "str | None": ["string", "null"],
}
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
# schema annotation (ignored by JSON-schema validation) that prunebench.config checks itself
COUNT_OF_EXAMPLES = "x-count-of-examples"


def option(default: Any, help: str, *, choices: tuple | None = None,
           count_of_examples: bool = False, **bounds: float) -> Any:
    """A dataclass field with a default and a one-line description (`help`); `choices` for an
    enumeration, JSON-schema bounds as keywords (minimum=0, exclusiveMaximum=1, ...), and
    `count_of_examples` for a number of training examples (a value from 1 up is a count, which
    the config refuses when it exceeds the dataset's training set)."""
    unknown = set(bounds) - set(_BOUNDS)
    if unknown:
        raise TypeError(f"unknown bound(s) {sorted(unknown)}; use {_BOUNDS}")
    metadata = {"help": help, "choices": choices, "bounds": bounds,
                "count_of_examples": count_of_examples}
    return dataclasses.field(default=default, metadata=metadata)


def option_fields(cls) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cls))


def _json_type(annotation: str, name: str, cls) -> str | list[str]:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if text in _JSON_TYPES:
        return _JSON_TYPES[text]
    if text.startswith("typing.Literal") or text.startswith("Literal"):
        return "string"
    raise TypeError(f"{cls.__name__}.{name}: unsupported option type {annotation!r}")


def options_schema(cls, description: str) -> dict:
    """The JSON-schema block of one method's options (defaults and descriptions included)."""
    properties = {}
    for f in option_fields(cls):
        meta = f.metadata
        if "help" not in meta:
            raise TypeError(f"{cls.__name__}.{f.name}: declare it with option(default, help)")
        prop: dict[str, Any] = {"description": meta["help"], "default": f.default}
        if meta["choices"]:
            prop["enum"] = list(meta["choices"])
        else:
            prop["type"] = _json_type(f.type, f.name, cls)
        prop.update(meta["bounds"])
        if meta.get("count_of_examples"):
            prop[COUNT_OF_EXAMPLES] = True
        properties[f.name] = prop
    return {"type": "object", "additionalProperties": False, "default": {},
            "description": description, "properties": properties}


_OUTSIDE = {"minimum": lambda v, b: v < b, "maximum": lambda v, b: v > b,
            "exclusiveMinimum": lambda v, b: v <= b, "exclusiveMaximum": lambda v, b: v >= b}


def check_options(options, what: str) -> None:
    """UserError unless every field of an options instance is within its declared choices and
    bounds (the same declaration the schema is generated from; None passes, as the schema's
    null does)."""
    for f in option_fields(type(options)):
        value, meta = getattr(options, f.name), f.metadata
        if value is None or isinstance(value, bool) or "help" not in meta:
            continue
        if meta["choices"] and value not in meta["choices"]:
            raise UserError(f"{what} option {f.name}={value!r}; choose one of: "
                            f"{', '.join(map(str, meta['choices']))}")
        for bound, limit in meta["bounds"].items():
            if isinstance(value, int | float) and _OUTSIDE[bound](value, limit):
                raise UserError(f"{what} option {f.name}={value!r} is outside its bounds "
                                f"({bound} {limit})")


def build_options(cls, values: dict | None, what: str | None = None):
    """An instance of `cls` from a mapping, checked against its declared choices and bounds;
    an unknown key is a UserError naming it (`what` names the method in messages)."""
    what = what or cls.__name__
    names = {f.name for f in option_fields(cls)}
    unknown = sorted(set(values or {}) - names)
    if unknown:
        raise UserError(f"{what} does not take option(s) {unknown}; remove them")
    options = cls(**(values or {}))
    check_options(options, what)
    return options

