"""The CLI: user mistakes end in one line and exit 1, with no traceback and no output file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .conftest import digits_spec, job_flags


def prunebench(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "prunebench"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def cli_job(method: str, fraction: float) -> list[str]:
    """--spec (a TrainSpec) and --ops of a digits run of `method`."""
    return job_flags(digits_spec(), method=method, fraction=fraction)


def test_train_on_missing_dataset(tmp_path):
    result = prunebench("train", "--data", str(tmp_path / "nowhere"),
                        *cli_job("full", 1.0), "--seed", "0",
                        "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "meta.json is missing", "prepare_dataset")
    assert not (tmp_path / "run").exists()


def test_train_with_incomplete_spec(tmp_path, digits_dir):
    result = prunebench("train", "--data", str(digits_dir), "--spec", "{}", "--seed", "0",
                        "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "--spec lacks")


def test_train_unknown_method(tmp_path, digits_dir):
    result = prunebench("train", "--data", str(digits_dir), *cli_job("crestt", 0.5),
                        "--seed", "0", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "unknown method 'crestt'", "full")


def test_select_impossible_fraction(tmp_path):
    labels = tmp_path / "y.npy"
    np.save(labels, np.arange(20, dtype=np.int64) % 2)
    out = tmp_path / "subset.npy"
    spec = json.dumps({"base_method": "random", "options": {}, "fraction": 1.5})
    result = prunebench("select", "--labels", str(labels), "--spec", spec, "--seed", "0",
                        "--out", str(out))
    assert_one_line_error(result, "1.5")
    assert not out.exists()


def test_select_then_read_back(tmp_path):
    labels = tmp_path / "y.npy"
    np.save(labels, np.arange(20, dtype=np.int64) % 2)
    scores = tmp_path / "s.npy"
    np.save(scores, np.arange(20, dtype=np.float32))
    out = tmp_path / "subset.npy"
    spec = json.dumps({"base_method": "el2n", "options": {"class_balanced": False},
                       "fraction": 0.5})
    result = prunebench("select", "--labels", str(labels), "--values", str(scores),
                        "--spec", spec, "--seed", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert np.load(out).tolist() == list(range(10, 20))
    assert out.with_suffix(".json").exists()


def test_mean_scores_rejects_mismatched_lengths(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.zeros(5, np.float32))
    np.save(b, np.zeros(6, np.float32))
    result = prunebench("mean-scores", "--inputs", str(a), str(b), "--out", str(tmp_path / "m.npy"))
    assert_one_line_error(result, "differ in length")


def test_check_config(tmp_path):
    from .conftest import ROOT, SCHEMA

    ok = prunebench("check-config", str(ROOT / "config.yaml"), "--schema", str(SCHEMA))
    assert ok.returncode == 0 and "training runs" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [full\n")
    assert_one_line_error(prunebench("check-config", str(bad), "--schema", str(SCHEMA)),
                          "is not valid YAML", str(bad))
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert_one_line_error(prunebench("check-config", str(empty), "--schema", str(SCHEMA)),
                          "is empty", str(empty))


def test_schema_check_passes_on_the_committed_file():
    from .conftest import SCHEMA

    result = prunebench("schema", "--check", "--schema-dir", str(SCHEMA.parent))
    assert result.returncode == 0, result.stderr
