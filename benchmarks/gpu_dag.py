"""The CIFAR-10 grid run end to end through Snakemake on a GPU: per-job start-up, training,
selection and evaluation, images/s, GPU memory, CREST's selection share, and the throughput of
1, 2 and 4 jobs sharing the GPU (`resources: gpu` slots of workflow/profiles/gpu).

    python benchmarks/gpu_dag.py --epochs 10                     # a GPU machine, ~4 min
    python benchmarks/gpu_dag.py --device cpu --per-batch 200 --n-test 200 --epochs 1 \\
        --concurrency 1 2 --concurrency-epochs 1                 # a CPU smoke run

Data: CIFAR-10 in its python-pickle format (5 train batches + test_batch + batches.meta),
written with **random pixels and labels** (timing only: the accuracies are chance), and read
back through prunebench's own CIFAR reader, with the md5 sums of the written files in place
of torchvision's list (the only change from a real run; tests/dataset_fixtures.py writes them).
The grid is experiments/cifar10.yaml as it stands (its methods, fraction, budget protocol and
CREST's Table 6 options: r = 1% of N, adaptive interval) with `--epochs` in place of 200 and
`--seeds` seeds, run by `snakemake --profile workflow/profiles/gpu --resources gpu=SLOTS`.
First the same `full` jobs (one per seed 0..3) run with 1, 2 and 4 slots, one set after the
other, and the script prints jobs/min and images/s for each. All figures are written to
WORKDIR/gpu_dag.json as well.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.dataset_fixtures: the CIFAR writer the tests use

from prunebench import paths  # noqa: E402
from prunebench.config import read_config_file  # noqa: E402
from prunebench.data import prepare_dataset  # noqa: E402
from prunebench.plan import ExperimentPlan  # noqa: E402
from tests.dataset_fixtures import fixture_layout, write_cifar  # noqa: E402

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
EXPERIMENT = ROOT / "experiments/cifar10.yaml"
PHASES = ("training", "selection", "evaluation")


def write_config(path: Path, *, experiment: str, epochs: int, seeds: list[int], device: str,
                 methods: list[str] | None = None) -> Path:
    """experiments/cifar10.yaml with the epochs, seeds, device (and methods) replaced."""
    config = yaml.safe_load(EXPERIMENT.read_text())
    config.update(experiment=experiment, seeds=seeds, device=device)
    config["datasets"]["cifar10"]["epochs"] = epochs
    if methods:
        config["methods"] = methods
        config.pop("reference_results", None)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prepare(workdir: Path, config_path: Path, per_batch: int, n_test: int) -> float:
    """Random CIFAR-10 pickles, prepared into the folder the workflow expects; seconds."""
    resources = workdir / "resources" / "cifar10"
    write_cifar(resources, "cifar10", per_batch=per_batch, n_test=n_test)
    config = read_config_file(str(config_path), str(SCHEMA))
    out = workdir / ExperimentPlan(config).data_dir("cifar10")
    layout = fixture_layout("cifar10", resources)
    start = time.perf_counter()
    with mock.patch("prunebench.data.cifar.cifar_layout", return_value=layout):
        prepare_dataset("cifar10", config["datasets"]["cifar10"].get("options", {}), out,
                        resources)
    return time.perf_counter() - start


def snakemake(workdir: Path, config_path: Path, slots: int, cores: int,
              targets: list[str] = (), timeout: float | None = None) -> tuple[float, bool]:
    """Runs the workflow on `config_path` in `workdir` (its log beside the config): wall
    seconds, and whether `timeout` stopped it (the jobs finished by then keep their files)."""
    bindir = Path(sys.executable).parent
    executable = shutil.which("snakemake") or str(bindir / "snakemake")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    command = [executable, *targets, "--snakefile", str(ROOT / "Snakefile"),
               "--profile", str(ROOT / "workflow/profiles/gpu"), "--directory", str(workdir),
               "--configfile", str(config_path), "--cores", str(cores),
               "--resources", f"gpu={slots}", "--quiet"]
    log = config_path.with_suffix(".log")
    start = time.perf_counter()
    with open(log, "w") as fh:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=fh,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code, stopped = process.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGINT)  # Snakemake stops its jobs on SIGINT
            code, stopped = process.wait(), True
    wall = time.perf_counter() - start
    if code and not stopped:
        sys.exit(f"snakemake failed on {config_path.name}; the end of {log}:\n"
                 + "\n".join(log.read_text().splitlines()[-30:]))
    return wall, stopped


def job_seconds(tsv: Path) -> float:
    with open(tsv) as fh:
        return float(next(csv.DictReader(fh, delimiter="\t"))["s"])


def run_rows(workdir: Path, config_path: Path) -> list[dict]:
    """One row per finished training job: its phases, outside-the-process time, rate and
    memory."""
    plan = ExperimentPlan(read_config_file(str(config_path), str(SCHEMA)))
    rows = []
    for run in plan.runs():
        path = workdir / plan.run_dir(run) / "metrics.json"
        tsv = workdir / paths.train_benchmark(plan.experiment, run.dataset, run.method,
                                              run.fraction, run.seed)
        if not (path.exists() and tsv.exists()):
            continue  # not finished (a grid stopped by --grid-timeout)
        metrics = json.loads(path.read_text())
        job = job_seconds(tsv)
        phases = {name: metrics["time"].get(name, 0.0) for name in PHASES}
        inside = metrics["wall_time_s"]
        with open(path.parent / "selections.csv") as fh:
            selections = list(csv.DictReader(fh))
        rows.append({
            "method": run.method, "fraction": metrics["fraction"], "seed": metrics["seed"],
            "job_s": job, "start_up_s": job - inside,
            "set_up_s": inside - sum(phases.values()), **{f"{k}_s": v for k, v in phases.items()},
            "train_img_per_s": metrics["examples_seen"] / max(phases["training"], 1e-9),
            "selection_share": phases["selection"] / inside,
            "gpu_peak_memory_mb": metrics.get("gpu_peak_memory_mb"),
            "selections": len(selections), "steps": metrics["steps"],
            "checks_failed": (metrics.get("sampler") or {}).get("checks_failed"),
            "mean_check_interval": _mean(selections, "check_interval"),
            "test_acc": metrics["test_acc"], "hardware": metrics["hardware"],
            "torch": metrics["torch"],
        })
    return rows


def _mean(rows: list[dict], column: str) -> float | None:
    values = [float(row[column]) for row in rows if row.get(column) not in (None, "")]
    return sum(values) / len(values) if values else None


def print_jobs(rows: list[dict]) -> None:
    print("| method | f | seed | job s | start-up s | set-up s | training s | selection s | "
          "evaluation s | train img/s | selection share | GPU MB | selections | "
          "mean interval |")
    print("| --- " * 14 + "|")
    for r in rows:
        interval = "" if r["mean_check_interval"] is None else f"{r['mean_check_interval']:.1f}"
        memory = "" if r["gpu_peak_memory_mb"] is None else f"{r['gpu_peak_memory_mb']:,.0f}"
        print(f"| {r['method']} | {r['fraction']:g} | {r['seed']} | {r['job_s']:.1f} | "
              f"{r['start_up_s']:.1f} | {r['set_up_s']:.1f} | {r['training_s']:.1f} | "
              f"{r['selection_s']:.1f} | {r['evaluation_s']:.1f} | "
              f"{r['train_img_per_s']:,.0f} | {100 * r['selection_share']:.0f}% | {memory} | "
              f"{r['selections']} | {interval} |")


def concurrency(workdir: Path, args, slots: int) -> dict:
    """The same `full` jobs (seeds 0..jobs-1) with `slots` of them on the GPU at once."""
    experiment = f"cifar10-slots{slots}"
    config = write_config(workdir / f"{experiment}.yaml", experiment=experiment,
                          epochs=args.concurrency_epochs, seeds=list(range(args.jobs)),
                          device=args.device, methods=["full"])
    plan = ExperimentPlan(read_config_file(str(config), str(SCHEMA)))
    targets = [f"{plan.run_dir(run)}/metrics.json" for run in plan.runs()]  # training only
    wall, _ = snakemake(workdir, config, slots, cores=max(slots, 2), targets=targets)
    rows = run_rows(workdir, config)
    images = sum(r["train_img_per_s"] * r["training_s"] for r in rows)
    return {"slots": slots, "jobs": len(rows), "wall_s": wall,
            "jobs_per_min": 60 * len(rows) / wall, "img_per_s_overall": images / wall,
            "mean_job_s": sum(r["job_s"] for r in rows) / len(rows),
            "max_gpu_peak_memory_mb": max((r["gpu_peak_memory_mb"] or 0) for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(ROOT / "benchmarks/out/gpu_dag"),
                        help="a fresh folder for the data and results (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=10, help="full's epochs (paper: 200)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--methods", nargs="+", help="the grid's methods (default: the file's)")
    parser.add_argument("--slots", type=int, default=4, help="gpu slots for the grid")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--per-batch", type=int, default=10_000,
                        help="images per train batch file (CIFAR-10: 10,000, so N = 50,000)")
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--concurrency-epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=4, help="full jobs per concurrency set")
    parser.add_argument("--grid-timeout", type=float,
                        help="stop the grid after this many seconds and report the jobs done")
    args = parser.parse_args()

    workdir = Path(args.workdir).resolve()
    if workdir.exists() and any(workdir.iterdir()):
        sys.exit(f"{workdir} is not empty: give a fresh --workdir (every job must run)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = write_config(workdir / "cifar10-gpu.yaml", experiment="cifar10-gpu",
                          epochs=args.epochs, seeds=list(range(args.seeds)), device=args.device,
                          methods=args.methods)
    out = {"args": vars(args), "prepare_s": prepare(workdir, config, args.per_batch, args.n_test),
           "concurrency": []}
    print(f"prepared random CIFAR-10 ({5 * args.per_batch} train, {args.n_test} test) in "
          f"{out['prepare_s']:.1f} s", flush=True)
    for slots in args.concurrency:
        out["concurrency"].append(concurrency(workdir, args, slots))
        save(workdir, out)
    if out["concurrency"]:
        print_concurrency(out["concurrency"], args)
    out["grid_wall_s"], out["grid_stopped"] = snakemake(
        workdir, config, args.slots, cores=max(args.slots, 2), timeout=args.grid_timeout)
    out["jobs"] = run_rows(workdir, config)
    save(workdir, out)
    stopped = f" (stopped at --grid-timeout {args.grid_timeout} s)" if out["grid_stopped"] else ""
    first = out["jobs"][0] if out["jobs"] else {"hardware": "", "torch": ""}
    hardware = f"{first['hardware']}, torch {first['torch']}"
    print(f"\ngrid: {len(out['jobs'])} training jobs finished, {args.epochs} epochs for full, "
          f"{args.slots} gpu slots: {out['grid_wall_s']:.1f} s wall{stopped} ({hardware})")
    print_jobs(out["jobs"])
    print(f"\nwrote {workdir / 'gpu_dag.json'}")


def print_concurrency(rows: list[dict], args) -> None:
    print(f"\n{args.jobs} `full` jobs of {args.concurrency_epochs} epochs, with k of them on the "
          "GPU at once (`--resources gpu=k`):")
    print("| slots | wall s | jobs/min | train img/s overall | mean job s | peak GPU MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in rows:
        print(f"| {c['slots']} | {c['wall_s']:.1f} ({rows[0]['wall_s'] / c['wall_s']:.2f}x) | "
              f"{c['jobs_per_min']:.1f} | {c['img_per_s_overall']:,.0f} | "
              f"{c['mean_job_s']:.1f} | {c['max_gpu_peak_memory_mb']:,.0f} |", flush=True)


def save(workdir: Path, out: dict) -> None:
    """Everything measured so far, so a run stopped midway still leaves its figures."""
    (workdir / "gpu_dag.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
