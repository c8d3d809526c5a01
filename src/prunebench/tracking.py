"""Weights & Biases logging: the only module that imports wandb, and only when it is switched on."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

MODES = ("disabled", "offline", "online")


class NullTracker:
    """Logging switched off: every call does nothing, and wandb is never imported."""

    def log(self, row: dict, step: int | None = None) -> None:
        pass

    def finish(self, summary: dict | None = None) -> None:
        pass


class WandbTracker:
    def __init__(self, run):
        self.run = run

    def log(self, row: dict, step: int | None = None) -> None:
        self.run.log(row, step=step)

    def finish(self, summary: dict | None = None) -> None:
        for key, value in (summary or {}).items():
            self.run.summary[key] = value
        self.run.finish()


def open_tracker(settings: dict, run_dir: str | Path, *, name: str, group: str, job_type: str,
                 config: dict):
    """One W&B run per job; offline runs are written under the job's own directory."""
    mode = settings.get("mode", "disabled")
    if mode not in MODES:
        raise UserError(f"config key 'wandb.mode': {mode!r}; choose one of: {', '.join(MODES)}")
    if mode == "disabled":
        return NullTracker()
    try:
        import wandb
    except ImportError as exc:
        raise UserError("wandb.mode is not 'disabled' but wandb is not installed; "
                        "pip install wandb or set wandb.mode: disabled") from exc
    run = wandb.init(mode=mode, project=settings.get("project", "prunebench"),
                     entity=settings.get("entity"), tags=list(settings.get("tags", [])),
                     name=name, group=group, job_type=job_type, config=config,
                     dir=str(run_dir), reinit="finish_previous")
    return WandbTracker(run)
