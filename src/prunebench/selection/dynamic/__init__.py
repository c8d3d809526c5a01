"""SAMPLERS: dynamic methods, whose selection happens inside training (METHODS.md).

Each is a class taking a `SamplerSetup` and speaking the sampler protocol of
`prunebench.train.samplers`; one line here registers it.
"""

from __future__ import annotations

from .common import SamplerSetup
from .craig import CraigSampler
from .crest import CrestSampler
from .glister import GlisterSampler
from .gradmatch import GradMatchSampler
from .infobatch import InfoBatchSampler
from .random_epoch import RandomEpochSampler
from .rs2 import Rs2Sampler

SAMPLERS = {
    "random_epoch": RandomEpochSampler,
    "crest": CrestSampler,
    "craig": CraigSampler,
    "infobatch": InfoBatchSampler,
    "rs2": Rs2Sampler,
    "gradmatch": GradMatchSampler,
    "glister": GlisterSampler,
}

__all__ = ["SAMPLERS", "SamplerSetup"]
