"""Reproducible CPU math: the same numbers on any x86-64 CPU with AVX2, not only on this one.

Left alone, the math libraries inside torch pick their code path from the CPU they run on, and
the paths round differently: the same code and seeds give other accuracies on an AVX-512 Intel
than on an AVX2 AMD. Every `prunebench` job therefore fixes each library to one instruction set,
AVX2 (with FMA), before it imports any of them (`enter`, called by the CLI; the fork server
enters it before it imports torch, and its forks inherit it):

- MKL (float matmuls): conditional numerical reproducibility, `MKL_CBWR=AVX2` (read at its
  first call, so a fork of the server, which runs in the job's environment, sets it again);
- ATen's own vectorised kernels (elementwise ops, reductions, the im2col convolution):
  `ATEN_CPU_CAPABILITY=avx2`;
- numba (the compiled selection kernels, `fastmath` sums whose order follows the vector
  width): code generated for `haswell`, `NUMBA_CPU_NAME`;
- oneDNN has no reproducible mode (its kernels choose blockings from the CPU's caches and
  cores), so the jobs run without it: `torch.backends.mkldnn.enabled = False`
  (`configure_torch`); convolutions then take ATen's path, through MKL.

Results are then identical on every CPU with AVX2 and FMA (Intel Haswell and later, AMD Zen
and later), for the same thread count and library versions; a CPU without them runs native
(metrics.json's `math` says which mode a job ran in). `speed.compile` on a CPU is outside
it (inductor compiles C++ for the machine it runs on, and gives NaN losses under the AVX2
capability in torch 2.14.1), so the mode refuses it there. `speed.reproducible_math: false`
lets every library use the CPU's widest path. The library API (`import prunebench`) leaves the
math libraries as the caller set them. Torch-free until `configure_torch`.
"""

from __future__ import annotations

import os
import sys

from .errors import UserError

REPRODUCIBLE = "reproducible-avx2"
NATIVE = "native"
# environment variable -> value; each library reads its variable once, when it starts
LIBRARY_SETTINGS = {
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "NUMBA_CPU_NAME": "haswell",
}
# libraries that read LIBRARY_SETTINGS when imported (or on their first call)
_MATH_MODULES = ("torch", "numba")
_state = {"mode": None}


def enter(reproducible: bool, environ=os.environ) -> str:
    """Fix this process's math mode before torch or numba is imported; returns the mode in
    effect, which metrics.json records.

    A process that imported them first (a test calling the CLI in-process) stays native: the
    libraries have read their settings already. A fork of the job server keeps the mode the
    server entered, and asking it for another one is an error."""
    mode = REPRODUCIBLE if reproducible else NATIVE
    if _state["mode"] is not None:
        if _state["mode"] != mode:
            raise UserError(f"speed.reproducible_math asks for {mode} math, but the job server "
                            f"started in {_state['mode']} math; restart the workflow (or set "
                            "speed.job_server: false)")
        if reproducible:  # a fork runs in the job's environment; some libraries read theirs late
            environ.update(LIBRARY_SETTINGS)
        return mode
    if any(name in sys.modules for name in _MATH_MODULES) or not cpu_has_avx2():
        return NATIVE
    if reproducible:
        environ.update(LIBRARY_SETTINGS)
    _state["mode"] = mode
    return mode


def cpu_has_avx2(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU runs the mode's code (AVX2 and FMA); code built for haswell would stop
    on an illegal instruction elsewhere. A system without /proc/cpuinfo counts as without."""
    try:
        with open(cpuinfo) as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh
                          if line.startswith("flags")), [])
    except OSError:
        return False
    return {"avx2", "fma"} <= set(flags)


def active() -> str:
    """This process's math mode: what `enter` fixed, else native (the library API, tests)."""
    return _state["mode"] or NATIVE


def configure_torch(torch) -> None:
    """The part of the mode torch sets at run time: no oneDNN kernels."""
    if active() == REPRODUCIBLE:
        torch.backends.mkldnn.enabled = False


def refuse_cpu_compile(compile_mode, device_type: str) -> None:
    """speed.compile on a CPU is outside the reproducible mode: say so, with the fix."""
    if compile_mode and device_type == "cpu" and active() == REPRODUCIBLE:
        raise UserError("speed.compile on a CPU cannot run in reproducible math (inductor "
                        "compiles C++ for this machine's own instruction set); set "
                        "speed.reproducible_math: false to compile CPU jobs, or compile: false")
