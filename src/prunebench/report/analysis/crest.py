"""What CREST selected over training, from each run's selections.csv and selected.npz.

Per selection: the steps since the previous one, the pool it chose from, the check interval
and number of mini-batch coresets the adaptive rule set, the curvature norm of the quadratic
model, and how hard the chosen examples were by the proxy runs' mean scores (EL2N; forgetting,
whose +inf marks examples never learned: its mean is over finite values and the +inf share is
given apart). selections.csv is read by column name (read/selection_log.py): CREST's own
columns are optional and read as NaN when a log lacks them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import UserError
from ..read.selection_log import GENERIC_COLUMNS, read_selection_log

DIFFICULTY_SCORES = ("el2n", "forgetting")
CREST_COLUMNS = ["rel_error", "check_interval", "num_coresets", "curvature_norm"]  # optional


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def selection_stats(table: pd.DataFrame, picked: list[np.ndarray],
                    scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per selection: step, reason, steps_since_previous (NaN for the first),
    pool_size, n_selected, check_interval, num_coresets, curvature_norm (NaN when the log
    lacks them), and mean_<score> of the picked examples (+ inf_share_<score>)."""
    out = table[GENERIC_COLUMNS].copy()
    for column in CREST_COLUMNS:
        out[column] = table[column] if column in table else float("nan")
    out["steps_since_previous"] = out.step.diff()
    for name in DIFFICULTY_SCORES:
        if name not in scores:
            continue
        values = scores[name]
        for idx in picked:
            if len(idx) and (idx.min() < 0 or idx.max() >= len(values)):
                raise UserError(f"selected indices reach {idx.max()} but the {name} score file "
                                f"has {len(values)} examples: the run and the scores come from "
                                "different training sets; re-run both")
        out[f"mean_{name}"] = [_finite_mean(values[idx]) for idx in picked]
        out[f"inf_share_{name}"] = [float(np.isposinf(values[idx]).mean()) if len(idx)
                                    else float("nan") for idx in picked]
    return out


def dataset_baseline(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """The same means over the whole training set: what a uniform choice would give."""
    base = {}
    for name in DIFFICULTY_SCORES:
        if name in scores:
            base[f"mean_{name}"] = _finite_mean(scores[name])
            base[f"inf_share_{name}"] = float(np.isposinf(scores[name]).mean())
    return base


def crest_selections(runs: pd.DataFrame, scores: dict[str, np.ndarray],
                     method: str = "crest") -> pd.DataFrame:
    """Every selection of every `method` run in `runs` (summary rows of one dataset), with
    method, fraction and seed columns; empty when no such run left a selection log. `method`
    may be a list (CREST and its named variants)."""
    methods = [method] if isinstance(method, str) else list(method)
    frames = []
    for run in runs[runs.method.isin(methods)].itertuples():
        log = read_selection_log(run.run_dir)
        if log is None:
            continue
        stats = selection_stats(*log, scores)
        frames.append(stats.assign(method=run.method, fraction=run.fraction, seed=run.seed,
                                   checks=getattr(run, "checks", float("nan"))))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def crest_run_table(selections: pd.DataFrame, baseline: dict[str, float]) -> pd.DataFrame:
    """One row per run: selections, failed checks (count and share of checks), steps between
    reselections (mean and median), the check interval and number of coresets (mean over
    selections), the curvature norm at the first selection, its median and its last value,
    pool at start and end, selection seconds, and the picked examples' difficulty (mean over
    selections) next to the training set's."""
    if selections.empty:
        return pd.DataFrame()
    if "method" not in selections:
        selections = selections.assign(method="crest")
    rows = []
    for (method, fraction, seed), run in selections.groupby(["method", "fraction", "seed"]):
        failed = int((run.reason == "check failed").sum())
        checks = run.checks.iloc[0]
        norm = run.curvature_norm.dropna()
        row = {"method": method, "fraction": fraction, "seed": seed, "selections": len(run),
               "checks": checks, "check_failed": failed,
               "checks_failed_share": failed / checks if checks and checks > 0 else float("nan"),
               "mean_steps_between": run.steps_since_previous.mean(),
               "median_steps_between": run.steps_since_previous.median(),
               "mean_check_interval": run.check_interval.mean(),
               "mean_num_coresets": run.num_coresets.mean(),
               "curvature_first": norm.iloc[0] if len(norm) else float("nan"),
               "curvature_median": norm.median() if len(norm) else float("nan"),
               "curvature_last": norm.iloc[-1] if len(norm) else float("nan"),
               "pool_first": int(run.pool_size.iloc[0]), "pool_last": int(run.pool_size.iloc[-1]),
               "selection_s": run.selection_s.sum()}
        for column, value in baseline.items():
            row[f"{column}_selected"] = run[column].mean()
            row[f"{column}_all"] = value
        rows.append(row)
    return pd.DataFrame(rows)
