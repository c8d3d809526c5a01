"""Shared fixtures: a small prepared dataset written by the real preparation code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prunebench.config import load_schema, validate_config
from prunebench.data import prepare_dataset

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "digits"
    prepare_dataset("digits", {}, out)
    return out


@pytest.fixture(scope="session")
def mnist1d_small_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "mnist1d"
    prepare_dataset("mnist1d", {"train_size": 400, "test_size": 100}, out)
    return out


def split_job(flat: dict, spec_class=None, **science):
    """A test's flat settings (science and operational keys in one dict, as tests write them;
    `science` on top, e.g. method=, fraction=) as the (JobSpec, Ops) a job receives. A
    TrainSpec lacking base_method, options or score gets the method itself, {} and None."""
    from prunebench.jobspec import TrainSpec
    from prunebench.ops import Ops

    spec_class = spec_class or TrainSpec
    flat = {**flat, **science}
    ops_keys = {f.name for f in dataclasses.fields(Ops)}
    ops = Ops.from_dict({k: v for k, v in flat.items() if k in ops_keys})
    values = {k: v for k, v in flat.items() if k not in ops_keys}
    if spec_class is TrainSpec:
        values = {"base_method": values["method"], "options": {}, "score": None, **values}
    return spec_class.from_dict(values), ops


def job_flags(flat: dict, **science) -> list[str]:
    """--spec and --ops for the CLI, from a test's flat settings (see split_job)."""
    job, ops = split_job(flat, **science)
    return ["--spec", job.to_json(), "--ops", ops.to_json()]


def digits_spec(**training) -> dict:
    config = validate_config({
        "experiment": "t", "datasets": {"digits": {"model": "digits_cnn", **training}},
        "methods": ["random"], "fractions": [0.5], "seeds": [0], "device": "cpu",
    }, load_schema(SCHEMA))
    return {"experiment": "t", "dataset": "digits", "device": "cpu", "protocol": "budget",
            "training": config["datasets"]["digits"], "wandb": config["wandb"],
            "method": "full", "fraction": 1.0}


def write_subset(path: Path, indices, selection_s: float = 0.0125) -> Path:
    """A subset file and the JSON record `prunebench select` writes beside it."""
    import json

    import numpy as np

    np.save(path, np.asarray(indices, dtype=np.int64))
    Path(path).with_suffix(".json").write_text(json.dumps({"selection_s": selection_s}))
    return Path(path)
