"""mnist1d: the MNIST-1D benchmark (Greydanus 2020), generated deterministically by its package."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

DEFAULTS = {"train_size": 10_000, "test_size": 2_000}


def load_mnist1d_arrays(options: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Generate train_size + test_size signals with the package's published settings (seed 42).

    Stored as float32 N x 1 x 40 signals (already centred and scaled by the generator).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise UserError(f"config: dataset 'mnist1d' has no option {sorted(unknown)[0]!r}; "
                        f"allowed: {', '.join(DEFAULTS)}")
    sizes = {**DEFAULTS, **options}
    for key, value in sizes.items():
        if not isinstance(value, int) or value < 10:
            raise UserError(f"config: mnist1d option {key}={value!r} must be an integer >= 10")
    total = sizes["train_size"] + sizes["test_size"]
    if total % 10:
        raise UserError(f"config: mnist1d train_size + test_size = {total} must be a multiple "
                        "of 10 (the generator makes the same number of each digit)")
    args = get_dataset_args()
    args.num_samples = total
    args.train_split = 1.0  # we split ourselves, so any train/test sizes are possible
    generated = make_dataset(args)
    x = generated["x"].astype(np.float32)[:, None, :]
    y = generated["y"].astype(np.int64)
    n_train = sizes["train_size"]
    arrays = {
        "train_x": x[:n_train], "train_y": y[:n_train],
        "test_x": x[n_train:], "test_y": y[n_train:],
    }
    meta = {
        "kind": "signal",
        "shape": [1, int(x.shape[-1])],
        "classes": [str(c) for c in range(10)],
        "source": "mnist1d.data.make_dataset (MNIST-1D, Greydanus 2020; seed 42)",
        "options": sizes,
    }
    return arrays, meta
