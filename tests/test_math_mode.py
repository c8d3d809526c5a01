"""Reproducible CPU math (prunebench.math_mode): a job's numbers do not depend on the math
libraries' instruction set, so they are those of any AVX2 machine.

The subprocess tests run real `prunebench train` jobs (the mode is entered before torch is
imported, which this pytest process has done already). On this project's machines (AVX-512)
the native path differs from the AVX2 one, which is what makes the mode necessary; the tests
assert only what holds on every AVX2 CPU: that limiting or widening the libraries from outside
changes nothing, and that the mode equals the libraries limited to AVX2 by hand."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from prunebench import math_mode
from prunebench.errors import UserError

from .conftest import digits_spec, split_job

pytestmark = pytest.mark.skipif(not math_mode.cpu_has_avx2(),
                                reason="the reproducible mode needs a CPU with AVX2 and FMA")

# every library limited to AVX2 from outside, in a process that did not enter the mode; oneDNN
# has no such switch, so this runner turns it off itself, as the mode does
LIMITED_BY_HAND = {"MKL_CBWR": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                   "NUMBA_CPU_NAME": "haswell"}
HAND_RUNNER = ("import sys, torch; torch.backends.mkldnn.enabled = False; "
               "from prunebench.cli import main; sys.exit(main(sys.argv[1:], delegate=False))")
# what an outside setting would change if the mode let it through
OTHER_PATHS = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default",
               "ONEDNN_MAX_CPU_ISA": "AVX2", "NUMBA_CPU_NAME": "generic"}


def run_job(tmp_path, digits_dir, name, method, fraction, *, env=None, runner=None,
            reproducible=True):
    spec, ops = split_job(digits_spec(epochs=2, batch_size=64, lr=0.05), method=method,
                          fraction=fraction)
    ops = replace(ops, speed=replace(ops.speed, reproducible_math=reproducible))
    out = tmp_path / name
    command = ([sys.executable, "-c", runner, "train"] if runner
               else [sys.executable, "-m", "prunebench.cli", "train"])
    environ = {k: v for k, v in os.environ.items()
               if k not in (*OTHER_PATHS, "PRUNEBENCH_SERVER")}
    environ.update(env or {})
    subprocess.run([*command, "--data", str(digits_dir), "--spec", spec.to_json(),
                    "--ops", ops.to_json(), "--seed", "0", "--out", str(out), "--threads", "1"],
                   check=True, env=environ, capture_output=True, text=True)
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "history.csv") as fh:
        losses = [(row["train_loss"], row["test_loss"], row["test_acc"])
                  for row in csv.DictReader(fh)]
    return metrics, losses


@pytest.mark.parametrize("method,fraction", [("full", 1.0), ("crest", 0.3)])
def test_outside_settings_change_nothing(tmp_path, digits_dir, method, fraction):
    plain, plain_losses = run_job(tmp_path, digits_dir, "plain", method, fraction)
    other, other_losses = run_job(tmp_path, digits_dir, "other", method, fraction,
                                  env=OTHER_PATHS)
    assert plain["math"] == other["math"] == math_mode.REPRODUCIBLE
    assert other_losses == plain_losses  # every epoch's losses, to the last digit
    assert (other["test_acc"], other["test_loss"]) == (plain["test_acc"], plain["test_loss"])


def test_the_mode_is_the_libraries_limited_to_avx2(tmp_path, digits_dir):
    mode, mode_losses = run_job(tmp_path, digits_dir, "mode", "full", 1.0)
    hand, hand_losses = run_job(tmp_path, digits_dir, "hand", "full", 1.0,
                                env=LIMITED_BY_HAND, runner=HAND_RUNNER, reproducible=False)
    assert hand["math"] == math_mode.NATIVE  # torch came first: the job did not enter it
    assert hand_losses == mode_losses


def test_native_math_is_recorded(tmp_path, digits_dir):
    native, _ = run_job(tmp_path, digits_dir, "native", "full", 1.0, reproducible=False)
    assert native["math"] == math_mode.NATIVE


def test_enter_sets_every_library_before_import(monkeypatch):
    environ = {}
    monkeypatch.setattr(math_mode, "_state", {"mode": None})
    monkeypatch.setattr(math_mode, "_MATH_MODULES", ("a_module_nobody_imports",))
    assert math_mode.enter(True, environ) == math_mode.REPRODUCIBLE
    assert environ == math_mode.LIBRARY_SETTINGS
    assert math_mode.active() == math_mode.REPRODUCIBLE
    with pytest.raises(UserError, match="job server started in reproducible-avx2 math"):
        math_mode.enter(False, environ)  # a fork of a server in the other mode


def test_enter_after_torch_stays_native(monkeypatch):
    import torch  # noqa: F401  (a test process that imported torch before the CLI ran)

    environ = {}
    monkeypatch.setattr(math_mode, "_state", {"mode": None})
    assert math_mode.enter(True, environ) == math_mode.NATIVE
    assert environ == {}
    assert math_mode.active() == math_mode.NATIVE


def test_cpu_without_avx2_runs_native(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse sse2 sse4_1 sse4_2 avx\n")
    assert not math_mode.cpu_has_avx2(str(cpuinfo))
    cpuinfo.write_text("flags\t\t: fpu sse2 avx fma avx2 avx512f\n")
    assert math_mode.cpu_has_avx2(str(cpuinfo))
    assert not math_mode.cpu_has_avx2(str(tmp_path / "absent"))


def test_cpu_compile_is_refused_in_the_mode(monkeypatch):
    monkeypatch.setattr(math_mode, "_state", {"mode": math_mode.REPRODUCIBLE})
    with pytest.raises(UserError, match="speed.reproducible_math: false"):
        math_mode.refuse_cpu_compile(True, "cpu")
    math_mode.refuse_cpu_compile(True, "cuda")
    math_mode.refuse_cpu_compile(False, "cpu")
