# Config validation, wildcard constraints and the input/param functions every rule uses.
# Every path comes from prunebench.paths (through prunebench.plan), logs and benchmarks too;
# params hold only science (a job's JobSpec, prunebench.jobspec), and the operational settings
# (prunebench.ops.Ops: W&B, device, checkpoints, speed, chunk sizes) reach jobs through the
# environment (PRUNEBENCH_OPS, read by the prunebench CLI), never as params, so changing them
# re-runs nothing.
import json
import os
import sys
from pathlib import Path

from prunebench import paths
from prunebench.config import load_schema, validate_config
from prunebench.cost.jobcosts import JobCosts
from prunebench.errors import UserError
from prunebench.methods import method_entry, proxy_array_file
from prunebench.plan import ExperimentPlan
from prunebench.server import SOCKET_ENV, start_server, stop_server

SCHEMA = Path(workflow.current_basedir).parent / "schemas" / "config.schema.yaml"
try:
    _validated = validate_config(config, load_schema(SCHEMA))
except UserError as _error:
    sys.exit(f"prunebench: {_error}")
config.clear()
config.update(_validated)

PLAN = ExperimentPlan(config)
EXPERIMENT = PLAN.experiment
RUN = paths.fill(paths.RUN, experiment=EXPERIMENT)
SUBSET = paths.fill(paths.SUBSET, experiment=EXPERIMENT)
CONDA_ENV = "../../envs/prunebench.yaml"
os.environ["PRUNEBENCH_OPS"] = PLAN.operations().to_json()


def in_experiment(template):
    """A log or benchmark template of prunebench.paths with this experiment filled in."""
    return paths.fill(template, experiment=EXPERIMENT)


# declared, so that executors pass it on to jobs on other machines
envvars:
    "PRUNEBENCH_OPS",


# (data key, model, proxy key) of this config's proxies -> (dataset, proxy name)
_PROXIES = {
    (PLAN.data_key(d), PLAN.proxy_model(d, p), PLAN.proxy_key(d, p)): (d, p)
    for p in PLAN.proxy_names()
    for d in PLAN.datasets
}
_DATA = {PLAN.data_key(d): d for d in PLAN.datasets}
# prepared folders with label noise have two more outputs (prepare_noisy_dataset)
_NOISY_DATA = {key for key, d in _DATA.items() if PLAN.label_noise(d) is not None}
NEVER = "(?!)"  # a wildcard pattern that matches nothing


wildcard_constraints:
    dataset="|".join(PLAN.datasets),
    method="|".join(config["methods"]),
    fraction="|".join(label.replace(".", r"\.") for label in PLAN.fractions),
    seed="[0-9]+",
    proxy_seeds="[0-9]+",
    data="|".join(_DATA),
    model="[A-Za-z0-9_]+",
    proxy="[0-9a-f]{8}",
    score="[A-Za-z0-9_]+",


def _as_json(obj):
    return json.dumps(obj, sort_keys=True)


def _fraction(wildcards):
    return PLAN.fractions[wildcards.fraction]


def _proxy_dataset(wildcards):
    key = (wildcards.data, wildcards.model, wildcards.proxy)
    if key not in _PROXIES:
        raise ValueError(f"no proxy of this config trains {key}")
    return _PROXIES[key]


# -- prepare ---------------------------------------------------------------------------------
def data_name(wildcards):
    """The loader that builds a prepared folder (an entry's `loader`, else its name)."""
    return PLAN.loader(_DATA[wildcards.data])


def data_keys(noisy):
    """The wildcard pattern of the prepared folders with (or without) label noise."""
    keys = [k for k in _DATA if (k in _NOISY_DATA) == noisy]
    return "|".join(keys) or NEVER


def data_options(wildcards):
    return _as_json(config["datasets"][_DATA[wildcards.data]]["options"])


def prepared_inputs(wildcards):
    return PLAN.prepared_files(wildcards.dataset)


def data_dir_of(wildcards):
    return PLAN.data_dir(wildcards.dataset)


# -- proxies and scores ----------------------------------------------------------------------
def proxy_prepared_inputs(wildcards):
    return PLAN.prepared_files(_DATA[wildcards.data])


def proxy_data_dir(wildcards):
    return paths.fill(paths.DATA, data=wildcards.data)


def proxy_spec(wildcards):
    return PLAN.proxy_spec(*_proxy_dataset(wildcards)).to_json()


def proxy_out(wildcards):
    return paths.PROXY.format(**wildcards)


# the arrays computed from a proxy run's saved state (rule score_proxy); "(?!)" matches nothing
STATE_ARRAYS = "|".join(PLAN.state_arrays()) or "(?!)"


def state_score(wildcards):
    return PLAN.state_arrays()[wildcards.array]


def proxy_state_input(wildcards):
    return f"{proxy_out(wildcards)}/{PLAN.state_input(state_score(wildcards))}"


def proxy_score_inputs(wildcards):
    name = proxy_array_file(wildcards.score, PLAN.proxy["score_epoch"])
    return expand(
        f"{paths.PROXY}/{name}",
        data=wildcards.data,
        model=wildcards.model,
        proxy=wildcards.proxy,
        seed=range(int(wildcards.proxy_seeds)),
    )


# -- select ----------------------------------------------------------------------------------
def subset_inputs(wildcards):
    inputs = {"labels": f"{PLAN.data_dir(wildcards.dataset)}/train_y.npy"}
    values = PLAN.selection_values(wildcards.dataset, wildcards.method)
    if values:
        inputs["values"] = values
    return inputs


def select_spec(wildcards):
    return PLAN.select_spec(wildcards.method, _fraction(wildcards)).to_json()


def values_flag(wildcards, input):
    return f"--values {input.values}" if "values" in input.keys() else ""


# -- train -----------------------------------------------------------------------------------
def train_inputs(wildcards):
    inputs = {"data": prepared_inputs(wildcards)}
    if method_entry(wildcards.method, config).kind == "static":
        subset = SUBSET.format(**wildcards)
        inputs["subset"] = f"{subset}.npy"
        inputs["subset_record"] = f"{subset}.json"
    return inputs


def train_spec(wildcards):
    return PLAN.train_spec(
        wildcards.dataset, wildcards.method, _fraction(wildcards)
    ).to_json()


# -- Slurm's runtime and mem_mb per job, from `prunebench plan`'s prediction (cost.resources) --
COSTS = JobCosts(config)


def train_runtime(wildcards, attempt):
    return COSTS.runtime("train", dict(wildcards), attempt)


def train_mem_mb(wildcards, attempt):
    return COSTS.mem_mb("train", dict(wildcards), attempt)


def proxy_runtime(wildcards, attempt):
    return COSTS.runtime("train_proxy", dict(wildcards), attempt)


def proxy_mem_mb(wildcards, attempt):
    return COSTS.mem_mb("train_proxy", dict(wildcards), attempt)


def run_dir_of(wildcards):
    return RUN.format(**wildcards)


def subset_flag(wildcards, input):
    return f"--subset {input.subset}" if "subset" in input.keys() else ""


def all_runs():
    """Every training run's folder (metrics.json etc. inside)."""
    return [PLAN.run_dir(run) for run in PLAN.runs()]


def all_run_files(name):
    return [f"{run}/{name}" for run in all_runs()]


# -- the fork server that spares each local job the Python/torch start-up (Snakefile onstart) --
_JOB_SERVER = []


def start_job_server():
    if (
        config["speed"]["job_server"]
        and workflow.local_exec
        and workflow.is_main_process
    ):
        server = start_server()
        if server is not None:
            os.environ[SOCKET_ENV] = server[1]
            _JOB_SERVER.append(server)


def stop_job_server():
    while _JOB_SERVER:
        stop_server(_JOB_SERVER.pop())
