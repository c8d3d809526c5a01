"""Collect every run's metrics.json into summary.csv, charging each run its full cost.

A static run's cost is scoring (all seeds of its own proxy, up to the epoch its score exists) +
selection (the select job's own timer, which the train job copied from the subset's record) +
its training and evaluation. Proxy runs live in a store shared by experiments; each
experiment is charged their full cost whether or not it trained them. Imports no torch.

Expected runs without a readable metrics.json are an error, unless `allow_missing`: then
summary.csv holds what exists and missing.csv names every expected run or proxy run that is
absent, with the reason, so a report can still be rendered after `snakemake --keep-going`;
`read_aggregate_csv` reads either file back for the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ...atomic import write_text
from ...errors import UserError
from ...methods import SCORES
from ...paths import missing_beside
from ...phases import PHASES
from .efficiency import selection_efficiency
from .progress import progress

COLUMNS = [
    "experiment", "dataset", "model", "method", "base_method", "kind", "fraction", "seed",
    "protocol", "score",
    "test_acc", "test_loss", "time_scoring", "time_selection", "time_training",
    "time_evaluation", "time_total", "wall_time_s", "steps", "full_steps", "examples_seen",
    "n_used", "n_train", "n_test", "label_noise_rate", "noisy_share", "score_auroc",
    "score_precision_at_k", "forward_examples", "backward_examples",
    "selection_forward_examples", "selection_backward_examples", "selection_efficiency", "checks",
    "device", "hardware",
    "threads",
    "torch", "python", "proxies_trained_for", "run_dir",
]
TRAINED_FOR = "__trained_for__"
MISSING_COLUMNS = ["what", "dataset", "model", "method", "fraction", "seed", "reason", "path"]


def _read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc}); re-run the job that writes it") from exc


def scoring_costs(proxy_metrics: list[str | Path],
                  datasets: list[str | None] | None = None) -> dict[tuple[str, str], float]:
    """(dataset, score) -> seconds summed over the proxy seeds (a score is their mean; the
    embeddings are the first seed's, so only its cost); (dataset, TRAINED_FOR) -> the
    experiments the proxies were trained for (they live in a shared store). `datasets` names
    the experiment's dataset entry each proxy run is charged to (default: the one its
    metrics.json names, the entry that first trained it: two entries of one loader and
    options share the run)."""
    costs: dict = {}
    if datasets is None:
        datasets = [None] * len(proxy_metrics)
    for path, entry in zip(proxy_metrics, datasets, strict=True):
        metrics = _read_json(path)
        dataset = entry or metrics["dataset"]
        for score, seconds in metrics["score_cost_s"].items():
            key = (dataset, score)
            if score in SCORES and not SCORES[score].rankable:
                # used from the first proxy seed only (embeddings): charge that seed's cost
                if metrics.get("seed", 0) == 0:
                    costs[key] = seconds
                continue
            costs[key] = costs.get(key, 0.0) + seconds
        who = costs.setdefault((dataset, TRAINED_FOR), set())
        who.add(metrics.get("trained_for") or "?")
    return costs


def run_row(metrics: dict, costs: dict[tuple[str, str], float], run_dir: str = "",
            n_test: int | None = None, detection: dict | None = None) -> dict:
    """One summary row: the run's fields, its phase times with the outside costs charged, and
    its selection efficiency (`n_test`: the test set's size, when metrics.json lacks it).
    With label noise: the rate, the noisy share of what the run trained on, and its score's
    AUROC and precision at k (`detection`: (dataset, score) -> (auroc, precision_at_k))."""
    if metrics.get("n_test") is None and n_test:
        metrics = {**metrics, "n_test": n_test}
    score = metrics.get("score")
    selection_s = metrics.get("subset_selection_s") or 0.0
    scoring_s = costs.get((metrics["dataset"], score), 0.0) if score else 0.0
    times = metrics["time"]
    counts = {**(metrics.get("sampler") or {}), **(metrics.get("counts") or {})}
    row = {k: metrics.get(k) for k in COLUMNS}
    row.update(
        time_scoring=scoring_s + times.get("scoring", 0.0),
        time_selection=selection_s + times.get("selection", 0.0),
        time_training=times["training"], time_evaluation=times["evaluation"],
        forward_examples=counts.get("forward_examples"),
        backward_examples=counts.get("backward_examples"), checks=counts.get("checks"),
        selection_forward_examples=counts.get("selection_forward_examples"),
        selection_backward_examples=counts.get("selection_backward_examples"),
        selection_efficiency=selection_efficiency(metrics),
        label_noise_rate=(metrics.get("label_noise") or {}).get("rate"),
        score_auroc=(detection or {}).get((metrics["dataset"], score), (None, None))[0],
        score_precision_at_k=(detection or {}).get((metrics["dataset"], score), (None, None))[1],
        proxies_trained_for="+".join(sorted(costs.get((metrics["dataset"], TRAINED_FOR), ())))
        if score else "",
        run_dir=run_dir,
    )
    row["time_total"] = sum(row[f"time_{p}"] for p in PHASES)
    # sub-phases (e.g. selection/hessian) are nested inside their phase: shown, never summed
    row.update({f"time_{k}": v for k, v in times.items() if "/" in k})
    return row


def absence_reason(path: str | Path) -> str | None:
    """Why an expected metrics.json gives no result, or None when it is readable."""
    path = Path(path)
    if not path.exists():
        leftovers = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        if leftovers:
            return f"failed or interrupted: no metrics.json, folder has {', '.join(leftovers)}"
        return "not run"
    try:
        json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return f"unreadable metrics.json ({exc})"
    return None


def find_missing(expected: list[dict]) -> pd.DataFrame:
    """Rows of `expected` (what, dataset, model, method, fraction, seed, path) that give no
    result, with the reason."""
    rows = []
    for entry in expected:
        reason = absence_reason(entry["path"])
        if reason:
            rows.append({**entry, "reason": reason, "path": str(entry["path"])})
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)


def test_sizes(data_dirs: dict[str, str | Path]) -> dict[str, int]:
    """dataset -> test-set size, from each prepared dataset's meta.json (datasets whose data
    is not prepared are left out): the evaluation count selection efficiency prices with."""
    sizes = {}
    for dataset, folder in data_dirs.items():
        meta = Path(folder) / "meta.json"
        if meta.exists():
            sizes[dataset] = int(_read_json(meta)["n_test"])
    return sizes


def build_summary(run_metrics: list[str | Path], proxy_metrics: list | dict,
                  allow_missing: bool = False, expected: list[dict] | None = None,
                  n_test: dict[str, int] | None = None,
                  method_proxies: dict[str, str] | None = None,
                  detection: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, missing): one row per finished run, one per absent run or proxy run.
    `proxy_metrics`: the proxy runs' metrics.json, a list (one proxy) or a dict proxy name ->
    list; `method_proxies` maps a method to the proxy it scores with (absent: the first), so
    each run is charged its own proxy's cost (and gets a `proxy` column when there are
    several). `expected` describes each path for missing.csv (default: paths only); `n_test`
    maps a dataset to its test-set size (see `test_sizes`) for runs whose metrics.json lacks
    it; `detection` each noisy dataset's (dataset, score) -> (AUROC, precision at k)."""
    by_proxy = proxy_metrics if isinstance(proxy_metrics, dict) else {"": proxy_metrics}
    proxy_metrics = [p for paths in by_proxy.values() for p in paths]
    method_proxies = method_proxies or {}
    if expected is None:
        expected = [{"what": "run", "path": p} for p in run_metrics]
        expected += [{"what": "proxy", "path": p} for p in proxy_metrics]
    missing = find_missing(expected)
    if len(missing) and not allow_missing:
        first = missing.iloc[0]
        raise UserError(
            f"{len(missing)} of {len(run_metrics) + len(proxy_metrics)} expected result files "
            f"are absent (first: {first.path}: {first.reason}); finish those jobs, or pass "
            "--allow-missing to aggregate what exists and list the rest in missing.csv")
    # each proxy run charged to the dataset entry `expected` names for it (one per entry)
    entries = {}
    for entry in expected:
        if entry.get("what") == "proxy" and entry.get("dataset"):
            entries.setdefault(str(entry["path"]), []).append(entry["dataset"])
    costs = {}
    for name, paths in by_proxy.items():
        proxies = [(p, d) for p in paths if absence_reason(p) is None
                   for d in entries.get(str(p), [None])]
        costs[name] = scoring_costs([p for p, _ in proxies], [d for _, d in proxies])
    first = next(iter(by_proxy), "")
    present = [p for p in run_metrics if absence_reason(p) is None]
    rows = []
    for path in progress(present, desc="aggregate", unit="run"):
        metrics = _read_json(path)
        proxy = method_proxies.get(metrics["method"], first)
        row = run_row(metrics, costs.get(proxy, {}), str(Path(path).parent),
                      (n_test or {}).get(metrics["dataset"]), detection)
        if len(by_proxy) > 1:
            row["proxy"] = proxy if metrics.get("score") else ""
        rows.append(row)
    extra = sorted({k for row in rows for k in row} - set(COLUMNS))
    frame = pd.DataFrame(rows, columns=COLUMNS + extra)
    frame = frame.sort_values(["dataset", "method", "fraction", "seed"], ignore_index=True)
    return frame, missing


def read_aggregate_csv(path, what: str, columns: list[str] | None = None) -> pd.DataFrame:
    """summary.csv or missing.csv as `write_summary` wrote it (`what` names it in errors); an
    empty frame with `columns` when `path` is None or, given `columns`, absent."""
    if path is None or (columns is not None and not Path(path).exists()):
        return pd.DataFrame(columns=columns)
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read {what} {path} ({exc}); re-run `prunebench aggregate` "
                        "(the aggregate rule)") from exc


def write_summary(run_metrics, proxy_metrics, out: str | Path, *, missing_out=None,
                  allow_missing: bool = False, expected: list[dict] | None = None,
                  n_test: dict[str, int] | None = None,
                  method_proxies: dict[str, str] | None = None,
                  detection: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write summary.csv (and missing.csv, default: next to it); return both frames."""
    summary, missing = build_summary(run_metrics, proxy_metrics, allow_missing, expected,
                                     n_test, method_proxies, detection)
    missing_out = missing_out or missing_beside(out)
    write_text(missing_out, missing.to_csv(index=False))
    write_text(out, summary.to_csv(index=False, float_format="%.6g"))
    return summary, missing
