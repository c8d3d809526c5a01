"""Tests for the model registry: shapes, the body/head split, sizes, errors and torch.func use."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from prunebench.errors import UserError
from prunebench.models import MODELS, TEXT_MODELS, build_model
from prunebench.models.base import ClassifierNet

NATURAL_SHAPES = {
    "digits_cnn": (1, 8, 8),
    "mnist1d_cnn": (1, 40),
    "digits_mlp": (1, 8, 8),
    "mnist1d_mlp": (1, 40),
    "resnet8": (3, 32, 32),
    "resnet20": (3, 32, 32),
    "resnet32": (3, 32, 32),
    "resnet56": (3, 32, 32),
    "resnet18": (3, 32, 32),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registry_names_are_exactly_the_documented_ones():
    assert set(MODELS) == set(NATURAL_SHAPES) | set(TEXT_MODELS)


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPES))
def test_builds_with_linear_head_and_consistent_forward(name):
    torch.manual_seed(0)
    num_classes = 7
    model = build_model(name, NATURAL_SHAPES[name], num_classes).eval()
    assert isinstance(model, ClassifierNet)
    assert type(model.head) is nn.Linear
    assert model.head.bias is not None
    assert model.head.out_features == num_classes
    x = torch.randn(3, *NATURAL_SHAPES[name])
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (3, num_classes)
    assert features.shape == (3, model.head.in_features)
    torch.testing.assert_close(logits, model.head(features))


def test_image_models_accept_other_channel_counts_and_sizes():
    for name in ("digits_cnn", "resnet20", "resnet18"):
        model = build_model(name, (1, 16, 16), 3).eval()
        with torch.no_grad():
            assert model(torch.randn(2, 1, 16, 16)).shape == (2, 3)


@pytest.mark.parametrize(
    ("name", "paper_count"),
    [("resnet20", 0.27e6), ("resnet32", 0.46e6), ("resnet56", 0.85e6), ("resnet18", 11.17e6)],
)
def test_parameter_counts_match_published_figures(name, paper_count):
    model = build_model(name, (3, 32, 32), 10)
    assert abs(count_parameters(model) - paper_count) / paper_count < 0.03


@pytest.mark.parametrize(("proxy", "target", "shape"), [
    ("mnist1d_mlp", "mnist1d_cnn", (1, 40)), ("digits_mlp", "digits_cnn", (1, 8, 8)),
    ("resnet8", "resnet20", (3, 32, 32))])
def test_each_dataset_family_has_a_smaller_proxy_model(proxy, target, shape):
    # Selection via Proxy (Coleman et al.): score with a model a fraction of the target's size
    small, large = (count_parameters(build_model(name, shape, 10)) for name in (proxy, target))
    assert small < large / 2


def test_unknown_model_names_the_allowed_ones():
    with pytest.raises(UserError) as caught:
        build_model("vgg16", (3, 32, 32), 10)
    message = str(caught.value)
    assert "'vgg16'" in message
    for name in MODELS:
        assert name in message


@pytest.mark.parametrize(
    ("name", "bad_shape"),
    [("digits_cnn", (1, 40)), ("resnet20", (3, 32)), ("resnet18", (32, 32)),
     ("mnist1d_cnn", (1, 8, 8)), ("mnist1d_cnn", (40,))],
)
def test_wrong_input_rank_is_a_user_error(name, bad_shape):
    with pytest.raises(UserError, match="input_shape"):
        build_model(name, bad_shape, 10)


def test_too_few_classes_is_a_user_error():
    with pytest.raises(UserError, match="num_classes"):
        build_model("digits_cnn", (1, 8, 8), 1)


def _loop_gradients(model, x, y):
    """Per-example gradients the slow way: one ordinary backward pass per example."""
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        loss.backward()
        rows.append({n: p.grad.detach().clone() for n, p in model.named_parameters()})
    return {n: torch.stack([row[n] for row in rows]) for n in rows[0]}


def _vmap_gradients(model, x, y):
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def loss_of_one(params, xi, yi):
        logits = functional_call(model, (params, buffers), (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(logits, yi.unsqueeze(0))

    return vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, y)


@pytest.mark.parametrize("name", ["digits_cnn", "resnet20"])
def test_vmap_per_example_gradients_match_autograd_loop(name):
    torch.manual_seed(1)
    model = build_model(name, NATURAL_SHAPES[name], 10).double()
    # A few training-mode passes give BatchNorm non-trivial running statistics.
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, *NATURAL_SHAPES[name], dtype=torch.float64))
    model.eval()
    x = torch.randn(3, *NATURAL_SHAPES[name], dtype=torch.float64)
    y = torch.tensor([0, 4, 9])
    expected = _loop_gradients(model, x, y)
    actual = _vmap_gradients(model, x, y)
    assert actual.keys() == expected.keys()
    for param_name, value in expected.items():
        torch.testing.assert_close(actual[param_name], value, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPES))
def test_vmap_grad_runs_in_eval_mode_for_every_model(name):
    torch.manual_seed(0)
    shape = (3, 16, 16) if name == "resnet18" else NATURAL_SHAPES[name]
    model = build_model(name, shape, 10).eval()
    grads = _vmap_gradients(model, torch.randn(4, *shape), torch.tensor([0, 1, 2, 3]))
    assert grads["head.weight"].shape == (4, 10, model.head.in_features)
    assert all(torch.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("name", sorted(NATURAL_SHAPES))
def test_same_seed_gives_identical_initial_parameters(name):
    torch.manual_seed(123)
    first = build_model(name, NATURAL_SHAPES[name], 10).state_dict()
    torch.manual_seed(123)
    second = build_model(name, NATURAL_SHAPES[name], 10).state_dict()
    torch.manual_seed(124)
    third = build_model(name, NATURAL_SHAPES[name], 10).state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key])
    assert not torch.equal(first["head.weight"], third["head.weight"])
