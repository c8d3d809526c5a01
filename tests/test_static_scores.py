"""Uncertainty, embeddings and input-norm scores: hand-derived values and the passes' contracts."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from prunebench.data import load_prepared
from prunebench.data.tensors import TensorData
from prunebench.errors import UserError
from prunebench.models.base import ClassifierNet
from prunebench.scores.embeddings import penultimate_features
from prunebench.scores.input_norm import input_norm_scores
from prunebench.scores.uncertainty import (
    UNCERTAINTY,
    entropy,
    least_confidence,
    margin,
    uncertainty_from_logits,
    uncertainty_scores,
)
from prunebench.selection.quotas import class_quotas
from prunebench.selection.static.common import subset_size
from prunebench.selection.static.run import select_subset

PROBS = np.array([
    [1.0, 0.0, 0.0],
    [1 / 3, 1 / 3, 1 / 3],
    [0.5, 0.3, 0.2],
    [0.4, 0.0, 0.6],
])


def test_uncertainty_hand_values():
    h = lambda *ps: -sum(p * math.log(p) for p in ps)  # noqa: E731
    np.testing.assert_allclose(entropy(PROBS), [0, math.log(3), h(.5, .3, .2), h(.4, .6)],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(margin(PROBS), [0, 1, 1 - 0.2, 1 - 0.2], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(least_confidence(PROBS), [0, 2 / 3, 0.5, 0.4], rtol=1e-6,
                               atol=1e-7)
    for fn in (entropy, margin, least_confidence):
        assert fn(PROBS).dtype == np.float32
    with pytest.raises(ValueError):
        margin(np.ones((3, 1)))


def make_probs(n, classes, seed):
    g = np.random.default_rng(seed)
    logits = g.normal(size=(n, classes)) * g.uniform(0.1, 4, size=(n, 1))  # mixed confidence
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy(), g.integers(0, 3, n)


@pytest.mark.parametrize("name", list(UNCERTAINTY))
@pytest.mark.parametrize("balanced", [True, False])
def test_top_keeps_the_most_uncertain(name, balanced):
    probs, labels = make_probs(90, 4, 3)
    scores = UNCERTAINTY[name](probs)
    kept = select_subset("uncertainty_entropy", scores, labels, 0.2, np.random.default_rng(0),
                         class_balanced=balanced)
    # Brute force on the orientation-free definitions: most uncertain = largest entropy,
    # smallest p1 - p2, smallest max p.
    top2 = np.sort(probs, axis=1)[:, -2:]
    raw = {"uncertainty_entropy": -(probs * np.log(probs)).sum(1),
           "uncertainty_margin": -(top2[:, 1] - top2[:, 0]),
           "uncertainty_lc": -probs.max(1)}[name]
    k = subset_size(90, 0.2)
    groups = ([(np.flatnonzero(labels == c), q) for c, q in class_quotas(labels, k).items()]
              if balanced else [(np.arange(90), k)])
    expected = []
    for idx, q in groups:
        expected += idx[np.argsort(-raw[idx], kind="stable")[:q]].tolist()
    assert kept.tolist() == sorted(expected)
    # and it is the opposite of keeping the most confident (DeepCore's unbalanced fault)
    assert scores[kept].mean() > scores.mean()


def logit_net():
    """features = x (flattened), logits = x: the head is the identity."""
    head = nn.Linear(3, 3).double()
    nn.init.zeros_(head.bias)
    head.weight.data.copy_(torch.eye(3))
    return ClassifierNet(nn.Flatten(), head)


def test_uncertainty_pass_equals_the_summaries_of_softmax():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(11, 3, generator=g, dtype=torch.float64) * 3
    x[0] = torch.tensor([1000.0, 0.0, 0.0])  # a certain prediction: no NaN, entropy 0
    y = torch.zeros(11, dtype=torch.long)
    batches = [(x[i:i + 4], y[i:i + 4]) for i in range(0, 11, 4)]
    net = logit_net().train()
    got = uncertainty_scores(net, batches)
    probs = torch.softmax(x, dim=1).numpy()
    for name, fn in UNCERTAINTY.items():
        np.testing.assert_allclose(got[name], fn(probs), rtol=1e-6, atol=1e-7)
        assert got[name].dtype == np.float32 and len(got[name]) == 11
    assert got["uncertainty_entropy"][0] == 0 and net.training  # flags restored
    only = uncertainty_scores(net, batches, names=["uncertainty_lc"])
    assert list(only) == ["uncertainty_lc"]
    assert uncertainty_from_logits(x[:2])["uncertainty_margin"].shape == (2,)
    with pytest.raises(ValueError, match="unknown"):
        uncertainty_scores(net, batches, names=["uncertainty_x"])


def bn_net():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    body[2].running_mean.copy_(torch.randn(6))
    body[2].running_var.copy_(torch.rand(6) + 0.5)
    return ClassifierNet(body, nn.Linear(6, 3))


def test_embeddings_are_eval_mode_features_in_float16():
    net = bn_net().train()
    x = torch.randn(10, 2, 2)
    batches = [(x[i:i + 3], torch.zeros(len(x[i:i + 3]), dtype=torch.long))
               for i in range(0, 10, 3)]
    got = penultimate_features(net, batches)
    assert got.dtype == np.float16 and got.shape == (10, 6) and net.training
    with torch.no_grad():
        expected = net.eval().forward_features(x).numpy()  # running statistics, in order
    np.testing.assert_array_equal(got, expected.astype(np.float16))


def test_embeddings_refuse_overflow_and_models_without_features():
    net = bn_net()
    big = torch.full((2, 2, 2), 1e6)
    with torch.no_grad():
        net.body[1].weight.fill_(1e3)
    with pytest.raises(UserError, match="float16"):
        penultimate_features(net, [(big, torch.zeros(2, dtype=torch.long))])
    with pytest.raises(UserError, match="forward_features"):
        penultimate_features(nn.Linear(4, 3), [(torch.ones(1, 4), torch.zeros(1))])


def test_input_norm_equals_numpy_norm_of_normalised_inputs(digits_dir):
    prepared = load_prepared(digits_dir)
    data = TensorData.from_prepared(prepared, torch.device("cpu"))
    got = input_norm_scores(data.eval_batches("train", 100))
    mean = np.array(prepared.meta["mean"]).reshape(1, -1, 1, 1)
    std = np.array(prepared.meta["std"]).reshape(1, -1, 1, 1)
    normalised = (prepared.train_x / 255.0 - mean) / std
    expected = np.linalg.norm(normalised.reshape(len(normalised), -1), axis=1)
    assert got.dtype == np.float32 and got.shape == (len(prepared.train_y),)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.unique(got).size > 100  # not a constant: the inputs differ


def test_input_norm_refuses_token_ids():
    ids = torch.ones(2, 3, 5, dtype=torch.long)
    with pytest.raises(UserError, match="token ids"):
        input_norm_scores([(ids, torch.zeros(2, dtype=torch.long))])
