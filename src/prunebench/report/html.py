"""A first self-contained HTML report: the protocol, a method x fraction table, every run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .. import __version__
from ..atomic import write_text
from ..errors import UserError
from .aggregate import method_table


def _fmt_table(table: pd.DataFrame) -> list[dict]:
    rows = []
    for rec in table.to_dict("records"):
        std = "" if pd.isna(rec["acc_std"]) else f" ± {100 * rec['acc_std']:.2f}"
        rows.append({
            "dataset": rec["dataset"], "model": rec["model"], "method": rec["method"],
            "fraction": f"{rec['fraction']:g}",
            "accuracy": f"{100 * rec['acc_mean']:.2f}{std}", "n": int(rec["n"]),
            "vs_full": f"{100 * rec['acc_vs_full']:+.2f}",
            "time": f"{rec['time_total']:.1f}", "speedup": f"{rec['speedup']:.2f}x",
            "steps": f"{rec['steps']:.0f}",
        })
    return rows


def render_report(summary_csv: str | Path, template: str | Path, out: str | Path,
                  settings: dict) -> Path:
    """Render `template` (Jinja2) with the summary; write `out` atomically; return its path."""
    try:
        summary = pd.read_csv(summary_csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read {summary_csv} ({exc}); re-run the aggregate rule") from exc
    template = Path(template)
    env = Environment(loader=FileSystemLoader(template.parent), autoescape=True,
                      undefined=StrictUndefined)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    html = env.get_template(template.name).render(
        experiment=settings.get("experiment", ""), protocol=settings.get("protocol", ""),
        settings_json=json.dumps(settings, indent=2, sort_keys=True), digest=digest,
        version=__version__, table=_fmt_table(method_table(summary)),
        runs=summary.to_dict("records"), columns=list(summary.columns),
    )
    write_text(out, html)
    return Path(out)
