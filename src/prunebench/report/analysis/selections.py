"""What every dynamic method selected over training (CRAIG, GradMatch, GLISTER, CREST, any
method whose runs leave a selection log), from each run's log (`read.selection_log`).

Per selection: its size, the pool it chose from, its seconds, and how far the class balance
of what it picked is from the training set's (total variation distance: half the sum over
classes of |share picked − share in training|; 0 = the training set's balance, 1 = entirely
other classes), from the picked indices and the prepared data's labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import UserError
from ..read.selection_log import read_selection_log


def class_distance(picked: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> float:
    """Total variation distance between the class shares of `picked` and `reference`."""
    if not len(picked):
        return float("nan")
    if picked.max() >= len(labels) or picked.min() < 0:
        raise UserError(f"selected indices reach {picked.max()} but the prepared data has "
                        f"{len(labels)} training labels: the run and the data differ; re-run it")
    shares = np.bincount(labels[picked], minlength=len(reference)) / len(picked)
    return float(0.5 * np.abs(shares - reference).sum())


def smallest_class_share(picked: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    if not len(picked):
        return float("nan")
    return float(np.bincount(labels[picked], minlength=n_classes).min() / len(picked))


def dynamic_selections(runs: pd.DataFrame, methods: list[str],
                       labels: np.ndarray | None) -> pd.DataFrame:
    """Every selection of every run of `methods` (summary rows of one dataset): the generic
    columns, the method's own columns where it writes them, method / fraction / seed, and,
    when `labels` are given, class_distance and smallest_class_share of what it picked."""
    frames = []
    reference = n_classes = None
    if labels is not None:
        n_classes = int(labels.max()) + 1
        reference = np.bincount(labels, minlength=n_classes) / len(labels)
    for run in runs[runs.method.isin(methods)].itertuples():
        log = read_selection_log(run.run_dir)
        if log is None or log[0].empty:
            continue
        table, picked = log
        frame = table.assign(method=run.method, fraction=run.fraction, seed=run.seed,
                             selection_index=range(len(table)))
        if labels is not None:
            frame["class_distance"] = [class_distance(p, labels, reference) for p in picked]
            frame["smallest_class_share"] = [smallest_class_share(p, labels, n_classes)
                                             for p in picked]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def selection_run_table(selections: pd.DataFrame, training_smallest: float | None) -> pd.DataFrame:
    """One row per run: how many selections, their sizes, the pool, seconds per selection
    (mean, first, median of the rest), and the class balance (mean and worst distance; the
    smallest class's share, lowest over selections, beside the training set's)."""
    if selections.empty:
        return pd.DataFrame()
    rows = []
    for (method, fraction, seed), run in selections.groupby(["method", "fraction", "seed"],
                                                            sort=False):
        seconds = run.selection_s
        row = {"method": method, "fraction": fraction, "seed": seed, "selections": len(run),
               "size_mean": run.n_selected.mean(), "size_min": int(run.n_selected.min()),
               "size_max": int(run.n_selected.max()), "pool_first": int(run.pool_size.iloc[0]),
               "pool_last": int(run.pool_size.iloc[-1]), "seconds_total": seconds.sum(),
               "seconds_mean": seconds.mean(), "seconds_first": seconds.iloc[0],
               "seconds_later_median": seconds.iloc[1:].median() if len(run) > 1
               else float("nan")}
        if "class_distance" in run:
            row.update(class_distance_mean=run.class_distance.mean(),
                       class_distance_max=run.class_distance.max(),
                       smallest_class_share_min=run.smallest_class_share.min(),
                       smallest_class_share_training=training_smallest)
        rows.append(row)
    return pd.DataFrame(rows)
