"""The workflow on a real one-node Slurm cluster, through the official executor plugin and the
repository's own Slurm profile (workflow/profiles/slurm).

The profile's GPU requests are replaced on the command line (the node has no GPU, 2 CPUs); the
plugin polls with squeue and submits without an account, because this cluster keeps no
accounting database. Skips only when not root or the Slurm/munge programs are missing; under
CI=true (where tests/system/setup.sh installed them) it never skips.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from prunebench.plan import Run

from .conftest import ROOT
from .slurm_cluster import missing_requirements, start_cluster
from .test_pipeline import plan_of

CONFIG = {
    "experiment": "slurm",
    "protocol": "budget",
    "device": "cpu",
    "datasets": {"mnist1d": {
        "model": "mnist1d_cnn", "epochs": 1, "batch_size": 64, "lr": 0.05,
        "options": {"train_size": 300, "test_size": 100},
    }},
    "methods": ["random", "el2n"],
    "fractions": [0.5],
    "seeds": [0],
    "proxy": {"seeds": 1, "epochs": 1, "score_epoch": 1, "scores": ["el2n"]},
}
# train_proxy, mean_scores, select_subset x 2 (random, el2n), train x 3 (full, random, el2n)
SLURM_JOBS = {"train_proxy": 1, "mean_scores": 1, "select_subset": 2, "train": 3}


@pytest.fixture(scope="module")
def cluster():
    reason = missing_requirements()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Slurm test cannot run: {reason}")
        pytest.skip(reason)
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def slurm_snakemake(cluster, workdir: Path, configfile: Path) -> list[str]:
    """The command: the real profile, minus GPUs, with settings for an accounting-free cluster."""
    bindir = Path(sys.executable).parent
    return [
        str(bindir / "snakemake"), "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(configfile),
        "--profile", str(ROOT / "workflow" / "profiles" / "slurm"),
        "--slurm-status-command", "squeue", "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks", "1", "--slurm-keep-successful-logs",
        "--default-resources", "mem_mb=500", "runtime=10",
        "--set-resources", "train:mem_mb=1000", "train_proxy:mem_mb=1000",
        "--set-threads", "train=1", "train_proxy=1",
        "--jobs", "2", "--latency-wait", "10", "--retries", "0",
    ]


def test_workflow_runs_on_slurm(cluster, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    configfile = workdir / "slurm.yaml"
    configfile.write_text(yaml.safe_dump(CONFIG))
    env = {**cluster.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cluster.env['PATH']}"}
    started = time.monotonic()
    done = subprocess.run(slurm_snakemake(cluster, workdir, configfile), capture_output=True,
                          text=True, env=env, timeout=900)
    seconds = time.monotonic() - started
    print(f"Slurm cluster up in {cluster.start_seconds:.1f} s; workflow on Slurm {seconds:.1f} s")
    assert done.returncode == 0, (done.stderr[-6000:] + "\n" + cluster.logs())

    results = workdir / "results" / "slurm"
    plan = plan_of(CONFIG)
    expected = [
        results / "summary.csv", results / "report" / "index.html",
        workdir / plan.proxy_dir("mnist1d", 0) / "el2n_e1.npy",
        workdir / plan.score_file("mnist1d", "el2n"),
        *(workdir / plan.run_dir(Run("mnist1d", method, fraction, 0)) / "metrics.json"
          for method, fraction in (("full", 1.0), ("random", 0.5), ("el2n", 0.5))),
    ]
    assert [p for p in expected if not p.exists()] == []
    summary = pd.read_csv(results / "summary.csv")
    assert sorted(summary.method) == ["el2n", "full", "random"]
    assert summary.test_acc.between(0, 1).all()

    # every non-local job went through Slurm: Snakemake logged a Slurm job id and the plugin's
    # log file for it (kept by --slurm-keep-successful-logs), and the controller itself
    # records each of those jobs as COMPLETED
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", done.stderr)
    per_rule = Counter(Path(log).relative_to(workdir / ".snakemake" / "slurm_logs").parts[0]
                       for _, log in submitted)
    assert per_rule == {f"rule_{rule}": n for rule, n in SLURM_JOBS.items()}, done.stderr[-4000:]
    for job_id, log in submitted:
        assert Path(log).name == f"{job_id}.log" and Path(log).is_file(), log
    assert "localrule prepare_dataset:" in done.stderr  # data, aggregate, report stay local
    queue = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T"],
                           capture_output=True, text=True, env=cluster.env, check=True)
    states = dict(line.split("|") for line in queue.stdout.split())
    assert {states.get(job_id) for job_id, _ in submitted} == {"COMPLETED"}, states


RESUME_CONFIG = {
    **CONFIG, "experiment": "resume", "checkpoint_every": 1, "methods": ["full"],
    "datasets": {"mnist1d": {
        "model": "mnist1d_cnn", "epochs": 40, "batch_size": 128, "lr": 0.05,
        "options": {"train_size": 20000, "test_size": 500},
    }},
}
RESUME_RUN = Path(plan_of(RESUME_CONFIG).run_dir(Run("mnist1d", "full", 1.0, 0)))


def test_scancelled_job_is_retried_and_resumes_from_its_checkpoint(cluster, tmp_path):
    """scancel the training job once it has saved a checkpoint: Snakemake resubmits it (the
    profile's retries), the new Slurm job resumes after the saved epoch, and the run ends with
    the metrics of an uninterrupted run of the same seed (here a local one)."""
    work, reference = tmp_path / "slurm", tmp_path / "local"
    for folder in (work, reference):
        folder.mkdir()
        (folder / "resume.yaml").write_text(yaml.safe_dump(RESUME_CONFIG))
    env = {**cluster.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cluster.env['PATH']}"}
    command = slurm_snakemake(cluster, work, work / "resume.yaml")
    command[command.index("--retries") + 1] = "1"
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env)
    checkpoint = work / RESUME_RUN / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint appeared:\n" + job.communicate()[0][-4000:]
    running = subprocess.run(["squeue", "--noheader", "--states=RUNNING", "--format=%i"],
                             capture_output=True, text=True, env=cluster.env, check=True)
    cancelled = running.stdout.split()
    assert len(cancelled) == 1, running.stdout  # the training job is the only Slurm job now
    subprocess.run(["scancel", cancelled[0]], env=cluster.env, check=True)
    output, _ = job.communicate(timeout=600)
    assert job.returncode == 0, output[-6000:] + "\n" + cluster.logs()

    submitted = re.findall(r"submitted with SLURM jobid (\d+)", output)
    assert len(submitted) == 2 and submitted[0] == cancelled[0], output[-4000:]
    log = (work / "logs/resume/train/mnist1d/full/f1/seed0.log").read_text()
    assert "resuming from" in log and "after epoch" in log, log[-2000:]
    assert not checkpoint.exists()  # gone once the results exist

    local = subprocess.run([str(Path(sys.executable).parent / "snakemake"),
                            str(RESUME_RUN / "metrics.json"),
                            "--snakefile", str(ROOT / "Snakefile"), "--directory", str(reference),
                            "--configfile", str(reference / "resume.yaml"),
                            "--profile", str(ROOT / "workflow" / "profiles" / "local"),
                            "--cores", "2", "--set-threads", "train=1"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert local.returncode == 0, local.stderr[-4000:]
    resumed = json.loads((work / RESUME_RUN / "metrics.json").read_text())
    whole = json.loads((reference / RESUME_RUN / "metrics.json").read_text())
    for key in ("test_acc", "test_loss", "train_loss", "steps", "examples_seen"):
        assert resumed[key] == whole[key], key


SIZES_CONFIG = {
    **CONFIG, "experiment": "sizes", "methods": ["random"], "fractions": [0.1],
    "datasets": {"mnist1d": {
        "model": "mnist1d_cnn", "epochs": 1, "batch_size": 128, "lr": 0.05,
        "options": {"train_size": 20000, "test_size": 500},
    }},
}
TARGET_S = 200  # the `full` jobs' training time, sized from this machine's calibration


def time_limits(cluster, output: str, workdir: Path) -> list[tuple[str, int, str]]:
    """(job folder under slurm_logs, sbatch -t in minutes, final state) per submitted job, in
    submission order."""
    queue = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%l|%T"],
                           capture_output=True, text=True, env=cluster.env, check=True)
    seen = {}
    for line in queue.stdout.split():
        job_id, limit, state = line.split("|")
        parts = [int(p) for p in limit.replace("-", ":").split(":")]
        seen[job_id] = ({2: parts[0], 3: parts[0] * 60 + parts[1]}[len(parts)], state)
    out = []
    for job_id, log in re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", output):
        folder = str(Path(log).relative_to(workdir / ".snakemake" / "slurm_logs").parent)
        out.append((folder, *seen[job_id]))
    return out


def planned(cluster, workdir: Path, config: dict) -> tuple[Path, dict]:
    """`prunebench plan` in `workdir` (calibrating on this machine the first time)."""
    configfile = workdir / f"{config['experiment']}.yaml"
    configfile.write_text(yaml.safe_dump(config))
    env = {**cluster.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cluster.env['PATH']}"}
    plan = subprocess.run([sys.executable, "-m", "prunebench.cli", "plan", str(configfile),
                           "--device", "cpu",
                           "--schema", str(ROOT / "workflow" / "schemas" / "config.schema.yaml")],
                          cwd=workdir, capture_output=True, text=True, env=env, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    print(plan.stdout)
    return configfile, env


def calibrations(workdir: Path) -> list[Path]:
    return sorted((workdir / "results" / "calibration").rglob("cpu.json"))


def sized(config: dict, experiment: str, methods: list[str], epochs: int) -> dict:
    data = {**config["datasets"]["mnist1d"], "epochs": epochs}
    return {**config, "experiment": experiment, "methods": methods, "datasets": {"mnist1d": data}}


def test_time_limits_come_from_the_plan_and_grow_on_retry(cluster, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    planned(cluster, workdir, SIZES_CONFIG)  # calibrates
    rate = json.loads(calibrations(workdir)[0].read_text())["train_per_s"]
    epochs = max(2, round(TARGET_S * rate / 20000))

    # two training jobs of different size: full (~TARGET_S) and random at f = 0.1
    config = sized(SIZES_CONFIG, "sizes", ["random"], epochs)
    configfile, env = planned(cluster, workdir, config)
    plan = pd.read_csv(workdir / "results" / "sizes" / "plan.csv")
    predicted = plan[plan.rule == "train"].set_index("job").predicted_s
    done = subprocess.run(slurm_snakemake(cluster, workdir, configfile), capture_output=True,
                          text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-6000:] + "\n" + cluster.logs()
    limits = {folder: minutes for folder, minutes, _ in time_limits(cluster, done.stderr,
                                                                    workdir)
              if folder.startswith("rule_train/")}
    print(f"{epochs} epochs; predicted s {predicted.to_dict()}; sbatch -t minutes {limits}")
    full = next(m for f, m in limits.items() if "full" in f)
    small = next(m for f, m in limits.items() if "random" in f)
    assert full > small, limits
    assert full * 60 >= predicted["mnist1d/full/f1/seed0"]
    assert small * 60 >= predicted["mnist1d/random/f0.1/seed0"]

    # a prediction far too short (a calibration that claims 100x this machine's speed, as one
    # measured on a faster machine would): the full job passes its limit, Slurm stops it, and
    # Snakemake resubmits it with a longer one until it fits
    for path in calibrations(workdir):
        rate = json.loads(path.read_text())
        rate.update(train_per_s=rate["train_per_s"] * 100, eval_per_s=rate["eval_per_s"] * 100)
        path.write_text(json.dumps(rate))
    configfile, env = planned(cluster, workdir, sized(SIZES_CONFIG, "retry", ["full"], epochs))
    command = slurm_snakemake(cluster, workdir, configfile)
    command[command.index("--retries") + 1] = "2"
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1500)
    assert done.returncode == 0, done.stderr[-6000:] + "\n" + cluster.logs()
    attempts = [(m, state) for f, m, state in time_limits(cluster, done.stderr, workdir)
                if f.startswith("rule_train/")]
    print(f"retried job (sbatch -t minutes, state): {attempts}")
    assert len(attempts) >= 2 and attempts[0][1] == "TIMEOUT", attempts
    assert [m for m, _ in attempts] == sorted({m for m, _ in attempts}), attempts  # growing
    assert attempts[-1][1] == "COMPLETED", attempts
