"""A job's typed science (JobSpec) and operations (Ops): what the workflow serialises, what the
CLI parses, and the promise that the same science keeps its params, paths and fingerprints."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from types import SimpleNamespace

import pytest
import torch

from prunebench import paths
from prunebench.config import load_schema, science_settings, validate_config
from prunebench.errors import UserError
from prunebench.jobspec import ProxySpec, SelectSpec, TrainSpec
from prunebench.jsonflags import json_object
from prunebench.methods import METHODS
from prunebench.ops import Ops, Speed, operational_keys
from prunebench.plan import ExperimentPlan
from prunebench.train.checkpoint import fingerprint
from prunebench.train.setup import run_checkpoint

from .conftest import SCHEMA

GOLDEN = {
    "experiment": "golden", "protocol": "budget", "device": "cpu",
    "datasets": {
        "mnist1d": {"model": "mnist1d_cnn", "epochs": 3, "batch_size": 64, "lr": 0.05,
                    "augment": {"crop_padding": 1},
                    "options": {"train_size": 600, "test_size": 200}},
        "digits": {"model": "digits_cnn", "epochs": 2, "batch_size": 64, "lr": 0.05},
    },
    "methods": ["random", "el2n", "ccs", "ccs_b05", "kcenter", "random_epoch"],
    "variants": {"ccs_b05": {"method": "ccs", "options": {"beta": 0.05}}},
    "options": {"el2n": {"class_balanced": False}},
    "fractions": [0.5, 0.25], "seeds": [0, 1],
    "proxy": {"seeds": 2, "epochs": 2, "score_epoch": 1,
              "scores": ["el2n", "grand", "embeddings"]},
}
# sha256 of every job's serialised science, result path and checkpoint fingerprint for GOLDEN,
# as the untyped dict specs of the code before JobSpec computed them: a change here re-runs
# every cached job (Snakemake params) or resumes none (fingerprints).
# Moved once, by the proxy lines alone (issue 34, proxies trained once): a proxy run's key and
# spec digest what it computes while training (TRAINED_SCORES), no longer the listed scores,
# and GOLDEN lists [el2n, grand, embeddings]; so its proxy keys, and the score and embeddings
# paths under them, changed, while every training and selection spec, run path and checkpoint
# fingerprint stayed as main at 279b077 wrote them (compared line by line).
GOLDEN_DIGEST = "19e844e4a5dde85bf5cf9ddcb1a6212b9013d16d1d8bfa13face718dce9c0091"


def golden_plan(config: dict | None = None) -> ExperimentPlan:
    return ExperimentPlan(validate_config(copy.deepcopy(config or GOLDEN), load_schema(SCHEMA)))


def test_the_same_science_keeps_its_params_paths_and_fingerprints():
    plan, lines = golden_plan(), []
    for d in plan.datasets:
        job = ProxySpec.from_json(plan.proxy_spec(d).to_json())  # as the job parses it
        lines += [plan.proxy_spec(d).to_json(), plan.proxy_dir(d, 1),
                  fingerprint(job.as_dict(), "proxy", 1)]
    for run in plan.runs():
        spec = plan.train_spec(run.dataset, run.method, run.fraction)
        job = TrainSpec.from_json(spec.to_json())
        lines += [spec.to_json(), plan.run_dir(run),
                  fingerprint(job.as_dict(), job.method, job.fraction, run.seed)]
        if METHODS[job.base_method].kind == "static":
            lines += [plan.select_spec(run.method, run.fraction).to_json(),
                      plan.subset_file(run), str(plan.selection_values(run.dataset, run.method))]
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == GOLDEN_DIGEST


def test_every_job_spec_survives_its_round_trip():
    plan = golden_plan()
    specs = [plan.proxy_spec(d) for d in plan.datasets]
    specs += [plan.train_spec(r.dataset, r.method, r.fraction) for r in plan.runs()]
    specs += [plan.select_spec(m, 0.5) for m in ("random", "ccs_b05", "kcenter")]
    for spec in specs:
        assert type(spec).from_json(spec.to_json()) == spec
    variant = plan.train_spec("digits", "ccs_b05", 0.5)
    assert (variant.method, variant.base_method, variant.score) == ("ccs_b05", "ccs", "el2n")
    assert variant.options["beta"] == 0.05 and variant.method_entry is METHODS["ccs"]
    assert variant.training.batch_size == 64 and isinstance(variant.training.milestones, tuple)


@pytest.mark.parametrize("spec_class, text, needle", [
    (TrainSpec, "{}", "--spec lacks dataset, protocol, training"),
    (TrainSpec, "[1]", "must be a JSON object"),
    (ProxySpec, "not json", "is not valid JSON"),
    (SelectSpec, '{"base_method": "random", "options": {}, "fraction": 0.5, "device": "cpu"}',
     "unknown key(s) ['device']"),
])
def test_a_malformed_spec_is_one_clear_error(spec_class, text, needle):
    with pytest.raises(UserError) as error:
        spec_class.from_json(text)
    assert needle in str(error.value)


SETTINGS_PARSERS = {  # flag -> parser: the CLI's --options/--settings, a JobSpec, Ops
    "--settings": lambda text: json_object(text, "--settings", required=("dataset", "proxy")),
    "--spec": ProxySpec.from_json,
    "--ops": Ops.from_json,
}


@pytest.mark.parametrize("flag", SETTINGS_PARSERS)
@pytest.mark.parametrize("text, message", [
    ("not json", "{flag} is not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ("[1]", "{flag} must be a JSON object"),
    ('{"training": {}}', "{flag} lacks dataset, proxy; run jobs through snakemake, which writes "
                         "the full settings"),
])
def test_every_json_flag_says_the_same_of_a_malformed_object(flag, text, message):
    # one parser (prunebench.jsonflags) behind them all; Ops has a default for every key (it
    # lacks nothing) and refuses an unknown one in its own words
    if flag == "--ops" and text.startswith("{"):
        message = "--ops has unknown key(s) ['training']; choose from: "
    with pytest.raises(UserError) as error:
        SETTINGS_PARSERS[flag](text)
    assert str(error.value).startswith(message.format(flag=flag))


def test_ops_hold_exactly_the_operational_settings():
    config = copy.deepcopy(GOLDEN)
    config.update(checkpoint_every=3, speed={"compile": "reduce-overhead"},
                  wandb={"mode": "offline", "tags": ["x"]})
    config["proxy"] = {**config["proxy"], "grand_chunk": 7}
    plan = golden_plan(config)
    ops = plan.operations()
    assert (ops.experiment, ops.device, ops.checkpoint_every, ops.grand_chunk) == (
        "golden", "cpu", 3, 7)
    assert ops.speed == Speed(channels_last=True, compile="reduce-overhead", job_server=True)
    assert ops.wandb["mode"] == "offline" and Ops.from_json(ops.to_json()) == ops
    # the one list: every field of Ops, at the top level or under proxy
    assert set(operational_keys()) | set(operational_keys("proxy")) == {
        f.name for f in dataclasses.fields(Ops)}
    science = science_settings(plan.config)
    assert not set(operational_keys()) - {"experiment"} & set(science)
    assert "grand_chunk" not in science["proxy"] and "grand_chunk" not in json.dumps(
        paths.proxy_science(plan.proxy))
    # no job's science moves when only operations change
    plain = golden_plan()
    assert [plan.train_spec(r.dataset, r.method, r.fraction) for r in plan.runs()] == [
        plain.train_spec(r.dataset, r.method, r.fraction) for r in plain.runs()]
    assert plan.proxy_spec("digits") == plain.proxy_spec("digits")


def test_ops_refuse_unknown_keys_and_default_for_a_job_run_by_hand():
    assert Ops.from_json("{}") == Ops() and Ops().checkpoint_every == 0
    with pytest.raises(UserError, match=r"--ops has unknown key\(s\) \['lr'\]"):
        Ops.from_json('{"lr": 0.1}')
    with pytest.raises(UserError, match=r"speed has unknown key\(s\) \['fast'\]"):
        Ops.from_dict({"speed": {"fast": True}})


def test_the_checkpoint_key_is_the_science_alone(tmp_path):
    plan = golden_plan()
    job = plan.train_spec("digits", "random_epoch", 0.5)
    run = SimpleNamespace(order_generator=torch.Generator(), augment_generator=torch.Generator())
    keys = {run_checkpoint(tmp_path, job, ops, run, job.method, job.fraction, 0).key
            for ops in (Ops(), Ops(experiment="other", checkpoint_every=2, wandb={"mode": "x"}))}
    assert len(keys) == 1
    other = dataclasses.replace(job, fraction=0.25)
    assert run_checkpoint(tmp_path, other, Ops(), run, other.method, other.fraction, 0).key \
        not in keys
