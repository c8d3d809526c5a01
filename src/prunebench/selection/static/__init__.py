"""Static selectors: choose a fixed subset once, before training, from per-example scores (or
the proxy's embeddings). Each file is one selector with its options dataclass; the registry is
`prunebench.methods.METHODS`, and `run.select_subset` dispatches on it."""
