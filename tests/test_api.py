"""The library API (`import prunebench as pb`, docs/library.md): its scores are the proxy job's,
its static selections the select job's, its registry the METHODS registry, and a bad call is
one error naming the argument."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import prunebench as pb
from prunebench.jobspec import SelectSpec
from prunebench.methods import METHODS, SCORES
from prunebench.scores.proxy import ScoreRecorder
from prunebench.selection.static.run import run_selection
from prunebench.train.budget import StepPlan
from prunebench.train.loop import train_loop
from prunebench.train.passes import SubsetSampler
from prunebench.train.setup import set_up_run

from .conftest import digits_spec, split_job

SCORE_EPOCH = 2
AT_ONE_STATE = [name for name, s in SCORES.items() if s.at != "run" and name != "el2n_sum"]


class _Probe:
    """A loop callback beside the proxy's ScoreRecorder: the API at the same model states."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.forgetting = pb.ForgettingTracker(len(y))
        self.tracker = pb.ScoreTracker(["el2n_sum", "forgetting"], x, y, score_epoch=SCORE_EPOCH,
                                       batch_size=batch_size)
        self.arrays: dict[str, np.ndarray] = {}

    def on_batch(self, indices, logits, targets):
        self.forgetting.update(indices, logits, targets)
        self.tracker.update(indices, logits, targets)

    def on_epoch_end(self, epoch, model):
        self.tracker.epoch_end(epoch, model)
        for name in AT_ONE_STATE:
            if epoch == (0 if SCORES[name].at == "init" else SCORE_EPOCH):
                self.arrays[name] = pb.score(name, model, self.x, self.y,
                                             batch_size=self.batch_size)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def mnist1d_spec(**training) -> dict:
    """digits_spec's settings for the small MNIST-1D (400 examples) and its CNN."""
    spec = digits_spec(**training)
    return {**spec, "dataset": "mnist1d", "training": {**spec["training"],
                                                         "model": "mnist1d_cnn"}}


def test_scores_are_the_proxy_jobs_bit_for_bit(mnist1d_small_dir):
    job, ops = split_job(mnist1d_spec(epochs=SCORE_EPOCH, batch_size=64, lr=0.05,
                                      eval_batch_size=128))
    run = set_up_run(job, ops, data_dir=mnist1d_small_dir, seed=0, threads=None)
    data, settings = run.data, run.settings
    recorder = ScoreRecorder(data, list(SCORES), SCORE_EPOCH, settings.eval_batch_size, 64,
                             run.timers)
    probe = _Probe(data.normalize(data.train_x), data.train_y, settings.eval_batch_size)
    sampler = SubsetSampler(torch.arange(data.n_train), settings.batch_size, run.order_generator)
    plan = StepPlan(SCORE_EPOCH, math.ceil(data.n_train / settings.batch_size))
    train_loop(run.model, data, sampler, plan, settings, device=run.device, timers=run.timers,
               generator=run.augment_generator, callbacks=[recorder, probe], log=lambda _: None,
               progress=False)
    proxy = recorder.results()
    ours = {**probe.arrays, "forgetting": probe.forgetting.scores(), **probe.tracker.scores()}
    assert set(ours) == set(SCORES)
    for name in SCORES:
        assert ours[name].dtype == proxy[name].dtype and ours[name].shape == proxy[name].shape
        assert np.array_equal(ours[name], proxy[name], equal_nan=True), name
    assert np.isfinite(ours["el2n"]).all() and ours["forgetting"].shape == (data.n_train,)


def test_score_reads_a_dataset_like_tensors():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 3))
    x, y = torch.randn(40, 5), torch.arange(40) % 3
    dataset = torch.utils.data.TensorDataset(x, y)
    from_tensors = pb.score("el2n", model, x, y, batch_size=16)
    assert np.array_equal(pb.score("el2n", model, dataset, batch_size=16), from_tensors)
    assert from_tensors.shape == (40,) and from_tensors.dtype == np.float32


def _values(method: str, n: int, rng: np.random.Generator):
    entry = METHODS[method]
    if entry.embeddings:
        return rng.normal(size=(n, 6)).astype(np.float16)
    if entry.needs_proxy:
        return rng.random(n).astype(np.float32)
    return None


@pytest.mark.parametrize("method", [m for m, e in METHODS.items() if e.kind == "static"])
def test_select_is_the_select_jobs_selection(tmp_path, method):
    rng = np.random.default_rng(1)
    n = 300
    labels = rng.integers(0, 4, n).astype(np.int64)
    values = _values(method, n, rng)
    options = {"beta": 0.2} if method == "ccs" else {}
    np.save(tmp_path / "labels.npy", labels)
    values_path = None
    if values is not None:
        values_path = tmp_path / "values.npy"
        np.save(values_path, values)
    run_selection(SelectSpec(method, options, 0.3), labels_path=tmp_path / "labels.npy", seed=7,
                  out=tmp_path / "subset.npy", values_path=values_path)
    key = "embeddings" if METHODS[method].embeddings else "scores"
    given = {} if values is None else {key: values}
    ours = pb.select(method, 0.3, labels, seed=7, **given, **options)
    assert ours.dtype == np.int64 and len(ours) == round(0.3 * n)
    assert np.array_equal(ours, np.load(tmp_path / "subset.npy"))


def test_registry_lists_every_method_and_score_with_defaults():
    methods = pb.available_methods()
    assert list(methods) == list(METHODS)
    assert methods["crest"].kind == "dynamic" and methods["crest"].options["tau"].default == 0.1
    assert methods["ccs"].options["beta"].bounds == {"minimum": 0, "exclusiveMaximum": 1}
    assert methods["kcenter"].embeddings and methods["el2n"].score == "el2n"
    assert list(pb.available_scores()) == list(SCORES)


def _error(call) -> str:
    with pytest.raises(pb.UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_calls_raise_one_error_naming_the_argument():
    labels = np.arange(20) % 2
    scores = np.linspace(0, 1, 20)
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(20, 3), torch.arange(20) % 2
    assert "'nope' is not a registered method" in _error(lambda: pb.select("nope", 0.3, labels))
    assert "needs scores=" in _error(lambda: pb.select("el2n", 0.3, labels))
    assert "needs embeddings=" in _error(lambda: pb.select("kcenter", 0.3, labels))
    assert "fraction" in _error(lambda: pb.select("el2n", 0, labels, scores=scores))
    assert "fraction" in _error(lambda: pb.select("random", 1.5, labels))
    assert "scores must be 1-D" in _error(lambda: pb.select("el2n", 0.3, labels,
                                                            scores=scores[:5]))
    assert "labels must be" in _error(lambda: pb.select("random", 0.3, np.ones((2, 2), int)))
    assert "option beta" in _error(lambda: pb.select("ccs", 0.3, labels, scores=scores, beta=2))
    assert "'bogus'" in _error(lambda: pb.select("random", 0.3, labels, bogus=1))
    assert "is dynamic" in _error(lambda: pb.select("crest", 0.3, labels))
    assert "is static" in _error(lambda: pb.DynamicMethod("el2n", model, x, y, fraction=0.5,
                                                          batch_size=4, epochs=1))
    assert "y has 19 labels" in _error(lambda: pb.score("el2n", model, x, y[:19]))
    assert "y has 19 labels" in _error(lambda: pb.DynamicMethod(
        "craig", model, x, y[:19], fraction=0.5, batch_size=4, epochs=1))
    assert "fraction" in _error(lambda: pb.DynamicMethod("craig", model, x, y, fraction=0,
                                                         batch_size=4, epochs=1))
    assert "fraction is missing" in _error(lambda: pb.DynamicMethod("craig", model, x, y,
                                                                    batch_size=4, epochs=1))
    assert "batch_size" in _error(lambda: pb.DynamicMethod("craig", model, x, y, fraction=0.5,
                                                           batch_size=0, epochs=1))
    assert "crest option subset_size" in _error(lambda: pb.DynamicMethod(
        "crest", model, x, y, fraction=0.5, batch_size=4, epochs=1, subset_size=50))
    assert "crest option tau" in _error(lambda: pb.DynamicMethod(
        "crest", model, x, y, fraction=0.5, batch_size=4, epochs=1, tau=-1))
    assert "not a registered score" in _error(lambda: pb.score("nope", model, x, y))
    assert "ForgettingTracker" in _error(lambda: pb.score("forgetting", model, x, y))
    assert "ScoreTracker" in _error(lambda: pb.score("el2n_sum", model, x, y))
    assert "batch_size" in _error(lambda: pb.score("el2n", model, x, y, batch_size=0))
    method = pb.DynamicMethod("craig", model, x, y, fraction=0.5, batch_size=4, epochs=1)
    assert "start_epoch" in _error(method.next_batch)


def test_importing_prunebench_alone_loads_no_torch():
    code = ("import sys, prunebench; assert 'torch' not in sys.modules; "
            "print(len(prunebench.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) > 10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a visible GPU")
def test_the_api_runs_where_the_model_is_on_a_gpu():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3).cuda()
    x, y = torch.randn(48, 5), torch.arange(48) % 3  # on the CPU: moved to the model's device
    assert pb.score("el2n", model, x, y).shape == (48,)
    method = pb.DynamicMethod("craig", model, x, y, fraction=0.5, batch_size=8, epochs=1)
    for batch in method.batches(1, lr=0.1):
        assert batch.indices.device.type == "cuda"
        method.observe(batch.indices, torch.zeros(len(batch.indices), device="cuda"))
    assert method.counts["examples_seen"] == 24 and len(method.selections) == 1
