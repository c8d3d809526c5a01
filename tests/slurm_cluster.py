"""A throw-away one-node Slurm cluster for the integration test, built in a temporary folder.

munged (as the `munge` user, with its own key and socket), slurmctld and slurmd run in the
foreground as children of the test, on free ports, with every state, spool, log and pid file
under the folder; nothing in /etc is read or changed. `stop()` ends exactly the processes it
started, by PID, and removes the folder. Needs root (slurmd launches jobs, munged needs its user).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("munged", "slurmctld", "slurmd", "sinfo", "squeue", "sbatch", "srun", "scancel",
            "scontrol")
PARTITION = "debug"


def missing_requirements() -> str | None:
    """Why a cluster cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd"
    absent = [p for p in PROGRAMS if shutil.which(p) is None]
    if absent:
        return f"Slurm/munge programs missing: {', '.join(absent)} (tests/system/setup.sh)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (install the munge package)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_line(hostname: str) -> str:
    """The node's hardware as slurmd itself detects it, so the node is never drained for a
    mismatch; memory is not a consumable resource (CR_Core), so jobs only need mem <= RealMemory."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    words = out.splitlines()[0].split()
    hardware = [w for w in words if not w.startswith("NodeName=")]
    return f"NodeName={hostname} NodeAddr=127.0.0.1 {' '.join(hardware)} State=UNKNOWN"


def slurm_conf(root: Path, hostname: str, ctld_port: int, slurmd_port: int) -> str:
    return "\n".join([
        "ClusterName=prunebench-test",
        f"SlurmctldHost={hostname}(127.0.0.1)",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root}/munge/munge.socket",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "SchedulerType=sched/backfill",
        "MpiDefault=none",
        "SwitchType=switch/none",
        "ReturnToService=2",
        # the plugin polls with squeue, which sees a finished job for MinJobAge seconds
        "MinJobAge=600",
        "KillWait=5",
        "InactiveLimit=0",
        _node_line(hostname),
        f"PartitionName={PARTITION} Nodes={hostname} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    start_seconds: float = 0.0

    @property
    def env(self) -> dict[str, str]:
        """The environment for Slurm clients (sinfo, sbatch, snakemake) of this cluster."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def logs(self) -> str:
        """The daemons' logs and exit codes, for failure messages."""
        parts = []
        for name, proc in self.processes.items():
            parts.append(f"{name} pid {proc.pid}: exit code {proc.poll()}")
        for name in ("munged", "slurmctld", "slurmd"):
            # the daemon's log file once it has one, else what it printed before opening it
            path = next((p for p in (self.root / f"{name}.log", self.root / f"{name}.out")
                         if p.exists() and p.stat().st_size), None)
            if path is not None:
                parts.append(f"--- {path.name} (last 30 lines) ---\n" + "\n".join(
                    path.read_text(errors="replace").splitlines()[-30:]))
        return "\n".join(parts)

    def node_state(self) -> str:
        done = subprocess.run(["sinfo", "--noheader", "--Node", "--format=%T"],
                              capture_output=True, text=True, env=self.env, timeout=20)
        return done.stdout.strip() if done.returncode == 0 else f"sinfo: {done.stderr.strip()}"

    def cancel_jobs(self, timeout: float = 20.0) -> None:
        """Cancel this cluster's jobs (a failed test may leave some running) and wait for them."""
        user = pwd.getpwuid(os.geteuid()).pw_name
        subprocess.run(["scancel", "--quiet", f"--user={user}"], env=self.env, timeout=20,
                       capture_output=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = subprocess.run(["squeue", "--noheader", "--format=%i"], env=self.env,
                                   capture_output=True, text=True, timeout=20)
            if queue.returncode != 0 or not queue.stdout.strip():
                return
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel running jobs, then SIGTERM each daemon this cluster started (slurmd first),
        SIGKILL after 15 s, and remove the folder."""
        ctld = self.processes.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            self.cancel_jobs()
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.processes.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)


def _write_srun_shim(root: Path, conf: Path) -> None:
    """srun that finds this cluster's slurm.conf. Inside a job the plugin's jobstep executor
    (snakemake-executor-plugin-slurm-jobstep 0.6.1) drops every SLURM_* variable, SLURM_CONF
    included, before it calls srun, so srun would only look in /etc/slurm/slurm.conf, which this
    test leaves alone. PATH survives (sbatch --export=ALL), so a wrapper early on PATH restores it.
    """
    real = shutil.which("srun")
    shim = root / "bin" / "srun"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{real}" "$@"\n')
    shim.chmod(0o755)


def _spawn(cluster: SlurmCluster, name: str, cmd: list[str], **kwargs) -> None:
    out = open(cluster.root / f"{name}.out", "wb")  # noqa: SIM115 - closed with the process
    try:
        cluster.processes[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=cluster.env, **kwargs)
    finally:
        out.close()


def _wait(cluster: SlurmCluster, what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        dead = [n for n, p in cluster.processes.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}\n"
                               f"{cluster.logs()}")
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.logs()}")


def _start_munged(cluster: SlurmCluster, timeout: float) -> None:
    """munged with a fresh key in the cluster's folder; it insists on owning its files."""
    munge = pwd.getpwnam("munge")
    folder = cluster.root / "munge"
    folder.mkdir()
    folder.chmod(0o755)  # clients (root) need search permission on the socket folder
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    for path in (folder, key):
        os.chown(path, munge.pw_uid, munge.pw_gid)
    socket_path = folder / "munge.socket"
    _spawn(cluster, "munged", [
        "munged", "--foreground", f"--socket={socket_path}", f"--key-file={key}",
        f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/munged.seed",
        f"--log-file={folder}/munged.log",  # never the system's /var/log/munge
    ], user=munge.pw_uid, group=munge.pw_gid, extra_groups=[])
    _wait(cluster, "the munge socket", socket_path.exists, timeout)


def start_cluster(timeout: float = 60.0) -> SlurmCluster:
    """Build and start the cluster; on any failure stop what was started and raise with logs."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="prunebench-slurm-"))
    root.chmod(0o755)  # munged (user munge) must reach its folder inside
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    hostname = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    cluster = SlurmCluster(root=root, conf=conf)
    try:
        conf.write_text(slurm_conf(root, hostname, _free_port(), _free_port()))
        _write_srun_shim(root, conf)
        _start_munged(cluster, timeout)
        # -i: ignore any saved state; -D: foreground, so the PID is the daemon's own
        _spawn(cluster, "slurmctld", ["slurmctld", "-D", "-i", "-f", str(conf)])
        _spawn(cluster, "slurmd", ["slurmd", "-D", "-f", str(conf), "-N", hostname])
        _wait(cluster, f"node {hostname} to be idle in sinfo",
              lambda: cluster.node_state() == "idle", timeout)
    except BaseException:
        cluster.stop()
        raise
    cluster.start_seconds = time.monotonic() - started
    return cluster
