"""How many training and test examples a dataset will have, known from its preparation options
alone (torch-free, nothing loaded), so the config can refuse an option larger than the data
before any job runs and the cost model can count work ahead. None when it cannot be known in
advance."""

from __future__ import annotations

import math

DIGITS_TOTAL = 1797  # scikit-learn's load_digits
FIXED = {"cifar10": 50_000, "cifar100": 50_000, "tinyimagenet": 100_000}
SNLI_TRAIN = 549_367  # stanfordnlp/snli's 550,152 training pairs without the 785 unlabelled
FIXED_TEST = {"cifar10": 10_000, "cifar100": 10_000, "tinyimagenet": 10_000}
SNLI_TEST = 9_824  # stanfordnlp/snli's 10,000 test pairs without the 176 unlabelled


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


def expected_test_size(dataset: str, options: dict) -> int | None:
    if dataset in FIXED_TEST:
        return FIXED_TEST[dataset]
    if dataset == "digits":
        return math.ceil(options.get("test_fraction", 0.25) * DIGITS_TOTAL)
    if dataset == "mnist1d":
        return int(options.get("test_size", 2_000))
    if dataset == "snli":
        limit = options.get("limit_test")
        return min(SNLI_TEST, int(limit)) if limit else SNLI_TEST
    return None
