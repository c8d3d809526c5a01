"""Progress for the report's longer loops: a tqdm bar when a person watches (stderr is a
terminal), nothing in logs (Snakemake redirects stderr to a file)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, desc: str, unit: str = "it") -> Iterator[T]:
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, unit=unit, leave=False, dynamic_ncols=True)
