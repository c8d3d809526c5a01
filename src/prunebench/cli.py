"""prunebench commands, one per workflow rule, and plan: prepare, proxy, proxy-score, ...

check-config | plan | prepare | proxy | proxy-score | mean-scores | select | train | aggregate |
report.

Every Snakemake rule calls one of these. A mistake the user can fix ends in one line on
stderr and exit status 1, never a traceback. Heavy imports (torch) happen inside commands,
so `select`, `aggregate` and `report` start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import UserError
from .jsonflags import json_object
from .reuse_cli import add_reuse_commands
from .tracking import (
    finish_failed_runs,
    mean_scores_lineage,
    proxy_score_lineage,
    record_job,
    record_report,
    select_lineage,
)

REPORT_KEYS = ("experiment", "protocol", "datasets", "methods", "fractions", "seeds")


def cmd_prepare(args) -> None:
    from .data import prepare_dataset

    meta = prepare_dataset(args.dataset, json_object(args.options, "--options"), args.out)
    print(f"prepared {args.dataset}: {meta['n_train']} train, {meta['n_test']} test -> {args.out}")


def cmd_proxy(args) -> None:
    from .jobspec import ProxySpec
    from .ops import Ops
    from .scores.proxy import run_proxy

    job, ops = ProxySpec.from_json(args.spec), Ops.from_json(args.ops)
    metrics = run_proxy(job, ops, data_dir=args.data, seed=args.seed, out_dir=args.out,
                        threads=args.threads)
    print(f"proxy seed {args.seed}: test_acc {metrics['test_acc']:.4f}, "
          f"scores {sorted(metrics['score_cost_s'])} -> {args.out}")


def cmd_proxy_score(args) -> None:
    from .jobspec import ProxySpec
    from .ops import Ops
    from .scores.from_state import score_from_state

    job, ops = ProxySpec.from_json(args.spec), Ops.from_json(args.ops)
    array = score_from_state(job, ops, score=args.score, data_dir=args.data, state=args.state,
                             proxy_metrics=args.proxy_metrics, out=args.out,
                             cost_out=args.cost_out, threads=args.threads)
    record_job("proxy-score", proxy_score_lineage(args.data, args.out),
               run_dir=Path(args.out).parent,
               config={**job.as_dict(), "score": args.score, "state": Path(args.state).name})
    print(f"{args.score} from {args.state}: {len(array)} examples -> {args.out}")


def cmd_mean_scores(args) -> None:
    from .selection.static.mean_scores import mean_over_seeds

    mean = mean_over_seeds(args.inputs, args.out)
    record_job("mean-scores", mean_scores_lineage(args.inputs, args.out),
               run_dir=Path(args.out).parent, config={"seeds": len(args.inputs)})
    print(f"mean of {len(args.inputs)} seeds, {len(mean)} examples -> {args.out}")


def cmd_select(args) -> None:
    from .jobspec import SelectSpec
    from .selection.static.run import run_selection

    job = SelectSpec.from_json(args.spec)
    record = run_selection(job, labels_path=args.labels, values_path=args.values,
                           seed=args.seed, out=args.out)
    record_job("select", select_lineage(args.labels, args.values, args.out),
               run_dir=Path(args.out).parent, config={**job.as_dict(), "seed": args.seed})
    print(f"{job.base_method}: kept {record['n_selected']} of {record['n_train']} "
          f"-> {args.out}")


def cmd_train(args) -> None:
    from .jobspec import TrainSpec
    from .ops import Ops
    from .train.run import run_training

    job, ops = TrainSpec.from_json(args.spec), Ops.from_json(args.ops)
    metrics = run_training(job, ops, data_dir=args.data, seed=args.seed, out_dir=args.out,
                           subset_path=args.subset, threads=args.threads)
    print(f"{job.method} f={job.fraction} seed {args.seed}: test_acc "
          f"{metrics['test_acc']:.4f} in {metrics['wall_time_s']:.1f}s -> {args.out}")


def _experiment_config(args) -> dict:
    """The validated config: from --config FILE (by hand), or --settings JSON (the workflow)."""
    if getattr(args, "config", None):
        from .config import read_config_file

        if not Path(args.schema).exists():
            raise UserError(f"schema {args.schema} not found; run from the repository root or "
                            "pass --schema workflow/schemas/config.schema.yaml")
        return read_config_file(args.config, args.schema)
    return json_object(args.settings, "--settings", REPORT_KEYS)


def cmd_aggregate(args) -> None:
    from .paths import missing_beside, summary_file
    from .plan import ExperimentPlan
    from .report.analysis.label_noise import detection_of
    from .report.read.aggregate import test_sizes, write_summary

    plan = ExperimentPlan(_experiment_config(args))
    n_test = test_sizes({d: plan.data_dir(d) for d in plan.datasets})
    detection = {}
    for dataset in plan.noisy_datasets():
        found = detection_of(plan.noise_mask_file(dataset),
                             {s: plan.score_file(dataset, s)
                              for s in plan.detection_scores(dataset)})
        detection |= {(dataset, row.score): (row.auroc, row.precision_at_k)
                      for row in found.itertuples()}
    runs = [f"{plan.run_dir(run)}/metrics.json" for run in plan.runs()]
    out = args.out or summary_file(plan.experiment)
    missing_out = args.missing_out or missing_beside(out)
    summary, missing = write_summary(runs, plan.proxy_metrics_by_name(), out,
                                     missing_out=missing_out, allow_missing=args.allow_missing,
                                     expected=plan.expected(), n_test=n_test,
                                     method_proxies={m: plan.method_proxy(m)
                                                     for m in plan.config["methods"]},
                                     detection=detection)
    print(f"{len(summary)} runs, {len(missing)} missing -> {out}")


def cmd_report(args) -> None:
    from .paths import missing_beside, report_dir, summary_file
    from .report.render.html import render_report
    from .report.render.layout import report_files

    config = _experiment_config(args)
    summary = args.summary or summary_file(config["experiment"])
    missing = args.missing or missing_beside(summary)
    out = args.out or f"{report_dir(config['experiment'])}/index.html"
    path = render_report(summary, args.template, out, config, missing_csv=missing)
    record_report(config, summary, out, {f"figures/{f.dataset}/{f.name}": f.path
                                         for f in report_files(config) if f.kind == "figure"})
    print(f"report: {path.resolve()}")


def cmd_check_config(args) -> None:
    from .config import read_config_file
    from .plan import ExperimentPlan

    config = read_config_file(args.config, args.schema)
    runs = len(ExperimentPlan(config).runs())
    print(f"{args.config}: valid; experiment '{config['experiment']}', {runs} training runs")


def cmd_plan(args) -> None:
    from .config import read_config_file
    from .cost.planner import experiment_cost, write_plan_csv
    from .cost.render import plan_text

    def calibrator(*a, **kw):
        from .cost.calibrate import calibrate

        return calibrate(*a, steps=args.calibration_steps, **kw)

    config = read_config_file(args.config, args.schema)
    cost = experiment_cost(config, args.device, threads=args.threads, root=Path("."),
                           calibrator=None if args.no_calibrate else calibrator)
    print(plan_text(cost, args.config))
    if not args.no_write:
        print(f"  per job: {write_plan_csv(cost, Path('.'))}")


def cmd_schema(args) -> None:
    from .implementations import OPTIONS_SCHEMA_FILE, render_options_schema

    path = Path(args.schema_dir) / OPTIONS_SCHEMA_FILE
    text = render_options_schema()
    if args.check:
        if not path.exists() or path.read_text() != text:
            raise UserError(f"{path} is out of date with the methods' options dataclasses; "
                            "regenerate it with `prunebench schema`")
        print(f"{path}: up to date")
        return
    from .atomic import write_text

    write_text(path, text)
    print(f"wrote {path}")


def cmd_serve(args) -> None:
    from .server import serve

    # a forked job runs this module's main, as its own process would (not handing it back)
    serve(args.socket, lambda argv: main(argv, delegate=False), parent=args.parent,
          idle_exit=args.idle_exit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prunebench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check-config", help="validate an experiment config file")
    p.add_argument("config", help="YAML config file, e.g. config.yaml")
    p.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("plan", help="jobs and predicted time per rule before anything runs "
                       "(calibrates, a few dozen steps, where no measured throughput is cached)")
    p.add_argument("config", help="YAML config file, e.g. config.yaml")
    p.add_argument("--device", default="cpu", help="cpu (this machine, calibrated here) or "
                   "cuda (a visible GPU's calibration, else the H100 table of "
                   "docs/performance.md)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per job (the local profile's: 1)")
    p.add_argument("--calibration-steps", type=int, default=40)
    p.add_argument("--no-calibrate", action="store_true",
                   help="price only what is already measured; count the rest")
    p.add_argument("--no-write", action="store_true",
                   help="do not write results/<experiment>/plan.csv")
    p.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("schema", help="write workflow/schemas/options.schema.yaml from the "
                       "methods' options dataclasses (--check: fail if it is out of date)")
    p.add_argument("--schema-dir", default="workflow/schemas")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("serve", help="the fork server that spares each job the start-up "
                       "(the workflow starts and stops it; see prunebench.server)")
    p.add_argument("--socket", required=True, help="UNIX socket path to listen on")
    p.add_argument("--parent", type=int, default=None, help="exit when this process is gone")
    p.add_argument("--idle-exit", type=float, default=None,
                   help="exit after this many seconds without a job")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("prepare", help="build a dataset in the prepared format")
    p.add_argument("--dataset", required=True)
    p.add_argument("--options", default="{}", help="JSON object of the source's options")
    p.add_argument("--out", required=True, help="output folder (results/data/<dataset>)")
    p.set_defaults(func=cmd_prepare)

    for name, func, helptext in (("proxy", cmd_proxy, "train one proxy run and save scores"),
                                 ("train", cmd_train, "train one run")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--data", required=True, help="prepared dataset folder")
        p.add_argument("--spec", required=True,
                       help=f"JSON of the job's science, a prunebench.jobspec."
                       f"{'ProxySpec' if name == 'proxy' else 'TrainSpec'} (written by the "
                       "workflow)")
        p.add_argument("--ops", default=os.environ.get("PRUNEBENCH_OPS", "{}"),
                       help="JSON of the operational settings, a prunebench.ops.Ops: device, "
                       "wandb, checkpoint_every, speed, grand_chunk, experiment (default: "
                       "$PRUNEBENCH_OPS, which the workflow sets; they are not Snakemake "
                       "params, so they re-run nothing)")
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--threads", type=int, default=None)
        if name == "train":
            p.add_argument("--subset", default=None, help="indices from `prunebench select`")
        p.set_defaults(func=func)

    p = sub.add_parser("proxy-score", help="compute one score from a proxy run's saved "
                       "model state (a score outside the ones the run computes as it trains)")
    p.add_argument("--data", required=True, help="prepared dataset folder")
    p.add_argument("--spec", required=True, help="JSON of the proxy run's science, a "
                   "prunebench.jobspec.ProxySpec (written by the workflow)")
    p.add_argument("--ops", default=os.environ.get("PRUNEBENCH_OPS", "{}"),
                   help="JSON of the operational settings (default: $PRUNEBENCH_OPS)")
    p.add_argument("--score", required=True, help="a score name of prunebench.methods.SCORES")
    p.add_argument("--state", required=True, help="the state file the proxy run saved")
    p.add_argument("--proxy-metrics", required=True, help="the proxy run's metrics.json")
    p.add_argument("--out", required=True, help="the score array (.npy) to write")
    p.add_argument("--cost-out", required=True, help="its cost record (.cost.json)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_proxy_score)

    p = sub.add_parser("mean-scores", help="average per-seed score arrays")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_mean_scores)

    p = sub.add_parser("select", help="choose a static subset from scores or embeddings")
    p.add_argument("--labels", required=True, help="train_y.npy of the prepared dataset")
    p.add_argument("--values", default=None,
                   help="mean score .npy or embeddings .npy (not needed by random)")
    p.add_argument("--spec", required=True,
                   help="JSON of the selection's science, a prunebench.jobspec.SelectSpec "
                   '{"base_method", "options", "fraction"} (written by the workflow)')
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("aggregate", help="collect runs into summary.csv (and missing.csv)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--settings", help="the experiment's settings as JSON (the workflow)")
    source.add_argument("--config", help="experiment config file (for use by hand)")
    p.add_argument("--out", default=None,
                   help="summary.csv to write (default: results/<experiment>/summary.csv)")
    p.add_argument("--missing-out", default=None, help="missing.csv (default: next to --out)")
    p.add_argument("--allow-missing", action="store_true",
                   help="aggregate what exists and list absent runs in missing.csv, e.g. after "
                        "snakemake --keep-going; without it an absent run is an error")
    p.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("report", help="render the HTML report, its figures and tables")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--settings", help="the resolved config as JSON (written by the workflow)")
    source.add_argument("--config", help="experiment config file (for use by hand)")
    p.add_argument("--summary", default=None,
                   help="summary.csv (default: results/<experiment>/summary.csv)")
    p.add_argument("--missing", default=None, help="missing.csv (default: next to --summary)")
    p.add_argument("--template", default="reports/summary.html.j2")
    p.add_argument("--out", default=None,
                   help="index.html to write (default: results/<experiment>/report/index.html); "
                        "figures/ and tables/ go next to it")
    p.add_argument("--schema", default="workflow/schemas/config.schema.yaml")
    p.set_defaults(func=cmd_report)
    add_reuse_commands(sub)
    return parser


def enter_math_mode(args) -> None:
    """Fix the math libraries' instruction set before any command imports them (the fork
    server does it once, for every job it forks): prunebench.math_mode."""
    from .math_mode import enter
    from .ops import Ops

    ops = getattr(args, "ops", None) or os.environ.get("PRUNEBENCH_OPS") or "{}"
    enter(Ops.from_json(ops, flag="--ops" if getattr(args, "ops", None) else
                        "$PRUNEBENCH_OPS").speed.reproducible_math)


def _environment_error(exc: OSError) -> str | None:
    """One line for an OSError the user's machine caused (disk full, no permission, read-only
    file system) outside the atomic writers, which report those themselves; None for others."""
    from .atomic import WRITE_FIXES

    if exc.errno not in WRITE_FIXES:
        return None
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}; {WRITE_FIXES[exc.errno]}"


def main(argv: list[str] | None = None, *, delegate: bool = True) -> int:
    """Run one command; a job command goes to the workflow's fork server when one is up
    (`prunebench.server`), which runs this same function in a warm child process."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if delegate:
        from .server import run_through_server

        code = run_through_server(argv)
        if code is not None:
            return code
    args = build_parser().parse_args(argv)
    try:
        enter_math_mode(args)
        args.func(args)
        return 0
    except UserError as exc:
        line, code = f"error: {exc}", 1
    except OSError as exc:
        message = _environment_error(exc)
        if message is None:
            finish_failed_runs()
            raise  # a bug: keep the traceback
        line, code = f"error: {message}", 1
    except KeyboardInterrupt:
        line, code = "interrupted", 130
    except BaseException:
        finish_failed_runs()
        raise
    print(f"prunebench {args.command}: {line}", file=sys.stderr)
    finish_failed_runs(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
