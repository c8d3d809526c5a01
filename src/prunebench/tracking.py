"""Weights & Biases logging: the only module that imports wandb, and only when it is switched on.

`wandb.mode` in the config decides, not the WANDB_MODE variable: `disabled` never imports
wandb; `offline` writes the run under the job's own directory (`<run dir>/wandb/offline-run-*`,
upload later with `wandb sync`) and never touches the network; `online` streams to W&B and
needs WANDB_API_KEY (the Snakefile then requires it in every job's environment).

Every job that reads or writes a result records it as a W&B artifact (types `dataset`,
`scores`, `subset`, `run`), so W&B's lineage graph shows data -> proxy runs -> scores ->
subset -> training run -> report. The jobs describe artifacts with the plain `Artifact` and
`Lineage` below; wandb objects are built only here, only when logging is on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .paths import LABEL_NOISE_FILES, PREPARED_FILES, RESULTS, RUN_FILES

MODES = ("disabled", "offline", "online")


class NullTracker:
    """Logging switched off: every call does nothing, and wandb is never imported."""

    def log(self, row: dict, step: int | None = None) -> None:
        pass

    def finish(self, summary: dict | None = None) -> None:
        pass

    def record(self, lineage) -> None:
        pass

    def log_report(self, summary_csv, figures) -> None:
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

    def record(self, lineage: Lineage) -> None:
        """Declare the artifacts the job read (`uses`) and wrote (`logs`)."""
        import wandb

        for spec in lineage.uses:
            artifact = _build(wandb, spec)
            if self.run.offline:
                # wandb refuses use_artifact offline; this is the record its online call writes
                # for a new artifact: `wandb sync` commits it and marks it used by this run
                self.run._log_artifact(artifact, is_user_created=True, use_after_commit=True)
            else:
                self.run.use_artifact(artifact)
        for spec in lineage.logs:
            self.run.log_artifact(_build(wandb, spec))

    def log_report(self, summary_csv, figures: dict[str, Path]) -> None:
        """summary.csv as a W&B Table (sortable in a dashboard), each figure (SVG) as HTML."""
        import pandas as pd
        import wandb

        row = {"summary": wandb.Table(dataframe=pd.read_csv(summary_csv))}
        for key, path in figures.items():
            row[key] = wandb.Html(Path(path).read_text(), inject=False, data_is_not_path=True)
        self.run.log(row)


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
    config = {**config, **dashboard_keys(config)}
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


# -- artifacts and lineage ---------------------------------------------------------------------
# data -> proxy run -> per-seed scores -> mean-scores run -> scores -> select run -> subset ->
# training run -> run -> report run. An artifact is named after its place in the results store
# (the same path gives the same name in the job that writes it and in every job that reads it)
# and holds the same files in both, so W&B resolves a use and a log to one version.
ARTIFACT_TYPES = ("dataset", "scores", "subset", "run")
OPS_ENV = "PRUNEBENCH_OPS"  # the workflow's operational settings, in every job's environment
_NAME_LIMIT = 128


@dataclass(frozen=True)
class Artifact:
    """An artifact as a job describes it; W&B builds it only when logging is on. `files` are
    copied into the artifact (uploaded on sync); `references` are recorded by path and checksum
    and never uploaded (prepared data)."""

    name: str
    type: str
    files: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Lineage:
    uses: tuple[Artifact, ...] = ()
    logs: tuple[Artifact, ...] = ()


def artifact_name(path: str | Path) -> str:
    """The store path as an artifact name: relative to the working directory when inside it,
    without the leading results/, parts joined by '.', other characters than W&B allows as
    '_'; a long one keeps its tail and a digest of the whole."""
    path = Path(os.path.abspath(path))
    try:
        parts = path.relative_to(Path.cwd()).parts
    except ValueError:
        parts = path.parts[1:]
    if parts and parts[0] == RESULTS:
        parts = parts[1:]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", ".".join(parts))
    if len(name) > _NAME_LIMIT:
        tail = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[-(_NAME_LIMIT - 10):].lstrip('.')}-{tail}"
    return name


def dataset_artifact(data_dir: str | Path) -> Artifact:
    """A prepared dataset by reference: its files' paths and checksums, never their bytes
    (with label noise, the clean labels and the mask of flipped ones too)."""
    data_dir = Path(data_dir)
    noise = tuple(name for name in LABEL_NOISE_FILES if (data_dir / name).exists())
    return Artifact(artifact_name(data_dir), "dataset",
                    references=tuple(str(data_dir / name) for name in (*PREPARED_FILES, *noise)))


def scores_artifact(path: str | Path) -> Artifact:
    """One score array (a proxy seed's, or the mean over seeds) or a proxy's embeddings."""
    return Artifact(artifact_name(path), "scores", files=(str(path),))


def subset_artifact(path: str | Path) -> Artifact:
    """A static subset: its indices and the select job's record beside them."""
    path = Path(path)
    return Artifact(artifact_name(path), "subset",
                    files=(str(path), str(path.with_suffix(".json"))))


def run_artifact(run_dir: str | Path) -> Artifact:
    """A training run's files (metrics, history, selection log, selections)."""
    return Artifact(artifact_name(run_dir), "run",
                    files=tuple(str(Path(run_dir) / name) for name in RUN_FILES))


def proxy_lineage(data_dir, out_dir) -> Lineage:
    """A proxy run reads the prepared data and writes one `scores` artifact per array."""
    arrays = sorted(Path(out_dir).glob("*.npy"))
    return Lineage(uses=(dataset_artifact(data_dir),), logs=tuple(map(scores_artifact, arrays)))


def train_lineage(data_dir, out_dir, subset_path=None) -> Lineage:
    """A training run reads the prepared data (and its subset) and writes a `run` artifact."""
    uses = (dataset_artifact(data_dir), *([subset_artifact(subset_path)] if subset_path else []))
    return Lineage(uses=uses, logs=(run_artifact(out_dir),))


def _dataset_metadata(references: tuple[str, ...]) -> dict:
    """What meta.json records of a prepared dataset: the SHA-256 of each file, its options."""
    meta_file = next((Path(p) for p in references if Path(p).name == "meta.json"), None)
    if meta_file is None or not meta_file.exists():
        return {}
    meta = json.loads(meta_file.read_text())
    return {"sha256": {name: entry["sha256"] for name, entry in meta.get("files", {}).items()},
            "meta_json_sha256": hashlib.sha256(meta_file.read_bytes()).hexdigest(),
            "options": meta.get("options", {}), "n_train": meta.get("n_train"),
            "n_test": meta.get("n_test"), "source": meta.get("source"),
            **({"label_noise": meta["label_noise"]} if "label_noise" in meta else {})}


def _build(wandb, spec: Artifact):
    metadata = dict(spec.metadata)
    if spec.type == "dataset":
        metadata = {**_dataset_metadata(spec.references), **metadata}
    artifact = wandb.Artifact(spec.name, type=spec.type, metadata=metadata)
    for path in spec.files:
        artifact.add_file(path, name=Path(path).name)
    for path in spec.references:
        artifact.add_reference(Path(os.path.abspath(path)).as_uri(), name=Path(path).name)
    return artifact


def dashboard_keys(config: dict) -> dict:
    """The keys a dashboard groups runs by, at the top of a run's config: dataset, method (the
    registered method), variant (the name the config runs it under), fraction, seed, protocol."""
    keys = {k: config[k] for k in ("dataset", "fraction", "seed", "protocol") if k in config}
    if config.get("method"):
        keys["variant"] = config["method"]
        keys["method"] = config.get("base_method") or config["method"]
    return keys


def environment_settings() -> dict:
    """The `wandb` settings of the operational settings the workflow passes every job."""
    from .ops import Ops

    ops = Ops.from_json(os.environ.get(OPS_ENV) or "{}", flag=f"${OPS_ENV}")
    return {"wandb": ops.wandb or {}, "experiment": ops.experiment}


def record_job(job_type: str, lineage: Lineage, *, run_dir, config: dict) -> None:
    """For a job with no W&B run of its own (proxy-score, mean-scores, select): one short run
    that records what it read and wrote, under `run_dir`/wandb; nothing when logging is off."""
    settings = environment_settings()
    if settings["wandb"].get("mode", "disabled") == "disabled":
        return
    name = lineage.logs[0].name if lineage.logs else job_type
    group = "/".join([settings["experiment"] or "prunebench", job_type])
    tracker = open_tracker(settings["wandb"], run_dir, name=name, group=group,
                           job_type=job_type, config={"experiment": settings["experiment"],
                                                      **config})
    tracker.record(lineage)
    tracker.finish()


def proxy_score_lineage(data_dir, out) -> Lineage:
    """A proxy-score job reads the prepared data (and a proxy run's saved state) and writes
    one score array."""
    return Lineage(uses=(dataset_artifact(data_dir),), logs=(scores_artifact(out),))


def mean_scores_lineage(inputs, out) -> Lineage:
    """The mean-scores job reads one array per proxy seed and writes their mean."""
    return Lineage(uses=tuple(map(scores_artifact, inputs)), logs=(scores_artifact(out),))


def select_lineage(labels, values, out) -> Lineage:
    """The select job reads the prepared data's labels (the dataset: `labels` is its
    train_y.npy) and a score or embeddings file, and writes a subset."""
    uses = (dataset_artifact(Path(labels).parent), *([scores_artifact(values)] if values else []))
    return Lineage(uses=uses, logs=(subset_artifact(out),))


def record_report(config: dict, summary_csv, report_html, figures: dict[str, str]) -> None:
    """The report job's run (one per experiment, job_type `report`): it uses every training
    run's artifact and logs summary.csv as a Table and the report's figures (`figures`: W&B
    key -> path relative to `report_html`'s folder). W&B settings from the config when it has
    them (by hand), else from the workflow's environment."""
    settings = config.get("wandb") or environment_settings()["wandb"]
    if settings.get("mode", "disabled") == "disabled":
        return
    from .plan import ExperimentPlan

    plan, report_dir = ExperimentPlan(config), Path(report_html).parent
    figures = {key: report_dir / path for key, path in figures.items()}
    keys = ("protocol", "methods", "fractions", "seeds")
    tracker = open_tracker(settings, report_dir, name=f"{plan.experiment}/report",
                           group=plan.experiment, job_type="report",
                           config={"experiment": plan.experiment, "datasets": list(plan.datasets),
                                   **{k: config[k] for k in keys if k in config}})
    tracker.record(Lineage(uses=tuple(run_artifact(plan.run_dir(r)) for r in plan.runs())))
    tracker.log_report(summary_csv, {k: v for k, v in figures.items() if v.exists()})
    tracker.finish()
