"""The GPU path: data resident on the GPU as uint8, augmentation there, bf16 autocast,
channels_last and nn.Module.compile. Runs only where CUDA is visible (a session lent a GPU
runs it with the device tool; CI machines have none)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from prunebench.config import load_schema, validate_config
from prunebench.plan import ExperimentPlan
from prunebench.scores.proxy import run_proxy
from prunebench.train.run import run_training
from prunebench.train.setup import set_up_run

from .conftest import SCHEMA, digits_spec, split_job

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU visible; the GPU path needs one")


def gpu_spec(epochs: int = 4, **speed) -> dict:
    spec = digits_spec(epochs=epochs, batch_size=64, lr=0.05)
    return {**spec, "device": "cuda", "speed": {"channels_last": True, **speed},
            "options": {}}


def test_data_stays_uint8_on_the_gpu_and_batches_are_channels_last(digits_dir):
    run = set_up_run(*split_job(gpu_spec()), data_dir=digits_dir, seed=0, threads=None)
    assert run.data.train_x.is_cuda and run.data.train_x.dtype == torch.uint8
    assert run.augment_generator.device.type == "cuda"
    indices = torch.arange(64, device="cuda")
    x, y = run.data.train_batch(indices, {"crop_padding": 1, "flip": False},
                                run.augment_generator)
    assert x.is_cuda and x.dtype == torch.float32 and y.is_cuda
    assert x.is_contiguous(memory_format=torch.channels_last)
    conv = next(m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("method,fraction", [("full", 1.0), ("random_epoch", 0.5),
                                             ("crest", 0.5), ("infobatch", 1.0)])
def test_training_on_the_gpu_learns(tmp_path, digits_dir, method, fraction):
    spec = gpu_spec(epochs=6)
    if method in ("crest", "infobatch"):
        spec["options"] = validate_config({
            "experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
            "methods": [method], "fractions": [0.5], "seeds": [0],
            "options": {method: {"subset_size": 120, "num_subsets": 2}
                        if method == "crest" else {}},
        }, load_schema(SCHEMA))["options"][method]
    metrics = run_training(*split_job(spec, method=method, fraction=fraction),
                           data_dir=digits_dir, seed=0, out_dir=tmp_path)
    assert math.isfinite(metrics["test_loss"]) and metrics["test_acc"] > 0.8, metrics
    assert metrics["time"]["training"] > 0
    assert metrics["gpu_peak_memory_mb"] > 0


@pytest.mark.parametrize("mode", [True, "reduce-overhead"])
def test_compiled_model_trains_and_keeps_parameter_names(tmp_path, digits_dir, mode):
    run = set_up_run(*split_job(gpu_spec(compile=mode)), data_dir=digits_dir, seed=0,
                     threads=None)
    assert not any(name.startswith("_orig_mod") for name in run.model.state_dict())
    job = split_job(gpu_spec(epochs=3, compile=mode), method="full", fraction=1.0)
    metrics = run_training(*job, data_dir=digits_dir, seed=0, out_dir=tmp_path)
    assert math.isfinite(metrics["test_loss"]) and metrics["test_acc"] > 0.5


def test_proxy_scores_on_the_gpu(tmp_path, digits_dir):
    config = validate_config({
        "experiment": "t", "datasets": {"digits": {"model": "digits_cnn", "epochs": 4}},
        "methods": ["el2n"], "fractions": [0.5], "seeds": [0], "device": "cuda",
        "proxy": {"seeds": 1, "epochs": 3, "score_epoch": 2},
    }, load_schema(SCHEMA))
    plan = ExperimentPlan(config)
    job, ops = plan.proxy_spec("digits"), replace(plan.operations(), checkpoint_every=1)
    run_proxy(job, ops, data_dir=digits_dir, seed=0, out_dir=tmp_path)
    arrays = {p.name: np.load(p) for p in tmp_path.glob("*.npy")}
    assert arrays and all(a.shape == (1347,) and not np.isnan(a).any() for a in arrays.values())
    # forgetting is +inf for examples never classified correctly (Data Diet's convention)
    assert all(np.isfinite(a).all() for name, a in arrays.items() if "forgetting" not in name)
