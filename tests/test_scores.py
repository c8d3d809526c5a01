"""Hand-derived checks of the per-example scores (EL2N, GraNd, forgetting)."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from prunebench.methods import SCORES
from prunebench.models.base import ClassifierNet
from prunebench.scores import (
    ForgettingTracker,
    el2n_scores,
    grand_last_scores,
    grand_scores,
)


def tiny_net(seed: int = 0) -> ClassifierNet:
    """Linear-BN-ReLU body and a 3-class head, float64, with non-trivial BN running stats."""
    torch.manual_seed(seed)
    body = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU())
    net = ClassifierNet(body, nn.Linear(5, 3)).double()
    # Running stats away from (0, 1), so using batch stats instead would change the answer.
    body[2].running_mean.copy_(torch.randn(5, dtype=torch.float64))
    body[2].running_var.copy_(torch.rand(5, dtype=torch.float64) + 0.5)
    return net


def data(n: int = 10, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (n,), generator=g)


def batched(x, y, size):
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def per_example_grad_norm(net, x, y, params):
    """Reference: one ordinary autograd backward per example, eval mode."""
    net.eval()
    losses = [F.cross_entropy(net(x[i : i + 1]), y[i : i + 1]) for i in range(len(x))]
    grads = [torch.autograd.grad(loss, params) for loss in losses]
    return np.array([math.sqrt(sum(float(g.pow(2).sum()) for g in gs)) for gs in grads])


def test_el2n_perfect_and_uniform_predictions():
    c, y = 3, torch.tensor([0, 2, 1, 2])
    head = nn.Linear(c, c).double()
    net, x = ClassifierNet(nn.Flatten(), head), F.one_hot(y, c).double()
    nn.init.zeros_(head.bias)
    head.weight.data.copy_(1000 * torch.eye(c))  # logits = 1000 * onehot(y)
    np.testing.assert_allclose(el2n_scores(net, [(x, y)]), 0.0, atol=1e-6)
    nn.init.zeros_(head.weight)  # all logits equal -> uniform softmax
    expected = math.sqrt((1 - 1 / c) ** 2 + (c - 1) / c**2)  # = sqrt(1 - 1/C)
    np.testing.assert_allclose(el2n_scores(net, [(x, y)]), expected, atol=1e-6)


def test_grand_last_matches_autograd_on_head():
    net, (x, y) = tiny_net(), data()
    ref = per_example_grad_norm(net, x, y, [net.head.weight, net.head.bias])
    np.testing.assert_allclose(grand_last_scores(net, batched(x, y, 4)), ref, rtol=1e-5)


@pytest.mark.parametrize("freeze", [False, True])
def test_grand_matches_autograd_loop_with_chunking(freeze):
    net, (x, y) = tiny_net(), data(10)
    net.body[1].requires_grad_(not freeze)  # frozen parameters are left out of the norm
    ref = per_example_grad_norm(net, x, y, [p for p in net.parameters() if p.requires_grad])
    got = grand_scores(net, batched(x, y, 4), chunk_size=3)  # chunks cross batch sizes
    np.testing.assert_allclose(got, ref, rtol=1e-5)


SCORE_FNS = [el2n_scores, grand_scores, grand_last_scores]


@pytest.mark.parametrize("fn", SCORE_FNS)
@pytest.mark.parametrize("training", [True, False])
def test_mode_and_running_stats_restored(fn, training):
    net, (x, y) = tiny_net().train(training), data()
    bn = net.body[2]
    before = bn.running_mean.clone()
    fn(net, batched(x, y, 4))
    assert all(m.training == training for m in net.modules())
    # Eval mode was used inside: the BN running stats were not updated.
    torch.testing.assert_close(bn.running_mean, before)


@pytest.mark.parametrize("fn", SCORE_FNS)
def test_dtype_length_and_order(fn):
    net, (x, y) = tiny_net(), data(11)
    whole = fn(net, [(x, y)])
    parts = fn(net, batched(x, y, 4))
    rev = fn(net, [(x.flip(0), y.flip(0))])
    assert whole.dtype == np.float32 and whole.shape == (11,)
    np.testing.assert_allclose(parts, whole, rtol=1e-6)
    np.testing.assert_allclose(rev[::-1], whole, rtol=1e-6)
    assert len(set(whole.tolist())) > 1  # examples really differ


# Correctness at each presentation, per example, and the forgetting events it implies.
SEQS = {0: [1, 0, 1, 0, 1], 1: [1, 1, 1, 1, 1], 2: [0, 0, 0, 0, 0], 3: [0, 1, 0, 0, 1]}
EXPECTED = np.array([2, 0, np.inf, 1], dtype=np.float32)
# Shuffled batches; examples skip batches, so events are counted per presentation.
SCHEDULE = [[2, 0], [1], [3, 0, 2], [1, 3], [0], [2, 1, 3], [3, 0], [1, 2], [2, 0, 3, 1]]


def presentations():
    seen = dict.fromkeys(SEQS, 0)
    for i, batch in enumerate(SCHEDULE):
        correct = [SEQS[j][seen[j]] for j in batch]
        seen.update({j: seen[j] + 1 for j in batch})
        as_array = torch.tensor if i % 2 else np.array  # both input types must be accepted
        yield as_array(batch), as_array(correct) > 0
    assert all(v == 5 for v in seen.values())


def feed(tracker, batches):
    for idx, ok in batches:
        tracker.update(idx, ok)
    return tracker


def test_forgetting_scripted_sequence():
    scores = feed(ForgettingTracker(4), presentations()).scores()
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, EXPECTED)
    with pytest.raises(ValueError):  # duplicates in one batch have no defined order
        ForgettingTracker(3).update([0, 0], [True, False])


def test_forgetting_state_dict_round_trip():
    batches = list(presentations())
    first = feed(ForgettingTracker(4), batches[:4])
    state = first.state_dict()
    first.update(*batches[4])  # must not leak into the saved state
    resumed = ForgettingTracker(4)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(feed(resumed, batches[4:]).scores(), EXPECTED)


def test_score_recorder_runs_every_scorer_like_the_score_functions(digits_dir):
    """One recorder, every registered score: the arrays equal the plain score functions', and
    each cost is training up to when the score exists plus the passes it used."""
    from prunebench.scores.proxy import ScoreRecorder
    from prunebench.train.setup import set_up_run

    from .conftest import digits_spec, split_job

    run = set_up_run(*split_job(digits_spec()), data_dir=digits_dir, seed=0, threads=1)
    recorder = ScoreRecorder(run.data, list(SCORES), 1, 256, 32, run.timers)
    recorder.on_epoch_end(0, run.model)
    run.timers.seconds["training"] = 2.5  # as if epoch 1 had trained for 2.5 s
    recorder.on_epoch_end(1, run.model)
    arrays = recorder.results()

    def batches():
        return run.data.eval_batches("train", 256)

    np.testing.assert_array_equal(arrays["el2n"], el2n_scores(run.model, batches()))
    np.testing.assert_array_equal(arrays["el2n_sum"], arrays["el2n"])  # k = 1: one epoch
    np.testing.assert_allclose(arrays["grand_last"], grand_last_scores(run.model, batches()),
                               rtol=1e-6)
    np.testing.assert_allclose(arrays["grand"], grand_scores(run.model, batches(), 32),
                               rtol=1e-5)
    assert np.isinf(arrays["forgetting"]).all()  # never presented: never learned
    from prunebench.scores.embeddings import penultimate_features
    from prunebench.scores.input_norm import input_norm_scores
    from prunebench.scores.uncertainty import uncertainty_scores

    uncertainty = uncertainty_scores(run.model, batches())
    for name, values in uncertainty.items():
        np.testing.assert_allclose(arrays[name], values, rtol=1e-6)
    np.testing.assert_array_equal(arrays["embeddings"], penultimate_features(run.model, batches()))
    assert arrays.pop("embeddings").dtype == np.float16
    np.testing.assert_array_equal(arrays["input_norm"], input_norm_scores(batches()))
    assert all(a.shape == (run.data.n_train,) and a.dtype == np.float32 for a in arrays.values())
    costs, own = recorder.costs(), recorder.pass_seconds
    for name in ("grand_init", "input_norm"):  # taken before any training
        assert costs[name] == pytest.approx(own[name], abs=1e-6)
    for name in ("el2n", "el2n_sum", "grand", "grand_last"):
        assert costs[name] == pytest.approx(2.5 + own[name], abs=1e-6)
    assert costs["forgetting"] == pytest.approx(2.5, abs=1e-6)  # the whole run
    assert own["el2n"] > 0 and own["grand_last"] > 0  # one shared pass, charged to each


@pytest.mark.parametrize("name", list(SCORES))
@pytest.mark.parametrize("score_epoch", [1, 3])
def test_every_scorer_is_taken_when_its_registry_entry_says(name, score_epoch):
    """SCORES[name].at (torch-free, names the file) and the scorer's epochs (when the recorder
    runs it, what its cost is charged up to) agree for every registered score."""
    from prunebench.methods import proxy_array_file
    from prunebench.scores.proxy import build_scorer

    at = SCORES[name].at
    scorer = build_scorer(name, n_train=5, score_epoch=score_epoch, grand_chunk=4)
    if at == "run":
        assert scorer.run_long and proxy_array_file(name, score_epoch) == f"{name}.npy"
        return
    taken = 0 if at == "init" else score_epoch
    assert not scorer.run_long and max(scorer.epochs) == taken
    assert proxy_array_file(name, score_epoch) == f"{name}_e{taken}.npy"


def test_a_score_time_outside_the_registry_is_refused():
    from prunebench.scores.protocol import Scorer

    with pytest.raises(ValueError, match="score time 'later'"):
        Scorer(5, 2, at="later")
