"""Weights & Biases logging: the only module that imports wandb, and only when it is switched on.

`wandb.mode` in the config decides, not the WANDB_MODE variable: `disabled` never imports
wandb; `offline` writes the run under the job's own directory (`<run dir>/wandb/offline-run-*`,
upload later with `wandb sync`) and never touches the network; `online` streams to W&B and
needs WANDB_API_KEY (the Snakefile then requires it in every job's environment).
"""

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
    """One W&B run: per-epoch rows as history, the final metrics as its summary."""

    def __init__(self, run):
        self.run = run
        _OPEN.append(self)

    def log(self, row: dict, step: int | None = None) -> None:
        self.run.log(row, step=step)

    def finish(self, summary: dict | None = None, exit_code: int = 0) -> None:
        if self in _OPEN:
            _OPEN.remove(self)
        for key, value in (summary or {}).items():
            self.run.summary[key] = value
        self.run.finish(exit_code=exit_code)


# runs a job opened and has not finished: the CLI marks them failed when the job stops on an
# error (wandb's own exit hook cannot see the exit status and would record them as finished)
_OPEN: list[WandbTracker] = []


def finish_failed_runs(exit_code: int = 1) -> None:
    """Finish every open W&B run of this process with `exit_code`; nothing when none is open."""
    while _OPEN:
        _OPEN[-1].finish(exit_code=exit_code)


def open_tracker(settings: dict, run_dir: str | Path, *, name: str, group: str, job_type: str,
                 config: dict):
    """One W&B run per job (`job_type` proxy or train), grouped by `group`, with the job's full
    resolved settings as its config; a NullTracker when logging is disabled."""
    mode = settings.get("mode", "disabled")
    if mode not in MODES:
        raise UserError(f"config key 'wandb.mode': {mode!r}; choose one of: {', '.join(MODES)}")
    if mode == "disabled":
        return NullTracker()
    try:
        import wandb
    except ImportError as exc:
        raise UserError(f"config key 'wandb.mode' is {mode!r} but wandb is not installed; "
                        "pip install wandb, or set wandb.mode: disabled") from exc
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {run_dir} for the W&B run: {exc.strerror}; check the "
                        "folder's permissions and free space") from exc
    try:
        run = wandb.init(mode=mode, project=settings.get("project") or "prunebench",
                         entity=settings.get("entity"), tags=list(settings.get("tags") or []),
                         name=name, group=group, job_type=job_type, config=config,
                         dir=str(run_dir), reinit="finish_previous",
                         # no banner: a job's stderr stays the one-line error when it fails
                         settings=wandb.Settings(silent=True))
    except wandb.errors.Error as exc:
        hint = ("set WANDB_API_KEY (or run `wandb login`), or set wandb.mode: offline"
                if mode == "online" else "set wandb.mode: disabled to train without W&B")
        raise UserError(f"W&B run {name!r} did not start ({exc}); {hint}") from exc
    return WandbTracker(run)
