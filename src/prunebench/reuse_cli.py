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


def _entry_line(entry) -> str:
    import time

    from .store import human_size

    used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_use))
    return f"{entry.kind:<7} {human_size(entry.size):>10}  {used}  {entry.path}"


def cmd_store_ls(args) -> None:
    from .store import default_configs, human_size, list_entries, read_plans

    configs = args.configs or default_configs()
    entries = list_entries(read_plans(configs, args.schema))
    print(f"{'kind':<7} {'size':>10}  {'last use':<16}  path  [needed by]")
    for entry in entries:
        users = ", ".join(entry.needed_by) or "no listed config"
        print(f"{_entry_line(entry)}  [{users}]")
    total = sum(e.size for e in entries)
    print(f"{len(entries)} entries, {human_size(total)}; configs read: {', '.join(configs)}")


def cmd_store_gc(args) -> None:
    from .store import human_size, list_entries, read_plans, refuse_while_locked, remove

    if args.yes:
        refuse_while_locked()
    entries = list_entries(read_plans(args.configs, args.schema))
    unused = [e for e in entries if not e.needed_by]
    size = human_size(sum(e.size for e in unused))
    verb = "removing" if args.yes else "would remove"
    print(f"{verb} {len(unused)} of {len(entries)} entries ({size}) that none of "
          f"{', '.join(args.configs)} needs:")
    for entry in unused:
        print(f"  {_entry_line(entry)}")
        if args.yes:
            remove(entry)
    if unused and not args.yes:
        print("dry run: nothing deleted; add --yes to delete them")


def add_reuse_commands(sub) -> None:
    p = sub.add_parser("export", help="per-example scores and subset membership, with their "
                       "provenance, as results/<experiment>/export/<dataset>.parquet")
    p.add_argument("config", help="experiment config file, e.g. config.yaml")
    p.add_argument("--dataset", action="append", default=None,
                   help="only this dataset (repeatable; default: every dataset of the config)")
    p.add_argument("--schema", default=SCHEMA)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("store", help="the shared data, proxy and score store: list entries "
                       "(ls) or remove those no named config needs (gc)")
    store = p.add_subparsers(dest="store_command", required=True)
    q = store.add_parser("ls", help="every entry with its size, last use and the configs that "
                         "need it")
    q.add_argument("configs", nargs="*", help="experiment configs to check against (default: "
                   "config.yaml and experiments/*.yaml)")
    q.add_argument("--schema", default=SCHEMA)
    q.set_defaults(func=cmd_store_ls)
    q = store.add_parser("gc", help="remove the entries none of the named configs needs (a dry "
                         "run unless --yes)")
    q.add_argument("configs", nargs="+", help="the experiment configs whose entries to keep")
    q.add_argument("--yes", action="store_true", help="delete (default: only list)")
    q.add_argument("--schema", default=SCHEMA)
    q.set_defaults(func=cmd_store_gc)
