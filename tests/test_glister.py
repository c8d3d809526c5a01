"""GLISTER-ONLINE: the greedy on the Taylor-approximated validation loss, the held-out set."""

from __future__ import annotations

import math

import numpy as np
import torch

from prunebench.selection.kernels.glister.reference import stochastic_greedy
from prunebench.selection.quotas import class_quotas
from prunebench.train.budget import plan_steps
from prunebench.train.loop import LearningRate, train_loop
from prunebench.train.run import make_sampler, run_training
from prunebench.train.setup import set_up_run

from .conftest import digits_spec, split_job
from .test_dynamic import train_with


def glister_spec(epochs: int = 2, **options) -> dict:
    spec = digits_spec(epochs=epochs, batch_size=64, lr=0.05)
    spec["options"] = options
    return spec


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def val_gradient(z: np.ndarray, y: np.ndarray, shift) -> np.ndarray:
    return (softmax(z - shift) - np.eye(z.shape[1])[y]).mean(0)


# four candidates' bias gradients, five validation examples (found so that the virtual step
# changes the second pick: with the first v it would be candidate 3, after the step it is 1)
GRADS = np.array([[-0.9, 0.6, 0.3], [0.54, 0.45, -0.99], [-0.76, 0.05, 0.71], [0.38, 0.51, -0.9]])
VAL_LOGITS = np.array([[-1.1, 0.4, -0.7], [0.0, -1.3, 1.9], [-1.0, -0.3, 0.5], [-0.6, -0.2, -0.6],
                       [-0.1, -1.2, -0.4]])
VAL_LABELS = np.array([0, 2, 2, 0, 2])


def test_first_pick_is_the_argmax_and_v_is_recomputed_after_the_virtual_step():
    eta = 1.0
    v0 = val_gradient(VAL_LOGITS, VAL_LABELS, 0.0)
    first = int(np.argmax(GRADS @ v0))
    rest = [i for i in range(4) if i != first]
    stale = rest[int(np.argmax(GRADS[rest] @ v0))]
    v1 = val_gradient(VAL_LOGITS, VAL_LABELS, eta * GRADS[first])
    second = rest[int(np.argmax(GRADS[rest] @ v1))]
    assert stale != second  # the case really tells the two apart
    # k = 2 of n = 4: ceil(4 / 2 * ln 100) >= 4 candidates per pick, so the greedy is exact
    picks = stochastic_greedy(torch.from_numpy(GRADS), torch.from_numpy(VAL_LOGITS),
                              torch.from_numpy(VAL_LABELS), k=2, eta=eta, epsilon=0.01,
                              rng=np.random.default_rng(0))
    assert picks.tolist() == [first, second]
    # eta = 0: no virtual step, the second pick is the stale ranking's
    frozen = stochastic_greedy(torch.from_numpy(GRADS), torch.from_numpy(VAL_LOGITS),
                               torch.from_numpy(VAL_LABELS), k=2, eta=0.0, epsilon=0.01,
                               rng=np.random.default_rng(0))
    assert frozen.tolist() == [first, stale]


class CountingRng:
    """A numpy Generator that records the size of every candidate sample."""

    def __init__(self, seed: int):
        self.rng, self.sizes = np.random.default_rng(seed), []

    def choice(self, population: int, size: int, replace: bool):
        self.sizes.append((population, size))
        return self.rng.choice(population, size=size, replace=replace)


def test_each_pick_samples_ceil_n_over_k_ln_100_remaining_candidates():
    gen = torch.Generator().manual_seed(0)
    n, k = 200, 30
    grads = torch.randn(n, 4, generator=gen)
    rng = CountingRng(0)
    picks = stochastic_greedy(grads, torch.randn(20, 4, generator=gen),
                              torch.randint(4, (20,), generator=gen), k, 0.1, 0.01, rng)
    assert len(set(picks.tolist())) == k
    sample = math.ceil(n / k * math.log(100))
    assert rng.sizes == [(n - t, min(sample, n - t)) for t in range(k)]


def test_validation_examples_are_held_out_and_never_trained_on(digits_dir):
    spec = glister_spec(epochs=3)
    job, ops = split_job(spec, method="glister", fraction=0.3)
    run = set_up_run(job, ops, data_dir=digits_dir, seed=0, threads=None)
    sampler, n_used = make_sampler(job, run, None)
    trained = []
    next_batch = sampler.next_batch

    def recording(ctx):
        batch = next_batch(ctx)
        trained.append(batch.indices.cpu())
        return batch

    sampler.next_batch = recording
    plan = plan_steps(protocol="budget", kind="dynamic", n_train=run.data.n_train, n_used=n_used,
                      batch_size=64, epochs=3)
    result = train_loop(run.model, run.data, sampler, plan, run.settings, device=run.device,
                        timers=run.timers, generator=run.augment_generator, log=lambda _: None,
                        progress=False)
    trained = torch.cat(trained)
    val = sampler.val_indices
    labels = run.data.train_y.cpu().numpy()
    n = len(labels)
    assert int(torch.isin(trained, val).sum()) == 0  # counted over every training batch
    assert len(trained) == result.steps * 64 - 3 * (64 * plan.steps_per_epoch - n_used)
    quotas = class_quotas(labels, round(0.1 * n))  # class-stratified
    assert (np.bincount(labels[val.numpy()], minlength=10) == [quotas[c] for c in range(10)]).all()
    for record in sampler.outputs().selections:
        assert len(record.indices) == len(set(record.indices.tolist())) == n_used
        assert not torch.isin(record.indices, val).any()
        assert (record.weights == 1).all()


def test_eta_is_the_learning_rate_of_the_coming_step(digits_dir, monkeypatch):
    from prunebench.selection.dynamic import glister

    etas = []
    greedy = glister.glister_greedy

    def recording(*args, **kwargs):
        etas.append(args[4])
        return greedy(*args, **kwargs)

    monkeypatch.setattr(glister, "glister_greedy", recording)
    spec = glister_spec(epochs=3, interval=2)
    spec["training"] = {**spec["training"], "warmup_epochs": 1}
    _, result, run = train_with(digits_dir, "glister", 0.3, spec)
    steps = math.ceil(round(0.3 * 1347) / 64)
    lr = LearningRate(run.settings, 3 * steps, steps)
    assert etas == [lr.at(1, 0, steps), lr.at(3, 0, steps)]  # selections at epochs 1 and 3
    assert etas[0] < etas[1]  # warm-up: the first selection sees the small first-step lr


def test_deterministic_for_a_seed_and_different_across_seeds(digits_dir):
    spec = glister_spec(epochs=2)
    picks = [[r.indices.tolist() for r in train_with(digits_dir, "glister", 0.2, spec, seed=s)[0]
              .outputs().selections] for s in (1, 1, 2)]
    assert picks[0] == picks[1]
    assert picks[0] != picks[2]


def test_run_training_logs_and_times_the_selections(tmp_path, digits_dir):
    metrics = run_training(*split_job(glister_spec(epochs=2), method="glister", fraction=0.3),
                           data_dir=digits_dir, seed=0, out_dir=tmp_path)
    assert metrics["steps"] == 2 * math.ceil(round(0.3 * 1347) / 64)
    assert metrics["time"]["selection/greedy"] > 0 and metrics["time"]["selection/proxy"] > 0
    assert metrics["sampler"]["val_size"] == round(0.1 * 1347)
    log = (tmp_path / "selections.csv").read_text().splitlines()
    assert len(log) == 3 and log[1].split(",")[2] == "initial"
    picked = np.load(tmp_path / "selected.npz")
    assert len(picked["indices"]) == 2 * round(0.3 * 1347)


def test_the_loop_names_no_method():
    """GLISTER needed the step's lr from the loop; it gets it through StepContext, not a branch."""
    import inspect

    from prunebench.train import loop

    source = inspect.getsource(loop).lower()
    assert not [name for name in ("rs2", "gradmatch", "glister") if name in source]
