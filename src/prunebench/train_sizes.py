"""How many training examples a dataset will have, known from its preparation options alone
(torch-free, nothing loaded), so the config can refuse an option larger than the data before
any job runs. None when it cannot be known in advance."""

from __future__ import annotations

import math

DIGITS_TOTAL = 1797  # scikit-learn's load_digits
FIXED = {"cifar10": 50_000, "cifar100": 50_000, "tinyimagenet": 100_000}
SNLI_TRAIN = 549_367  # stanfordnlp/snli's 550,152 training pairs without the 785 unlabelled


def expected_train_size(dataset: str, options: dict) -> int | None:
    if dataset in FIXED:
        return FIXED[dataset]
    if dataset == "digits":
        return DIGITS_TOTAL - math.ceil(options.get("test_fraction", 0.25) * DIGITS_TOTAL)
    if dataset == "mnist1d":
        return int(options.get("train_size", 10_000))
    if dataset == "snli":
        limit = options.get("limit_train")
        return min(SNLI_TRAIN, int(limit)) if limit else SNLI_TRAIN
    return None
