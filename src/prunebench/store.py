"""The shared store: prepared data (results/data), proxy runs (results/proxy) and mean scores
(results/scores). Experiments share its entries, so nothing in one experiment's folder says
when an entry is no longer needed; `prunebench store ls` shows each entry with its size, last
use and the experiment configs that need it, and `prunebench store gc CONFIG...` removes the
entries none of the named configs needs (a dry run unless told `yes`); it deletes nothing
while a Snakemake run holds a lock on the working directory.

What a config needs comes from its plan (`ExperimentPlan.data_dir`, `proxy_dir`,
`score_files`); where entries lie comes from the path templates in `prunebench.paths`, every
field a wildcard. No path is parsed back into values.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .errors import UserError
from .plan import ExperimentPlan

# kind -> the template whose entries it lists (data and proxy entries are folders, scores files)
KINDS = {"data": paths.DATA, "proxy": paths.PROXY, "scores": paths.SCORE}


@dataclass
class Entry:
    kind: str
    path: str  # relative to the workflow directory, as the plan writes it
    size: int
    last_use: float  # the newest access or modification time of its files (seconds)
    needed_by: list[str] = field(default_factory=list)


def _pattern(template: str) -> str:
    """A template as a glob pattern: every `{field}` a wildcard."""
    return paths.fill(template, **{name: "*" for name in _fields(template)})


def _fields(template: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", template)


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]


def _usage(path: Path) -> tuple[int, float]:
    """Total bytes and the newest access or modification time of the files under `path`."""
    size, last = 0, 0.0
    for file in _files(path):
        stat = file.stat()
        size += stat.st_size
        last = max(last, stat.st_atime, stat.st_mtime)
    return size, last


def needed(plan: ExperimentPlan) -> set[str]:
    """Every store entry an experiment's plan reads or writes."""
    entries = {plan.data_dir(d) for d in plan.datasets}
    # every proxy the methods score with (proxies of their own included), every seed
    entries |= {plan.proxy_dir(d, seed, name) for d, name, seed in plan.proxy_runs()}
    entries |= set(plan.score_files())
    return {os.path.normpath(e) for e in entries}


def read_plans(config_files: list[str], schema: str) -> dict[str, ExperimentPlan]:
    from .config import read_config_file

    if not Path(schema).exists():
        raise UserError(f"schema {schema} not found; run from the repository root or pass "
                        "--schema workflow/schemas/config.schema.yaml")
    return {name: ExperimentPlan(read_config_file(name, schema)) for name in config_files}


def default_configs() -> list[str]:
    """config.yaml and experiments/*.yaml, those that exist."""
    found = [name for name in ["config.yaml"] if Path(name).is_file()]
    return found + sorted(str(p) for p in Path("experiments").glob("*.yaml"))


def list_entries(plans: dict[str, ExperimentPlan], root: str | Path = ".") -> list[Entry]:
    """Every data, proxy and score entry under `root`, each with the configs that need it."""
    root = Path(root)
    needs = {name: needed(plan) for name, plan in plans.items()}
    entries = []
    for kind, template in KINDS.items():
        for path in sorted(root.glob(_pattern(template))):
            if kind != "scores" and not path.is_dir():
                continue
            relative = os.path.normpath(path.relative_to(root))
            size, last = _usage(path)
            users = [name for name, need in needs.items() if relative in need]
            entries.append(Entry(kind, relative, size, last, users))
    return entries


def remove(entry: Entry, root: str | Path = ".") -> None:
    """Delete an entry, then the folders it leaves empty up to its kind's top folder (a mean
    scores folder whose last score file goes is removed whole, with its W&B run folder)."""
    root = Path(root)
    path = root / entry.path
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    top = root / paths.RESULTS / entry.kind
    parent = path.parent
    while parent != top and top in parent.parents:
        left = [p for p in parent.iterdir() if not (entry.kind == "scores" and p.name == "wandb")]
        if left:
            break
        shutil.rmtree(parent)
        parent = parent.parent


def workflow_locks(root: str | Path = ".") -> list[Path]:
    """Snakemake's lock files of the working directory `root` (`.snakemake/locks/*.lock`): they
    exist while a run of this directory is active, and stay behind one that was killed."""
    locks = Path(root) / ".snakemake" / "locks"
    return sorted(locks.glob("*.lock")) if locks.is_dir() else []


def refuse_while_locked(root: str | Path = ".") -> None:
    """UserError while a Snakemake run holds a lock on `root`: its jobs may be reading entries
    that no config named to gc needs (another experiment's proxy runs, say)."""
    locks = workflow_locks(root)
    if locks:
        where = Path(root).resolve()
        raise UserError(f"a Snakemake run holds a lock on {where} ({locks[0]}): store gc would "
                        "delete what its jobs may read; wait until it ends (or, if none is "
                        "running, clear the stale lock with `snakemake --unlock`)")


def human_size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
