"""RS2: random sampling without replacement across epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from prunebench.selection.dynamic.rs2 import PermutationStream, Rs2Sampler
from prunebench.train.run import run_training
from prunebench.train.samplers import SamplerSetup, StepContext
from prunebench.train.timers import PhaseTimers

from .conftest import digits_spec, split_job
from .test_dynamic import train_with


def check_without_replacement(slices: list[list[int]], n: int, size: int) -> None:
    """Each slice has `size` distinct examples; the stream of slices is a concatenation of
    permutations of range(n) (every pass sees each example exactly once), so no example is
    seen twice before all have been seen once."""
    stream = [i for s in slices for i in s]
    for s in slices:
        assert len(s) == size == len(set(s))
    for start in range(0, len(stream) - n + 1, n):
        assert sorted(stream[start:start + n]) == list(range(n))
    seen = set()
    for i in stream:
        if i in seen:
            assert len(seen) == n
            seen = set()
        seen.add(i)


@pytest.mark.parametrize(("n", "size"), [(10, 4), (10, 5), (10, 7), (10, 10), (10, 1), (97, 30)])
def test_stream_is_a_sequence_of_passes_and_no_slice_repeats_an_example(n, size):
    stream = PermutationStream(n, torch.Generator().manual_seed(n + size))
    slices = [stream.next_slice(size).tolist() for _ in range(3 * n // size + 5)]
    check_without_replacement(slices, n, size)
    assert stream.passes == math.ceil(len(slices) * size / n)


def test_the_next_pass_is_drawn_afresh():
    stream = PermutationStream(12, torch.Generator().manual_seed(0))
    passes = [torch.cat([stream.next_slice(4) for _ in range(3)]).tolist() for _ in range(4)]
    assert len({tuple(p) for p in passes}) == 4  # reshuffled every time it is used up


def test_sampler_trains_each_epoch_on_its_slice_exactly_once(digits_dir):
    spec = digits_spec(epochs=4, batch_size=64, lr=0.05)
    spec["options"] = {}
    sampler, result, run = train_with(digits_dir, "rs2", 0.3, spec)
    n, size = run.data.n_train, round(0.3 * run.data.n_train)
    records = sampler.outputs().selections
    assert [r.epoch for r in records] == [1, 2, 3, 4]
    check_without_replacement([r.indices.tolist() for r in records], n, size)
    assert all((r.weights == 1).all() for r in records)
    assert result.steps == 4 * math.ceil(size / 64)
    assert sampler.outputs().extra["passes_started"] == 2  # 4 * 404 examples > 1347


def test_batches_of_an_epoch_cover_its_slice_once():
    n, size, batch = 50, 20, 8
    setup = SamplerSetup(labels=torch.zeros(n, dtype=torch.long), num_classes=1, fraction=0.4,
                         batch_size=batch, eval_batch_size=batch, epochs=5,
                         generator=torch.Generator().manual_seed(0),
                         options=Rs2Sampler.Options())
    sampler = Rs2Sampler(setup)
    for epoch in range(1, 6):
        ctx = StepContext(None, None, PhaseTimers(), epoch, 0)
        sampler.start_epoch(ctx)
        drawn = torch.cat([sampler.next_batch(ctx).indices for _ in range(math.ceil(size / batch))])
        assert sorted(drawn.tolist()) == sorted(sampler.records[-1].indices.tolist())


def test_state_dict_resumes_the_same_stream():
    def fresh(seed_state=None):
        setup = SamplerSetup(labels=torch.zeros(30, dtype=torch.long), num_classes=1,
                             fraction=0.4, batch_size=4, eval_batch_size=4, epochs=9,
                             generator=torch.Generator().manual_seed(3),
                             options=Rs2Sampler.Options())
        if seed_state is not None:
            setup.generator.set_state(seed_state)
        return Rs2Sampler(setup)

    ctx = StepContext(None, None, PhaseTimers(), 1, 0)
    original = fresh()
    for epoch in range(1, 4):
        ctx.epoch = epoch
        original.start_epoch(ctx)
    state, gen_state = original.state_dict(), original.setup.generator.get_state()
    resumed = fresh(gen_state)
    resumed.load_state_dict(state)
    for epoch in range(4, 8):
        ctx.epoch = epoch
        original.start_epoch(ctx)
        resumed.start_epoch(ctx)
        assert original.records[-1].indices.tolist() == resumed.records[-1].indices.tolist()


def test_deterministic_for_a_seed(digits_dir):
    spec = digits_spec(epochs=1, batch_size=64, lr=0.05)
    spec["options"] = {}
    picks = [train_with(digits_dir, "rs2", 0.3, spec, seed=s)[0].outputs().selections[0]
             .indices.tolist() for s in (4, 4, 5)]
    assert picks[0] == picks[1] != picks[2]


def test_run_training_logs_the_slices(tmp_path, digits_dir):
    spec = digits_spec(epochs=2, batch_size=64, lr=0.05)
    spec["options"] = {}
    metrics = run_training(*split_job(spec, method="rs2", fraction=0.3), data_dir=digits_dir,
                           seed=0, out_dir=tmp_path)
    assert metrics["steps"] == 2 * math.ceil(round(0.3 * 1347) / 64)
    assert "selection/permutation" in metrics["time"]
    picked = np.load(tmp_path / "selected.npz")
    assert picked["offsets"].tolist() == [0, 404, 808]
    assert len(set(picked["indices"].tolist())) == 808  # no repeat within the first pass
