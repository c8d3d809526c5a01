"""Import rules of the package's layering (README "Layout") that are easy to break by accident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "prunebench"


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_workflow_and_report_side_never_load_torch():
    # the Snakefile imports these; the report stage must run where torch is absent
    for module in ("prunebench.config", "prunebench.methods", "prunebench.plan",
                   "prunebench.paths", "prunebench.server", "prunebench.report.aggregate",
                   "prunebench.report.html", "prunebench.selection.static.run"):
        loaded = modules_after_import(module)
        assert "torch" not in loaded, module
        assert "wandb" not in loaded, module


def test_only_tracking_imports_wandb_and_nothing_imports_snakemake():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "import snakemake" not in text and "from snakemake" not in text, path
        if path.name != "tracking.py":
            assert "import wandb" not in text, path


def test_training_does_not_load_wandb_when_disabled():
    assert "wandb" not in modules_after_import("prunebench.train.run")
