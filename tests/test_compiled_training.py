"""A compiled training path (`speed.compile`) follows the eager one: same data, same seed, the
same loss trajectory to a stated tolerance. Compiled kernels fuse and so round differently,
and training amplifies rounding epoch by epoch (on the CPU the first epoch's train loss agrees
to ~1e-5, the third's to ~2e-3), so the first epoch is held tighter than the rest. On a GPU
`reduce-overhead` (CUDA graphs) runs under bf16 autocast: looser again. Only the training
steps compile: selection and evaluation passes run the model eager. This file is the only
place CI compiles a model (~1 min on 2 cores)."""

from __future__ import annotations

import csv
from contextlib import contextmanager

import pytest
import torch
from torch._dynamo.utils import counters

from prunebench.train import timers as timers_module
from prunebench.train.run import run_training

from .conftest import digits_spec, split_job
from .test_dynamic import spec_for

CASES = [  # device, speed.compile, rel. tolerance on epoch 1's / later train loss, test acc
    pytest.param("cpu", True, 1e-3, 1e-2, 0.02, id="cpu-inductor"),
    pytest.param("cuda", "reduce-overhead", 1e-2, 3e-2, 0.03, id="cuda-graphs",
                 marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                          reason="no CUDA GPU visible; CUDA graphs need one")),
]


@pytest.fixture(autouse=True)
def fresh_compiler():
    """Each test starts with dynamo's caches empty: every nn.Module.compile compiles the same
    code object (Module._call_impl), and after `recompile_limit` models in one process dynamo
    runs it eager, so a later test would compile nothing."""
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def trajectory(tmp_path, digits_dir, device: str, compile_mode) -> list[dict]:
    spec = digits_spec(epochs=3, batch_size=64, lr=0.05)
    spec.update(device=device, speed={"channels_last": device == "cuda",
                                      "compile": compile_mode})
    out = tmp_path / f"{device}-{compile_mode}"
    run_training(*split_job(spec, method="full", fraction=1.0), data_dir=digits_dir, seed=0,
                 out_dir=out)
    with open(out / "history.csv") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.mark.parametrize("device,mode,first_rtol,rtol,acc_points", CASES)
def test_compiled_training_follows_eager(tmp_path, digits_dir, device, mode, first_rtol, rtol,
                                         acc_points):
    eager = trajectory(tmp_path, digits_dir, device, False)
    counters.clear()
    compiled = trajectory(tmp_path, digits_dir, device, mode)
    assert counters["stats"]["unique_graphs"] > 0, "speed.compile compiled nothing"
    assert [row["step"] for row in compiled] == [row["step"] for row in eager]
    for e, c in zip(eager, compiled, strict=True):
        tolerance = first_rtol if e["epoch"] == 1 else rtol
        for key in ("train_loss", "test_loss"):
            assert c[key] == pytest.approx(e[key], rel=tolerance), (key, e["epoch"], e[key],
                                                                     c[key])
        assert abs(c["test_acc"] - e["test_acc"]) <= acc_points, (e["epoch"], e, c)
    assert compiled[-1]["test_acc"] > 0.9  # both learned, not both stuck


def test_crest_curvature_under_a_compiled_model_is_the_eager_one():
    """CREST's Hessian-vector products differentiate twice, which a compiled graph refuses
    ("compiled with non-empty donated buffers"); they run through the model's eager call, so
    a run with speed.compile gets exactly the eager model's gradient and curvature."""
    from prunebench.models import build_model
    from prunebench.selection.dynamic.crest.quadratic import batch_gradient_and_curvature

    torch.manual_seed(0)
    model = build_model("digits_cnn", (1, 8, 8), 10)
    x, y, w = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,)), torch.rand(32)

    def curvature():
        return batch_gradient_and_curvature(model, x, y, w, probes=2,
                                            generator=torch.Generator().manual_seed(1))

    eager = curvature()
    model.compile()
    counters.clear()
    model(x).sum().backward()  # a compiled training step's forward and backward
    assert counters["stats"]["unique_graphs"] > 0
    compiled = curvature()
    for a, b in zip(eager, compiled, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("device,mode", [
    pytest.param("cpu", True, id="cpu-inductor"),
    pytest.param("cuda", "reduce-overhead", id="cuda-graphs", marks=CASES[1].marks),
])
def test_only_training_steps_compile(tmp_path, digits_dir, monkeypatch, device, mode):
    """speed.compile compiles the training steps, whose shapes repeat. CRAIG's selection passes
    (eval mode, every class's examples) and the evaluation run the eager model: compiling
    them charged their phases for shapes met once an epoch (on MNIST-1D, CRAIG's first
    selection took 16.6 s against 0.2 s for later ones). A compile-start callback records the
    phase each compile happens in."""
    from torch._dynamo.callback import callback_handler

    phases, compiled_in = [], []
    timed = timers_module.PhaseTimers.phase

    @contextmanager
    def tracked(self, name):
        phases.append(name)
        try:
            with timed(self, name):
                yield
        finally:
            phases.pop()

    def record(_args):
        compiled_in.append(phases[0] if phases else None)

    monkeypatch.setattr(timers_module.PhaseTimers, "phase", tracked)
    spec = spec_for("craig", epochs=2)
    spec.update(device=device, speed={"channels_last": device == "cuda", "compile": mode})
    callback_handler.register_start_callback(record)
    try:
        metrics = run_training(*split_job(spec, method="craig", fraction=0.3),
                               data_dir=digits_dir, seed=0, out_dir=tmp_path)
    finally:
        callback_handler.remove_start_callback(record)
    assert metrics["time"]["selection"] > 0 and metrics["time"]["evaluation"] > 0
    assert compiled_in and set(compiled_in) == {"training"}, compiled_in
