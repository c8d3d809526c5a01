"""A method written for tests/test_registry.py: one file, no other change to the project.

Keeps the f*N examples whose scores sum highest within their class quota; its only option
flips the order. It shows what a new static method needs: this file and one registry line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prunebench.options import option
from prunebench.selection.static.common import rank_descending, select_by_group


@dataclass(frozen=True)
class LowestOptions:
    lowest: bool = option(False, "keep the lowest scores instead of the highest")
    class_balanced: bool = option(True, "give every class a quota proportional to its size")


def select_lowest(scores, labels, fraction, rng, options: LowestOptions):
    order = -scores if options.lowest else scores

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        return rank_descending(order, idx)[:q]

    return select_by_group(labels, fraction, options.class_balanced, rule)
