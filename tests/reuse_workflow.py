"""One small real workflow run with W&B offline, shared by the tests of lineage, export and
the store: each of their modules asks `workflow_dir`, which runs it once per session. It runs
with no network where that can be arranged (root: a network namespace of its own), so an
offline W&B run that tried to reach the server would fail the workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .test_tracking import BIN, ROOT, isolated_env, offline_network

# every kind of lineage edge: a proxy (2 seeds, 2 scores), a mean score (el2n), a static subset
# (el2n), dynamic runs (random_epoch logs no selections, rs2 logs one per epoch) and full
CONFIG = {
    "experiment": "lineage", "device": "cpu", "wandb": {"mode": "offline", "project": "pb"},
    "methods": ["el2n", "random_epoch", "rs2"], "fractions": [0.5], "seeds": [0],
    "datasets": {"mnist1d": {"model": "mnist1d_cnn", "epochs": 2, "batch_size": 64,
                             "options": {"train_size": 300, "test_size": 100}}},
    "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1, "scores": ["el2n", "forgetting"]},
}
CONFIG_FILE = "lineage.yaml"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = isolated_env(workdir)
    env["PATH"] = f"{BIN}:{env['PATH']}"
    cmd = [*offline_network(), str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(workdir / CONFIG_FILE),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


_RUN: dict[Path, Path] = {}  # the session's base folder -> its workflow directory


def workflow_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflow directory after the run (results/, the config as lineage.yaml); the run
    happens once per pytest session, whichever module asks first."""
    base = tmp_path_factory.getbasetemp()
    if base not in _RUN:
        workdir = tmp_path_factory.mktemp("reuse")
        (workdir / CONFIG_FILE).write_text(yaml.safe_dump(CONFIG))
        done = snakemake(workdir)
        if done.returncode != 0:
            pytest.fail(f"the workflow failed: {done.stderr[-4000:]}")
        _RUN[base] = workdir
    return _RUN[base]
