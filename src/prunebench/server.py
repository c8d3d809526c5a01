"""A fork server that removes the per-job start-up: Python, torch and our modules are imported
once, and each job is a fork of that warm process.

Every Snakemake job is a new `prunebench ...` process, and importing torch alone takes 1-2.5 s
on a small CPU machine, as long as a small training run itself. When the workflow runs jobs on
this machine it starts `prunebench serve` (Snakefile `onstart`) and puts its socket in
$PRUNEBENCH_SERVER; a job's `prunebench` process then sends its arguments, working directory,
environment and its stdin/stdout/stderr (file descriptors, over a UNIX socket) to the server,
which forks; the child runs the command exactly as the job would have, writing to the job's
own log, and the job exits with the child's status. Signals sent to the job (Snakemake
cancelling it) are forwarded to the child. Without a server, or when it cannot be reached (a
cluster node), the job runs in its own process as before: the numbers are the same either way.

A fork can use the GPU only if its parent never initialised CUDA, so the server must not: it
only imports modules (none of which may touch the GPU), and it refuses to fork once CUDA is
initialised in it (the job then runs in its own process, with one line in its log saying why).
"""

from __future__ import annotations

import atexit
import importlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

SOCKET_ENV = "PRUNEBENCH_SERVER"
# Commands a job may hand to the server (not the ones that start or inspect it).
FORKED_COMMANDS = ("prepare", "proxy", "proxy-score", "mean-scores", "select", "train",
                   "aggregate", "report")
# Imported once in the server, so no forked job pays for them (torch._dynamo: torch.optim
# imports it on the first optimizer a job builds, 1.3 s here).
WARM_MODULES = ("torch", "torch._dynamo", "torch.func", "numpy", "pandas",
                "prunebench.train.run", "prunebench.scores.proxy",
                "prunebench.selection.static.run", "prunebench.data",
                "prunebench.report.read.aggregate", "prunebench.report.render.html")
_LENGTH = struct.Struct("!Q")
_STATUS = struct.Struct("!i")
REFUSED = 0  # sent instead of a child's process id: the server did not fork, run the job alone
CUDA_REFUSAL = ("prunebench: the job server has initialised CUDA, so a fork of it could not use "
                "the GPU; this job runs in its own process instead (set speed.job_server: false "
                "to start no server)\n")


# -- the job's side ---------------------------------------------------------------------------
def run_through_server(argv: list[str]) -> int | None:
    """Run `prunebench argv` in a fork of the server; None when no server can take it (the
    caller then runs the command itself)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or not argv or argv[0] not in FORKED_COMMANDS:
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
    except OSError:
        client.close()
        return None
    with client:
        request = json.dumps({"argv": argv, "cwd": os.getcwd(),
                              "env": dict(os.environ)}).encode()
        socket.send_fds(client, [b"F"], [0, 1, 2])
        client.sendall(_LENGTH.pack(len(request)) + request)
        pid_bytes = _read_exactly(client, _LENGTH.size)
        if pid_bytes is None:
            print("prunebench: the job server closed the connection; rerun the job",
                  file=sys.stderr)
            return 1
        child = _LENGTH.unpack(pid_bytes)[0]
        if child == REFUSED:  # the server wrote why to our stderr
            return None

        def forward(signum, _frame):
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        status = _read_exactly(client, _STATUS.size)
    if status is None:
        print(f"prunebench: the job's process {child} ended without a status (killed?)",
              file=sys.stderr)
        return 1
    return _STATUS.unpack(status)[0]


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            part = sock.recv(size - len(data))
        except InterruptedError:
            continue
        if not part:
            return None
        data += part
    return data


# -- the server's side ------------------------------------------------------------------------
def serve(path: str, run_job: Callable[[list[str]], int], *, parent: int | None = None,
          idle_exit: float | None = None) -> None:
    """Import the heavy modules, then fork one child per request, which runs
    `run_job(the job's argv)` (the CLI hands in its own entry point, so this module never
    imports the CLI), until told to stop (SIGTERM), until `parent` (a process id) is gone, or
    after `idle_exit` seconds without a request."""
    for name in WARM_MODULES:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    last = time.monotonic()
    try:
        while not stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                gone = parent is not None and not _alive(parent)
                idle = idle_exit is not None and time.monotonic() - last > idle_exit
                if gone or idle:
                    break
                continue
            last = time.monotonic()
            with conn:
                _fork_job(conn, listener, run_job)
    finally:
        listener.close()
        Path(path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fork_job(conn: socket.socket, listener: socket.socket,
              run_job: Callable[[list[str]], int]) -> None:
    conn.settimeout(30)
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    header = _read_exactly(conn, _LENGTH.size)
    if len(fds) != 3 or header is None:
        for fd in fds:
            os.close(fd)
        return
    request = json.loads(_read_exactly(conn, _LENGTH.unpack(header)[0]))
    if cuda_initialized():
        os.write(fds[2], CUDA_REFUSAL.encode())
        for fd in fds:
            os.close(fd)
        conn.sendall(_LENGTH.pack(REFUSED))
        return
    pid = os.fork()
    if pid == 0:  # the job
        listener.close()
        conn.settimeout(None)
        code = _run_job(conn, fds, request, run_job)
        os._exit(code)
    for fd in fds:
        os.close(fd)


def cuda_initialized() -> bool:
    """Whether this process has initialised CUDA; torch is not imported to find out (a process
    that never imported it never initialised CUDA through it)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


def _run_job(conn: socket.socket, fds: list[int], request: dict,
             run_job: Callable[[list[str]], int]) -> int:
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["prunebench", *request["argv"]]
    _threads_as_a_new_process()
    conn.sendall(_LENGTH.pack(os.getpid()))
    code = 1
    try:
        code = run_job(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a bug: the traceback goes to the job's log, as in a process
        traceback.print_exc()
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        conn.sendall(_STATUS.pack(code))
    except OSError:
        pass
    return code


def _threads_as_a_new_process() -> None:
    """A new process's torch takes its thread count from OMP_NUM_THREADS at import (Snakemake
    sets it to the job's threads); the fork imported torch long ago, so apply it now."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        import torch

        torch.set_num_threads(int(value))


# -- starting and stopping it (the workflow's onstart / onsuccess / onerror) -------------------
def start_server(timeout: float = 60.0) -> tuple[subprocess.Popen, str] | None:
    """Start `prunebench serve` for the calling process; (process, socket path) once it
    listens, or None if it does not come up (jobs then start as plain processes)."""
    folder = tempfile.mkdtemp(prefix="prunebench-")
    path = os.path.join(folder, "server.sock")
    command = [sys.executable, "-m", "prunebench.cli", "serve", "--socket", path,
               "--parent", str(os.getpid())]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if os.path.exists(path):
            return process, path
        time.sleep(0.05)
    process.kill()
    return None


def stop_server(server: tuple[subprocess.Popen, str] | None) -> None:
    if server is None:
        return
    process, path = server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    Path(path).unlink(missing_ok=True)
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass
