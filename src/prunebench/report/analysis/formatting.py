"""Numbers as the report writes them in text: one NaN-safe formatter for every table cell,
sentence and figure label that shows a number which may be absent."""

from __future__ import annotations

import pandas as pd

MISSING = "–"  # what a cell shows for an absent number (one seed has no spread, ...)


def number(value, spec: str, missing: str = MISSING) -> str:
    """`value` formatted with the format spec `spec` (".4g", "+.2f", ".0%"...), or `missing`
    when it is None or NaN."""
    return missing if pd.isna(value) else format(value, spec)
