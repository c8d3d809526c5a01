"""The fork server: a job run through it writes the same numbers, to the same log, with the same
exit status as a job run in its own process; signals reach it; without a server jobs still run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prunebench import server as job_server
from prunebench.server import SOCKET_ENV, run_through_server, start_server, stop_server

from .conftest import digits_spec, job_flags

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server():
    started = start_server()
    assert started is not None, "prunebench serve did not come up"
    yield started[1]
    stop_server(started)
    assert not Path(started[1]).exists()


def train(data_dir: Path, out: Path, spec: dict, socket_path: str | None,
          wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    env["OMP_NUM_THREADS"] = "1"  # as Snakemake sets it for a 1-thread job
    if socket_path:
        env[SOCKET_ENV] = socket_path
    log = open(out.with_suffix(".log"), "w")
    cmd = [str(BIN / "prunebench"), "train", "--data", str(data_dir), *job_flags(spec),
           "--seed", "0", "--out", str(out)]
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if not wait:
        return process
    process.wait(timeout=600)
    log.close()
    return process


def test_a_forked_job_matches_a_process_bit_for_bit(tmp_path, digits_dir, server):
    spec = digits_spec(epochs=3, batch_size=64, augment={"crop_padding": 1})
    alone = train(digits_dir, tmp_path / "alone", spec, None)
    forked = train(digits_dir, tmp_path / "forked", spec, server)
    assert alone.returncode == forked.returncode == 0
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text())
            for name in ("alone", "forked"))
    for key in ("test_acc", "test_loss", "train_loss", "steps", "examples_seen", "threads"):
        assert a[key] == b[key], key
    history = [(tmp_path / name / "history.csv").read_text().splitlines() for name in
               ("alone", "forked")]
    assert [r.split(",")[:7] for r in history[0]] == [r.split(",")[:7] for r in history[1]]
    # the job's own stdout went to its own log
    assert "test_acc" in (tmp_path / "forked.log").read_text()


def test_a_user_error_in_a_forked_job_is_one_line_and_status_1(tmp_path, server):
    spec = digits_spec()
    result = train(tmp_path / "nowhere", tmp_path / "bad", spec, server)
    assert result.returncode == 1
    lines = (tmp_path / "bad.log").read_text().strip().splitlines()
    assert len(lines) == 1 and "meta.json is missing" in lines[0]


def test_sigterm_to_the_job_reaches_the_forked_child(tmp_path, digits_dir, server):
    spec = digits_spec(epochs=400, batch_size=16)
    process = train(digits_dir, tmp_path / "long", spec, server, wait=False)
    deadline = time.monotonic() + 120
    while "epoch 1/" not in (tmp_path / "long.log").read_text():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    # the child died too: its log (one line per epoch, each well under a second) stops growing
    time.sleep(2)
    size = (tmp_path / "long.log").stat().st_size
    time.sleep(3)
    assert (tmp_path / "long.log").stat().st_size == size
    assert not (tmp_path / "long" / "metrics.json").exists()


def test_an_unreachable_server_means_the_job_runs_alone(tmp_path, digits_dir):
    spec = digits_spec(epochs=1)
    result = train(digits_dir, tmp_path / "solo", spec, str(tmp_path / "no.sock"))
    assert result.returncode == 0 and (tmp_path / "solo" / "metrics.json").exists()


# `prunebench serve` (cli.cmd_serve), then, once it stopped, its own CUDA state and a fork's
SERVE_THEN_REPORT_CUDA = """
import json, os, sys
from prunebench.cli import main
from prunebench.server import serve
serve(sys.argv[1], lambda argv: main(argv, delegate=False))
import torch
read, write = os.pipe()
if os.fork() == 0:  # torch marks a fork 'bad' (no CUDA in it) if its parent touched CUDA
    os.write(write, b"1" if getattr(torch.cuda, "_is_in_bad_fork", lambda: False)() else b"0")
    os._exit(0)
bad_fork = os.read(read, 1) == b"1"
print(json.dumps({"initialized": torch.cuda.is_initialized(), "bad_fork": bad_fork}))
"""


def test_the_server_process_never_initialises_cuda(tmp_path, digits_dir):
    path = tmp_path / "server.sock"
    process = subprocess.Popen([sys.executable, "-c", SERVE_THEN_REPORT_CUDA, str(path)],
                               stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
        time.sleep(0.1)
    spec = {**digits_spec(epochs=1), "device": "auto"}  # where there is a GPU the job trains on it
    job = train(digits_dir, tmp_path / "job", spec, str(path))
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    log = (tmp_path / "job.log").read_text()
    assert job.returncode == 0, log
    assert job_server.CUDA_REFUSAL.strip() not in log  # it ran in a fork of the server
    # neither initialised (is_initialized) nor touched at all, e.g. by is_available(), which
    # leaves is_initialized() False but makes every later fork unable to use CUDA
    assert json.loads(out.splitlines()[-1]) == {"initialized": False, "bad_fork": False}


def test_a_server_that_initialised_cuda_refuses_to_fork(tmp_path, monkeypatch, capfd):
    import torch

    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    forked = []
    monkeypatch.setattr(os, "fork", lambda: forked.append(True) or 1)
    path = str(tmp_path / "server.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def serve_one():
        conn, _ = listener.accept()
        with conn:
            job_server._fork_job(conn, listener, lambda argv: 0)

    thread = threading.Thread(target=serve_one)
    thread.start()
    monkeypatch.setenv(SOCKET_ENV, path)
    try:
        assert run_through_server(["train", "--help"]) is None  # so the job runs in its own process
    finally:
        thread.join(timeout=30)
        listener.close()
    assert not forked
    err = capfd.readouterr().err
    assert err == job_server.CUDA_REFUSAL and err.count("\n") == 1


def test_the_cuda_check_imports_no_torch():
    code = ("import sys; from prunebench.server import cuda_initialized; "
            "print(cuda_initialized(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_warm_module_exists():
    """The server imports these before it serves; a moved module would stop it starting (and
    every job would quietly run without it)."""
    import importlib.util

    from prunebench.server import WARM_MODULES

    assert [name for name in WARM_MODULES if importlib.util.find_spec(name) is None] == []
