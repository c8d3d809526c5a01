"""The package on its own: a wheel built from the repository installs into a fresh venv (the
runtime lock, nothing else) and the library example runs from outside the repository.

It installs ~150 packages, so it runs only under CI=true or PRUNEBENCH_WHEEL_TEST=1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    os.environ.get("CI") != "true" and os.environ.get("PRUNEBENCH_WHEEL_TEST") != "1",
    reason="installs a fresh venv (minutes): set PRUNEBENCH_WHEEL_TEST=1 (CI=true runs it)")


def run(*command, cwd=None, env=None) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installs_alone_and_runs_the_example_outside_the_repository(tmp_path):
    # build from a copy of what git would commit, so the worktree gains no build/ or egg-info
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
        tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("prunebench-*.whl")

    try:
        _install_and_run_outside(tmp_path, wheel)
    finally:  # the venv holds ~7 GB (torch and CUDA libraries); pytest keeps its last 3 tmps
        shutil.rmtree(tmp_path / "venv", ignore_errors=True)


def _install_and_run_outside(tmp_path: Path, wheel: Path) -> None:
    started = time.perf_counter()
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "-r", ROOT / "requirements.lock")
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel)
    print(f"fresh venv installed in {time.perf_counter() - started:.0f} s")

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(ROOT / "examples" / "crest_mnist1d.py", outside)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run(python, "-c", "import prunebench; print(prunebench.__file__)", cwd=outside,
                env=env)
    assert str(tmp_path / "venv") in where and str(ROOT) not in where
    out = run(python, "crest_mnist1d.py", "--tiny", cwd=outside, env=env)
    accuracy = re.search(r"^final test accuracy: (\d\.\d+)$", out, re.MULTILINE)
    assert accuracy and float(accuracy.group(1)) > 0.2, out
