"""Failures a user causes end in one line, exit status 1, no traceback and no partial result.

Training diverging and a missing GPU go through the CLI. Full disks and refused writes are
simulated by raising the OSError the kernel would (root ignores file permissions), and, where
the test may mount file systems, produced for real on a tiny tmpfs: full, then read-only.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prunebench import atomic
from prunebench.atomic import save_npy, write_json
from prunebench.errors import UserError

from .conftest import digits_spec, job_flags

BIN = Path(sys.executable).parent


def prunebench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "prunebench"), *args], capture_output=True, text=True,
                          timeout=300, env=env)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


SELECT_RANDOM_HALF = '{"base_method": "random", "options": {}, "fraction": 0.5}'


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_diverging_loss_names_epoch_and_learning_rate(tmp_path, digits_dir):
    out = tmp_path / "run"
    flags = job_flags(digits_spec(lr=1e6, momentum=0.0, epochs=3))
    line = one_error_line(prunebench("train", "--data", str(digits_dir), *flags,
                                     "--seed", "0",
                                     "--out", str(out), "--threads", "1"))
    assert "diverged" in line and "epoch 1" in line and "learning rate 1e+06" in line, line
    assert "lower 'lr'" in line
    assert not (out / "metrics.json").exists() and not (out / "history.csv").exists()
    assert not [name for name in leftovers(out) if name.endswith(".tmp")]


def test_cuda_without_a_gpu_is_one_clear_line(tmp_path, digits_dir):
    # an empty CUDA_VISIBLE_DEVICES hides every GPU, so this holds on GPU machines too
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    flags = job_flags({**digits_spec(), "device": "cuda"})
    out = tmp_path / "run"
    line = one_error_line(prunebench("train", "--data", str(digits_dir), *flags,
                                     "--seed", "0",
                                     "--out", str(out), env=env))
    assert "'device' is 'cuda' but no GPU is visible" in line
    assert "CUDA_VISIBLE_DEVICES=''" in line and "device: auto" in line
    assert not out.exists()


def _raise(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def test_disk_full_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    def save_half_then_fail(fh, array):
        fh.write(b"\x93NUMPY half an array")  # what a full disk leaves behind
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.np, "save", save_half_then_fail)
    target = tmp_path / "scores" / "el2n.npy"
    with pytest.raises(UserError) as caught:
        save_npy(target, np.zeros(10, np.float32))
    message = str(caught.value)
    assert str(target) in message and "No space left on device" in message
    assert "free space" in message
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("code, fix", [(errno.EACCES, "permissions"),
                                       (errno.EPERM, "permissions"),
                                       (errno.EROFS, "read-only")])
def test_refused_rename_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, code, fix):
    target = tmp_path / "metrics.json"
    write_json(target, {"test_acc": 0.5})
    monkeypatch.setattr(atomic.os, "replace", _raise(code))
    with pytest.raises(UserError, match=fix) as caught:
        write_json(target, {"test_acc": 0.9})
    assert str(target) in str(caught.value) and os.strerror(code) in str(caught.value)
    assert json.loads(target.read_text()) == {"test_acc": 0.5}
    assert leftovers(tmp_path) == ["metrics.json"]


def test_refused_temp_file_names_the_result_path(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.tempfile, "mkstemp", _raise(errno.EACCES))
    target = tmp_path / "summary.csv"
    with pytest.raises(UserError, match="cannot write .*summary.csv: Permission denied"):
        atomic.write_text(target, "a,b\n")
    assert leftovers(tmp_path) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs at tmp_path/disk, unmounted afterwards; skips where mounting is not
    allowed (not root, or a container without CAP_SYS_ADMIN)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "prunebench-test",
                              str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_real_full_then_read_only_disk_through_the_cli(tmp_path, tiny_tmpfs):
    labels = tmp_path / "train_y.npy"
    np.save(labels, np.arange(100_000, dtype=np.int64) % 10)  # 50,000 kept: 400 KB of indices
    out = tiny_tmpfs / "subsets" / "seed0.npy"

    def select() -> str:
        return one_error_line(prunebench("select", "--labels", str(labels), "--spec",
                                         SELECT_RANDOM_HALF, "--seed", "0",
                                         "--out", str(out)))

    line = select()
    assert f"cannot write {out}: No space left on device; free space" in line, line
    assert leftovers(out.parent) == []

    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    line = select()
    assert "Read-only file system" in line and "writable folder" in line, line
    assert leftovers(out.parent) == []


def test_cli_reports_environment_os_errors_in_one_line(monkeypatch, capsys):
    from prunebench import cli

    def refused(args):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/results/x/metrics.json")

    monkeypatch.setattr(cli, "cmd_check_config", refused)
    assert cli.main(["check-config", "config.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["prunebench check-config: error: Permission denied "
                                "(/results/x/metrics.json); fix the permissions of that folder, "
                                "or run the workflow in a folder you own"]

    def bug(args):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/a/bug")

    monkeypatch.setattr(cli, "cmd_check_config", bug)
    with pytest.raises(FileNotFoundError):  # not the user's machine: keep the traceback
        cli.main(["check-config", "config.yaml"])
