"""W&B tracking: an offline run of a real training job, read back from wandb's own run file.

The training job runs through the CLI, as a Snakemake job would, with WANDB_MODE removed from
its environment (CI exports WANDB_MODE=disabled) and, when the test runs as root, in a network
namespace of its own with no network at all, so an offline run that tried to reach W&B fails.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prunebench.config import load_schema, validate_config

from .conftest import ROOT, SCHEMA, job_flags

BIN = Path(sys.executable).parent


def mnist1d_spec(wandb: dict) -> dict:
    config = validate_config({
        "experiment": "wb", "device": "cpu", "wandb": wandb, "methods": ["random"],
        "fractions": [0.5], "seeds": [0],
        "datasets": {"mnist1d": {"model": "mnist1d_cnn", "epochs": 2, "batch_size": 64}},
    }, load_schema(SCHEMA))
    return {"experiment": "wb", "dataset": "mnist1d", "device": "cpu", "protocol": "budget",
            "training": {k: v for k, v in config["datasets"]["mnist1d"].items()
                         if k != "options"},
            "wandb": config["wandb"], "method": "full", "fraction": 1.0}


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No WANDB_* from the caller; wandb's own config and cache folders inside tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    for name in ("CONFIG", "CACHE", "DATA"):
        env[f"WANDB_{name}_DIR"] = str(tmp_path / f"wandb-{name.lower()}")
    env["HOME"] = str(tmp_path / "home")  # no ~/.netrc with a key
    return env


def offline_network() -> list[str]:
    """A prefix that runs a command with no network (root only), else nothing."""
    unshare = shutil.which("unshare")
    return [unshare, "--net"] if os.geteuid() == 0 and unshare else []


def train(data_dir: Path, out: Path, spec: dict, env: dict) -> subprocess.CompletedProcess:
    """`prunebench train` of the full run, with no network where that can be arranged."""
    cmd = [*offline_network(), str(BIN / "prunebench"), "train", "--data", str(data_dir),
           *job_flags(spec), "--seed", "0",
           "--out", str(out), "--threads", "1"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def wandb_records(path: Path):
    """The protobuf records of a .wandb file: a 7-byte header, then the LevelDB log format
    (32 KiB blocks of chunks: crc32c, length, type FULL=1/FIRST=2/MIDDLE=3/LAST=4)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        payload, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _items(items) -> dict:
    return {".".join(i.nested_key) if i.nested_key else i.key: json.loads(i.value_json)
            for i in items}


def read_run(path: Path) -> dict:
    """The run record, config, history rows and final summary of one offline run."""
    run, history, summary, exit_code = None, [], {}, None
    for record in wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        elif kind == "exit":
            exit_code = record.exit.exit_code
        elif kind == "history":
            history.append(_items(record.history.item))
        elif kind == "summary":
            summary.update(_items(record.summary.update))
    assert run is not None, f"{path} holds no run record"
    return {"group": run.run_group, "job_type": run.job_type, "project": run.project,
            "tags": list(run.tags), "config": _items(run.config.update),
            "history": history, "summary": summary, "exit_code": exit_code}


def test_offline_run_holds_config_history_and_final_metrics(tmp_path, mnist1d_small_dir):
    spec = mnist1d_spec({"mode": "offline", "project": "pb-test", "tags": ["ci"]})
    out = tmp_path / "run"
    done = train(mnist1d_small_dir, out, spec, isolated_env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())

    run_files = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(run_files) == 1, run_files  # one W&B run per job, under the run's directory
    run = read_run(run_files[0])
    assert run["group"] == "wb/mnist1d/full/f1" and run["job_type"] == "train"
    assert run["project"] == "pb-test" and run["tags"] == ["ci"]
    assert run["config"]["training"] == spec["training"]
    assert run["config"]["method"] == "full" and run["config"]["seed"] == 0
    epochs = [row for row in run["history"] if "epoch" in row]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert all(row["time_training"] > 0 and "test_acc" in row for row in epochs)
    assert run["summary"]["test_acc"] == metrics["test_acc"]
    assert run["summary"]["steps"] == metrics["steps"]
    assert run["summary"]["time_evaluation"] == metrics["time"]["evaluation"]
    assert run["exit_code"] == 0
    assert done.stderr == ""  # wandb prints no banner into the job's log


def test_a_failed_job_marks_its_run_failed_and_stays_one_line(tmp_path, mnist1d_small_dir):
    spec = mnist1d_spec({"mode": "offline"})
    spec["training"] = {**spec["training"], "lr": 1e6, "momentum": 0.0}
    out = tmp_path / "run"
    done = train(mnist1d_small_dir, out, spec, isolated_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("prunebench train: error: training diverged")
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not (out / "metrics.json").exists()
    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    assert read_run(run_file)["exit_code"] == 1


def test_online_without_api_key_is_one_clear_line(tmp_path, mnist1d_small_dir):
    out = tmp_path / "run"
    done = train(mnist1d_small_dir, out, mnist1d_spec({"mode": "online"}),
                 isolated_env(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("prunebench train: error: W&B run"), lines
    assert "WANDB_API_KEY" in lines[0] and "wandb.mode: offline" in lines[0]
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_workflow_requires_the_api_key_only_online(tmp_path, mode):
    configfile = tmp_path / "wb.yaml"
    configfile.write_text(yaml.safe_dump({
        "experiment": "wb", "methods": ["random"], "fractions": [0.5], "seeds": [0],
        "wandb": {"mode": mode},
        "datasets": {"digits": {"model": "digits_cnn"}}}))
    env = {k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    plan = subprocess.run([str(BIN / "snakemake"), "-n", "--snakefile", str(ROOT / "Snakefile"),
                           "--directory", str(tmp_path), "--configfile", str(configfile),
                           "--cores", "1"], capture_output=True, text=True, env=env, timeout=300)
    if mode == "offline":
        assert plan.returncode == 0, plan.stderr[-2000:]
    else:
        text = plan.stdout + plan.stderr
        assert plan.returncode != 0 and "WANDB_API_KEY" in text, text[-2000:]
