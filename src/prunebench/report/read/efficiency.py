"""Selection efficiency: how a run's selection time compares with the passes over the data its
method needs by definition, priced at the same run's own evaluation speed.

    efficiency = selection seconds / priced work
    priced work = (selection forward examples + 2 x selection backward examples)
                  x evaluation seconds per example

A backward pass is priced as two forwards (the usual FLOP ratio). 1.0 means the selection
costs exactly its passes and the algorithm on top of them is free; 3.0 means the algorithm
(facility location, OMP, greedy gains...) costs twice as much as the passes. The evaluation
speed is the run's evaluation phase seconds over the examples it evaluated: the whole test set
after every epoch, so epochs x test-set size (`counts.evaluation_examples` when a run records
it). Torch-free: the aggregate step calls it on each metrics.json.
"""

from __future__ import annotations

BACKWARD_PRICE = 2.0  # one backward example costs about two forward examples


def evaluated_examples(metrics: dict) -> int | None:
    """How many test examples the run evaluated: `counts.evaluation_examples` when recorded,
    else epochs x n_test (the loop evaluates the whole test set after every epoch); None when
    neither is known."""
    counts = metrics.get("counts") or {}
    if counts.get("evaluation_examples"):
        return int(counts["evaluation_examples"])
    epochs, n_test = metrics.get("epochs"), metrics.get("n_test")
    if epochs and n_test:
        return int(epochs) * int(n_test)
    return None


def selection_seconds(metrics: dict) -> float:
    """The run's selection time: its own selection phase plus a static subset's select job."""
    time = metrics.get("time") or {}
    return float(time.get("selection") or 0.0) + float(metrics.get("subset_selection_s") or 0.0)


def priced_work(metrics: dict) -> float | None:
    """Seconds the selection's forward and backward passes would take at the run's evaluation
    speed; None when the run's evaluation speed is unknown."""
    counts = metrics.get("counts") or {}
    forward = float(counts.get("selection_forward_examples") or 0)
    backward = float(counts.get("selection_backward_examples") or 0)
    evaluated = evaluated_examples(metrics)
    eval_s = float((metrics.get("time") or {}).get("evaluation") or 0.0)
    if not evaluated or eval_s <= 0:
        return None
    return (forward + BACKWARD_PRICE * backward) * eval_s / evaluated


def selection_efficiency(metrics: dict) -> float | None:
    """Selection seconds / priced work (see the module doc); None when the run made no
    selection (no selection passes counted, e.g. full, random or a static subset chosen from
    precomputed scores) or its evaluation speed is unknown."""
    work = priced_work(metrics)
    seconds = selection_seconds(metrics)
    if work is None or work <= 0 or seconds <= 0:
        return None
    return seconds / work
