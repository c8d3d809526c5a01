"""A new periodic dynamic method is one file of its algorithm plus one METHODS line: the
test-local `largest_error` (tests/local_method/largest_error.py) is registered here and trained
end to end; the scaffold gives it timers, counts, a selection log and its own column."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from prunebench import methods
from prunebench.config import load_schema, validate_config
from prunebench.implementations import options_blocks
from prunebench.methods import Method
from prunebench.selection.quotas import class_quotas
from prunebench.train.run import run_training

from .conftest import SCHEMA, digits_spec, split_job


def test_a_test_local_periodic_method_trains_and_logs_its_own_column(tmp_path, digits_dir,
                                                                     monkeypatch):
    entry = Method("dynamic", "tests.local_method.largest_error", "LargestErrorSampler", None,
                   "per class, the examples with the longest error vectors")
    monkeypatch.setitem(methods.METHODS, "largest_error", entry)  # the one registry line
    schema = load_schema(SCHEMA)
    schema["properties"]["options"]["properties"] = options_blocks()
    config = validate_config({
        "experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
        "methods": ["largest_error"], "fractions": [0.3], "seeds": [0],
        "options": {"largest_error": {"interval": 2}}}, schema)
    spec = digits_spec(epochs=3, batch_size=64, lr=0.05)
    spec["options"] = config["options"]["largest_error"]
    metrics = run_training(*split_job(spec, method="largest_error", fraction=0.3),
                           data_dir=digits_dir, seed=0, out_dir=tmp_path)

    n, n_used = 1347, round(0.3 * 1347)
    assert metrics["kind"] == "dynamic"
    assert metrics["steps"] == 3 * math.ceil(n_used / 64)
    assert metrics["sampler"] == {"selections": 2}  # epochs 1 and 3 (interval 2)
    assert metrics["counts"]["selection_forward_examples"] == 2 * n
    assert metrics["time"]["selection/largest_error"] > 0
    log = pd.read_csv(tmp_path / "selections.csv")
    assert list(log.columns) == ["step", "epoch", "reason", "pool_size", "n_selected",
                                 "selection_s", "mean_error_norm"]
    assert log.epoch.tolist() == [1, 3] and log.reason.tolist() == ["initial", "epoch start"]
    assert (log.n_selected == n_used).all() and (log.pool_size == n).all()
    # an error vector's norm lies in [0, sqrt(2)]; the hardest examples are far from 0
    assert ((log.mean_error_norm > 0.1) & (log.mean_error_norm <= math.sqrt(2))).all()
    picked = np.load(tmp_path / "selected.npz")
    assert picked["offsets"].tolist() == [0, n_used, 2 * n_used]
    assert (picked["weights"] == 1).all()
    first = picked["indices"][:n_used]
    assert len(set(first.tolist())) == n_used
    labels = np.load(digits_dir / "train_y.npy")
    quotas = class_quotas(labels, n_used)  # the scaffold's per-class quotas
    assert np.bincount(labels[first], minlength=10).tolist() == [quotas[c] for c in range(10)]


def test_the_new_method_appears_in_the_reports_selection_section(tmp_path, digits_dir,
                                                                 monkeypatch):
    """No report change is needed: the section lists every configured dynamic method and reads
    its log's generic columns plus whatever columns the method adds."""
    from prunebench.report.analysis.selections import dynamic_selections, selection_run_table
    from prunebench.report.render.layout import dynamic_methods

    entry = Method("dynamic", "tests.local_method.largest_error", "LargestErrorSampler", None,
                   "per class, the examples with the longest error vectors")
    monkeypatch.setitem(methods.METHODS, "largest_error", entry)
    config = {"methods": ["full", "largest_error"], "variants": {}}
    assert dynamic_methods(config) == ["largest_error"]
    spec = digits_spec(epochs=2, batch_size=64, lr=0.05)
    spec["options"] = {"interval": 1}
    run_training(*split_job(spec, method="largest_error", fraction=0.3),
                 data_dir=digits_dir, seed=0, out_dir=tmp_path)
    runs = pd.DataFrame([{"method": "largest_error", "fraction": 0.3, "seed": 0,
                          "run_dir": str(tmp_path)}])
    labels = np.load(digits_dir / "train_y.npy")
    selections = dynamic_selections(runs, dynamic_methods(config), labels)
    assert selections.epoch.tolist() == [1, 2]
    assert selections.mean_error_norm.notna().all()  # its own column reaches the report
    assert (selections.class_distance < 0.01).all()  # per-class quotas keep the balance
    per_run = selection_run_table(selections, training_smallest=None)
    assert per_run.selections.tolist() == [2]
