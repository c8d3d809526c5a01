"""Dynamic methods, whose selection happens inside training (docs/methods.md).

Each file is one sampler class with its `Options` dataclass, speaking the sampler protocol of
`prunebench.train.samplers`; its line in `prunebench.methods.METHODS` registers it.
"""

from __future__ import annotations

from .common import SamplerSetup

__all__ = ["SamplerSetup"]
