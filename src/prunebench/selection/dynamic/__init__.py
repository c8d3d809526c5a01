"""Dynamic methods, whose selection happens inside training (docs/methods.md).

Each method is one file: a sampler class with its `Options` dataclass, speaking the sampler
protocol of `prunebench.train.samplers`; its line in `prunebench.methods.METHODS` registers it.
Methods that select every `interval` epochs from the last-layer gradient proxy (CRAIG,
GradMatch, GLISTER) extend `periodic.PeriodicSelection` with only their algorithm. The shared
parts, by purpose: `forwards` (eval-mode float32 forwards), `draws` (random draws), `passes`
(weighted passes over a selection), `timing` (a selection's seconds), `last_layer` (factored
last-layer gradients).
"""
