"""CREST (Yang, Kang, Mirzasoleiman, ICML 2023): mini-batch coresets re-picked when a quadratic
model of the loss stops fitting (docs/methods.md, CREST). `sampler` is the method (its
`CrestSampler` and `CrestOptions` are what the METHODS registry names); `coresets` picks one
selection's mini-batch coresets, `pool` is the pool that drops learned examples, `quadratic`
fits and checks the quadratic model."""

from .sampler import CrestOptions, CrestSampler, adapted_interval

__all__ = ["CrestOptions", "CrestSampler", "adapted_interval"]
