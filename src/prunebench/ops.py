"""A job's operational settings (`Ops`): how it runs, never what it computes. Torch-free.

This module is the one list of operational keys. The config's top-level `experiment`,
`device`, `checkpoint_every`, `speed`, `wandb` and `proxy.grand_chunk` are the fields of `Ops`
(`section` in a field's metadata says where the config keeps it); the workflow serialises them
once into the PRUNEBENCH_OPS environment variable, never into Snakemake params, so changing one
re-runs nothing, and the CLI parses them once into an `Ops` the job receives whole. Results paths
(`prunebench.paths`), the report's settings (`config.science_settings`) and checkpoint
fingerprints (`train.setup.run_checkpoint`, over the job's `JobSpec` only) leave them out.

A job run by hand without --ops gets the defaults below: device auto, no checkpoints, no W&B.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from .errors import UserError
from .jsonflags import checked_object, json_object

PROXY_SECTION = "proxy"  # the config section of the proxy's operational settings
# Preparation options (a dataset's `options`) that change where files come from, never what
# they contain: left out of the prepared folder's digest.
OPERATIONAL_DATA_OPTIONS = ("download",)


@dataclass(frozen=True)
class Speed:
    """The config's `speed` block: how fast kernels run, never what they compute."""

    channels_last: bool = True  # image models and batches in channels_last on a GPU
    compile: bool | str = False  # False, True or a torch.compile mode (reduce-overhead)
    job_server: bool = True  # the workflow's fork server (read by the workflow, not by jobs)
    reproducible_math: bool = True  # CPU math fixed to AVX2 (prunebench.math_mode)


@dataclass(frozen=True)
class Ops:
    experiment: str | None = None  # who ran the job: W&B groups, metrics.json, proxy trained_for
    device: str = "auto"  # auto | cpu | cuda
    checkpoint_every: int = 0  # epochs between checkpoints; 0: never
    speed: Speed = field(default_factory=Speed)
    wandb: dict = field(default_factory=dict)  # the config's `wandb` block, for tracking.py
    grand_chunk: int = field(default=64, metadata={"section": PROXY_SECTION})  # GraNd vmap chunk

    @classmethod
    def from_config(cls, config: dict) -> Ops:
        """The operational settings of a validated config."""
        values = {}
        for f in dataclasses.fields(cls):
            section = config.get(f.metadata["section"], {}) if "section" in f.metadata else config
            if f.name in section:
                values[f.name] = section[f.name]
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict, flag: str = "--ops") -> Ops:
        """From the serialised form (keys left out take the defaults); unknown keys refused."""
        checked_object(values, flag)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise UserError(f"{flag} has unknown key(s) {unknown}; choose from: "
                            f"{', '.join(names)}")
        values = dict(values)
        if "speed" in values:
            speed = values["speed"]
            unknown = sorted(set(speed) - {f.name for f in dataclasses.fields(Speed)})
            if unknown:
                raise UserError(f"{flag} speed has unknown key(s) {unknown}")
            values["speed"] = Speed(**speed)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str, flag: str = "--ops") -> Ops:
        return cls.from_dict(json_object(text, flag), flag)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


def operational_keys(section: str | None = None) -> tuple[str, ...]:
    """The operational keys the config keeps at its top level (section None) or under
    `section` (e.g. "proxy"); every one of them is a field of `Ops`."""
    return tuple(f.name for f in dataclasses.fields(Ops) if f.metadata.get("section") == section)
