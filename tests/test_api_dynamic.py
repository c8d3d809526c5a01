"""A user's own loop driven by pb.DynamicMethod reproduces a training job (run_training) of the
same method, data, seed and options: the same selections, step for step, and the same final
accuracy, bit for bit on the CPU."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import prunebench as pb
from prunebench.data import load_prepared
from prunebench.data.tensors import TensorData
from prunebench.models import build_model
from prunebench.train.loop import LearningRate, evaluate
from prunebench.train.run import run_training

from .conftest import split_job
from .test_dynamic import SMALL_CREST, spec_for

FRACTION = 0.3
# method -> (options, epochs): CREST's first epoch is its warm-up at lr 0; InfoBatch prunes by
# the losses `observe` hands back
CASES = {"crest": (SMALL_CREST, 4), "craig": ({}, 2), "infobatch": ({}, 2)}


def user_loop(method_name: str, data_dir, settings, options: dict, seed: int = 0):
    """A plain PyTorch loop a user would write, with the settings of the training job."""
    data = TensorData.from_prepared(load_prepared(data_dir), torch.device("cpu"))
    torch.manual_seed(seed)  # the job seeds the model's initialisation the same way
    model = build_model(settings.model, data.input_shape, data.num_classes)
    x, y = data.normalize(data.train_x), data.train_y  # the model's inputs, un-augmented
    fraction = 1.0 if method_name == "infobatch" else FRACTION
    method = pb.DynamicMethod(method_name, model, x, y, fraction=fraction,
                              batch_size=settings.batch_size, epochs=settings.epochs, seed=seed,
                              eval_batch_size=settings.eval_batch_size, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                nesterov=settings.nesterov, weight_decay=settings.weight_decay)
    planned = method.steps_per_epoch
    schedule = LearningRate(settings, planned * settings.epochs, planned)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        steps = method.start_epoch(epoch, lr=schedule.at(epoch, 0, planned))
        for i in range(steps):
            lr = schedule.at(epoch, i, steps)
            batch = method.next_batch(lr=lr)
            for group in optimizer.param_groups:
                group["lr"] = lr * batch.lr_scale
            with method.timed("training"):
                losses = F.cross_entropy(model(x[batch.indices]), y[batch.indices],
                                         reduction="none")
                weighted = losses if batch.weights is None else losses * batch.weights
                optimizer.zero_grad(set_to_none=True)
                weighted.mean().backward()
                if lr * batch.lr_scale > 0:
                    optimizer.step()
            method.observe(batch.indices, losses.detach())
    _, accuracy = evaluate(model, data.eval_batches("test", 256), torch.device("cpu"))
    return method, accuracy


@pytest.mark.parametrize("method_name", list(CASES))
def test_a_user_loop_reproduces_the_training_job(tmp_path, digits_dir, method_name):
    options, epochs = CASES[method_name]
    spec = spec_for(method_name, epochs=epochs)
    spec["options"] = {**spec["options"], **options}
    fraction = 1.0 if method_name == "infobatch" else FRACTION
    job, ops = split_job(spec, method=method_name, fraction=fraction)
    metrics = run_training(job, ops, data_dir=digits_dir, seed=0, out_dir=tmp_path)
    method, accuracy = user_loop(method_name, digits_dir, job.training, options)

    assert accuracy == metrics["test_acc"]
    assert method.step == metrics["steps"] and method.examples_seen == metrics["examples_seen"]
    assert method.counts["forward_examples"] == metrics["counts"]["forward_examples"]
    assert method.counts["backward_examples"] == metrics["counts"]["backward_examples"]
    assert method.extra.keys() == metrics["sampler"].keys()
    saved = np.load(tmp_path / "selected.npz")
    records = method.records
    assert len(records) == len(saved["steps"])
    for s, record in enumerate(records):
        start, end = saved["offsets"][s], saved["offsets"][s + 1]
        assert record.step == saved["steps"][s]
        assert np.array_equal(record.indices.numpy(), saved["indices"][start:end])
        assert np.array_equal(record.weights.numpy(), saved["weights"][start:end])
    # the selections log is the job's selections.csv, but for the measured seconds
    job_log = pd.read_csv(tmp_path / "selections.csv")
    ours = method.selections
    assert list(ours.columns) == list(job_log.columns)
    pd.testing.assert_frame_equal(ours.drop(columns="selection_s"),
                                  job_log.drop(columns="selection_s"))
    if method_name in ("crest", "craig"):
        assert len(ours) >= 2 and (ours["selection_s"] > 0).all()
        assert method.times["selection"] > 0 and method.times["training"] > 0
    assert accuracy > 0.2  # digits: chance is 0.1 (a few epochs of a small budget)


def test_batches_iterates_an_epoch_and_refuses_steps_beyond_it():
    torch.manual_seed(0)
    x, y = torch.randn(60, 4), torch.arange(60) % 3
    model = torch.nn.Linear(4, 3)
    method = pb.DynamicMethod("random_epoch", model, x, y, fraction=0.5, batch_size=8, epochs=2)
    seen = [batch.indices for batch in method.batches(1, lr=lambda i, n: 0.1)]
    assert len(seen) == math.ceil(30 / 8) == method.steps_per_epoch
    assert len(torch.cat(seen).unique()) == 30
    with pytest.raises(pb.UserError, match="no steps left"):
        method.next_batch()
