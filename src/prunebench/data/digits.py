"""digits: scikit-learn's 1,797 real 8x8 handwritten digits, shipped inside the package."""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def load_digits_arrays(options: dict) -> tuple[dict[str, np.ndarray], dict]:
    """A fixed stratified train/test split; pixels 0..16 rescaled to uint8 0..255, shape N,1,8,8."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    unknown = set(options) - {"test_fraction"}
    if unknown:
        raise UserError(f"config: dataset 'digits' has no option {sorted(unknown)[0]!r}; "
                        "allowed: test_fraction")
    test_fraction = options.get("test_fraction", 0.25)
    if not 0 < test_fraction < 1:
        raise UserError(f"config: digits option test_fraction={test_fraction} must be in (0, 1)")
    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    # random_state fixes the split for everyone: the same test set on every machine.
    tr_x, te_x, tr_y, te_y = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=0
    )
    arrays = {"train_x": tr_x, "train_y": tr_y, "test_x": te_x, "test_y": te_y}
    meta = {
        "kind": "image",
        "shape": [1, 8, 8],
        "classes": [str(c) for c in range(10)],
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
        "options": {"test_fraction": test_fraction},
    }
    return arrays, meta
