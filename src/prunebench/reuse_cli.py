"""The commands that make results reusable, registered into `prunebench`'s parser:
`export` (per-example Parquet, see export_scores.py) and `store ls` / `store gc` (the shared
proxy, score and data store, see store.py). Light: the work is imported when a command runs."""

from __future__ import annotations

from .errors import UserError

SCHEMA = "workflow/schemas/config.schema.yaml"


def cmd_export(args) -> None:
    from .config import read_config_file
    from .export_scores import write_export
    from .plan import ExperimentPlan

    plan = ExperimentPlan(read_config_file(args.config, args.schema))
    datasets = args.dataset or list(plan.datasets)
    unknown = [d for d in datasets if d not in plan.datasets]
    if unknown:
        raise UserError(f"{args.config} has no dataset {unknown[0]!r}; it has: "
                        f"{', '.join(plan.datasets)}")
    for dataset in datasets:
        out, table, missing = write_export(plan, dataset)
        subsets = [c for c in table.column_names if c.startswith(("in_", "selected_"))]
        scores = [c for c in table.column_names
                  if c not in ("index", "source_index", "label") and c not in subsets]
        note = f"; {len(missing)} files not computed yet, left out" if missing else ""
        print(f"{dataset}: {table.num_rows} examples, {len(scores)} score columns, "
              f"{len(subsets)} subset columns{note} -> {out}")


def add_reuse_commands(sub) -> None:
    p = sub.add_parser("export", help="per-example scores and subset membership, with their "
                       "provenance, as results/<experiment>/export/<dataset>.parquet")
    p.add_argument("config", help="experiment config file, e.g. config.yaml")
    p.add_argument("--dataset", action="append", default=None,
                   help="only this dataset (repeatable; default: every dataset of the config)")
    p.add_argument("--schema", default=SCHEMA)
    p.set_defaults(func=cmd_export)
