"""JSON objects handed to the CLI (--spec, --ops, --options, --settings), checked the one way:
the workflow writes them, people rarely do, so a mistake ends in one line naming the flag."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .errors import UserError


def json_object(text: str, flag: str, required: Iterable[str] = ()) -> dict:
    """The JSON object `text` given as `flag`, holding at least the keys `required`."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{flag} is not valid JSON ({exc})") from exc
    return checked_object(value, flag, required)


def checked_object(value, flag: str, required: Iterable[str] = ()) -> dict:
    """`value` (parsed from `flag`) if it is an object holding the keys `required`."""
    if not isinstance(value, dict):
        raise UserError(f"{flag} must be a JSON object")
    missing = [key for key in required if key not in value]
    if missing:
        raise UserError(f"{flag} lacks {', '.join(missing)}; run jobs through snakemake, which "
                        "writes the full settings")
    return value
