"""`prunebench plan`: counted work computed ahead equals what finished runs record; predicted
time priced by a calibration run, compared with the actual (reported, loosely checked: timings
are never asserted tightly); Slurm's requests from the prediction."""

from __future__ import annotations

import copy
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest
import yaml

from prunebench.cli import main
from prunebench.config import load_schema, validate_config
from prunebench.cost.actual import actual_seconds, recorded_counts, recorded_metrics
from prunebench.cost.calibrate import calibrate
from prunebench.cost.h100 import H100
from prunebench.cost.planner import experiment_cost, write_plan_csv
from prunebench.cost.predict import model_seconds
from prunebench.cost.resources import FALLBACK_MINUTES, memory_mb, runtime_minutes
from prunebench.cost.work import pass_examples

from .conftest import ROOT, SCHEMA
from .test_pipeline import TINY, finished_run


def validated(config: dict) -> dict:
    return validate_config(copy.deepcopy(config), load_schema(SCHEMA))


def test_pass_examples_counts_each_pass_short_last_batch():
    # 10 examples in batches of 4: passes of 4 + 4 + 2
    assert pass_examples(10, 4, 3) == 10
    assert pass_examples(10, 4, 5) == 18  # a second pass's first two batches
    assert pass_examples(10, 4, 0) == 0


def test_h100_prices_a_cifar10_full_run_by_hand():
    config = validated(yaml.safe_load((ROOT / "experiments" / "cifar10.yaml").read_text()))
    cost = experiment_cost(config, "cuda", root=Path("/nonexistent"))
    full = next(p for p in cost.predictions if p.job.name == "cifar10/full/f1/seed0")
    # 200 epochs x 50,000 images at 9,393 img/s; 200 x 10,000 test images at 50,000 ex/s; 2.1 s
    assert full.job.train_examples == 200 * 50_000 and full.job.eval_examples == 200 * 10_000
    assert full.seconds == pytest.approx(200 * 50_000 / 9_393 + 200 * 10_000 / 50_000 + 2.1)
    craig = next(p for p in cost.predictions if p.job.name == "cifar10/craig/f0.1/seed0")
    assert craig.job.selections == 200 and craig.seconds > 200 * 19.3  # its measured selections
    assert model_seconds(full.job, H100[("cifar10", "resnet20")]) == full.seconds


def test_runtime_grows_with_attempt_and_covers_the_prediction():
    for predicted in (5.0, 100.0, 5000.0):
        limits = [runtime_minutes(predicted, attempt, "train") for attempt in (1, 2, 3)]
        assert limits[0] * 60 >= 2 * predicted and limits[0] < limits[1] < limits[2]
    assert runtime_minutes(None, 1, "train") == FALLBACK_MINUTES["train"]
    assert runtime_minutes(10.0, 1, "train") < runtime_minutes(1000.0, 1, "train")
    assert memory_mb(None, 2) > memory_mb(None, 1)


def test_bad_device_is_one_line(capsys):
    assert main(["plan", str(ROOT / "config.yaml"), "--device", "tpu", "--schema",
                 str(SCHEMA), "--no-write"], delegate=False) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--device 'tpu'" in err


@pytest.fixture(scope="module")
def finished_tiny(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cost")
    finished_run(workdir, "tiny", TINY)
    return workdir


def test_predicted_counts_equal_recorded_and_time_error_per_rule(finished_tiny):
    config = validated(TINY)
    cost = experiment_cost(config, "cpu", root=finished_tiny, calibrator=calibrate,
                           finished=False)
    exact = estimated = 0
    for job in cost.jobs:
        metrics = recorded_metrics(job, finished_tiny)
        if job.rule in ("train", "train_proxy"):
            assert metrics is not None, job.output
            predicted = job.counts()
            recorded = recorded_counts(metrics, predicted)
            if job.exact:
                assert recorded == predicted, job.name
                exact += 1
            else:  # CREST, InfoBatch: an estimate of the right size
                for name, value in predicted.items():
                    assert value / 3 <= recorded[name] <= value * 3 or value == recorded[name]
                estimated += 1
    assert exact == 40 and estimated == 8  # 44 runs + 4 proxies; crest and infobatch x 2 x 2

    errors: dict[str, list[float]] = {}
    for p in cost.predictions:
        actual = actual_seconds(p.job, finished_tiny)
        assert actual is not None and p.seconds is not None, p.job.name
        errors.setdefault(p.job.rule, []).append(abs(p.seconds - actual) / actual)
    print("\nprediction error on the tiny DAG (median |predicted - actual| / actual):")
    for rule, values in errors.items():
        print(f"  {rule:<16} {len(values):>3} jobs  {100 * statistics.median(values):6.1f}%")
    # loose sanity only (shared machines), and only where counted work is priced: the other
    # rules cost a constant per job (throughput.SMALL_JOB_SECONDS) until some of theirs ran
    for rule in ("train", "train_proxy"):
        assert statistics.median(errors[rule]) < 4, (rule, errors[rule])

    path = write_plan_csv(cost, finished_tiny)
    table = pd.read_csv(path)
    assert len(table) == len(cost.jobs) == 82 and table.actual_s.notna().all()
    assert math.isclose(table.predicted_s.sum(), sum(p.seconds for p in cost.predictions),
                        rel_tol=1e-3)


def test_report_prediction_error_per_rule_by_hand():
    from prunebench.report.analysis.prediction import prediction_error_rows
    from prunebench.report.read.plan_csv import with_run_actuals

    plan = pd.DataFrame({
        "rule": ["train", "train", "train_proxy"], "device": ["cpu"] * 3,
        "job": ["d/full/f1/seed0", "d/random/f0.5/seed0", "d-1/m/seed0"],
        "predicted_s": [10.0, 6.0, 4.0], "actual_s": [None, None, 2.0],
        "throughput": ["x"] * 3})
    summary = pd.DataFrame({"dataset": ["d", "d"], "method": ["full", "random"],
                            "fraction": [1.0, 0.5], "seed": [0, 0], "wall_time_s": [8.0, 4.0]})
    rows = {r["rule"]: r for r in prediction_error_rows(with_run_actuals(plan, summary))}
    # train: |10-8|/8 = 25%, |6-4|/4 = 50%, median 37.5% -> "38%"; proxy |4-2|/2 = 100%
    assert rows["train"]["median_error"] == "38%" and rows["train"]["actual_s"] == 12.0
    assert rows["train_proxy"]["median_error"] == "100%" and rows["train_proxy"]["ran"] == 1
    assert prediction_error_rows(None) == []


def test_workflow_resources_follow_the_cached_prediction(finished_tiny):
    # after the calibration the test above cached in the finished folder
    from prunebench.cost.jobcosts import JobCosts

    config = validated(TINY)
    costs = JobCosts(config, root=finished_tiny)
    wildcards = {"dataset": "mnist1d", "method": "full", "fraction": "1", "seed": "0"}
    predicted = costs.predicted_seconds("train", wildcards)
    assert predicted is not None and predicted > 0
    assert costs.runtime("train", wildcards, 1) == runtime_minutes(predicted, 1, "train")
    assert costs.runtime("train", wildcards, 2) > costs.runtime("train", wildcards, 1)
    plan = costs.costs["cpu"].plan
    proxy = {"data": plan.data_key("digits"), "model": "digits_cnn",
             "proxy": plan.proxy_key("digits"), "seed": "1"}
    assert costs.predicted_seconds("train_proxy", proxy) is not None
    assert costs.mem_mb("train_proxy", proxy, 2) > costs.mem_mb("train_proxy", proxy, 1)
    # nothing cached: the rule's fallback, not a calibration
    fresh = JobCosts(config, root=finished_tiny / "nowhere")
    assert fresh.runtime("train", wildcards, 1) == FALLBACK_MINUTES["train"]
