"""Static selectors: hand-checked cases plus invariants every selector must keep."""

import numpy as np
import pytest

from prunebench.errors import UserError
from prunebench.selection.quotas import class_quotas
from prunebench.selection.static.ccs import allocate, assign_strata
from prunebench.selection.static.common import subset_size
from prunebench.selection.static.run import select_subset


def rng(seed=0):
    return np.random.default_rng(seed)


def make_data(n=200, classes=3, seed=1):
    g = np.random.default_rng(seed)
    return g.random(n).astype(np.float32), g.integers(0, classes, n)


def ranked(scores, members):
    """Brute force: members by descending score, ties to the lower index."""
    return sorted(members, key=lambda i: (-scores[i], i))


def test_subset_size():
    assert (subset_size(10, 0.3), subset_size(10, 1.0)) == (3, 10)
    assert (subset_size(10, 0.01), subset_size(3, 0.99)) == (1, 3)  # never empty, never > n
    for bad in (0, 1.5, -0.1, float("nan")):
        pytest.raises(UserError, subset_size, 10, bad)


def test_class_quotas_hand_cases():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    # Exact shares 2.5, 1.5, 1.0 -> floors 2, 1, 1; the one leftover goes to class 0 (tie by id).
    assert class_quotas(labels, 5) == {0: 3, 1: 1, 2: 1}
    # Shares 3.5, 2.1, 1.4 -> floors 3, 2, 1; leftover to largest remainder (class 0).
    assert class_quotas(labels, 7) == {0: 4, 1: 2, 2: 1}
    assert class_quotas(labels, 10) == {0: 5, 1: 3, 2: 2}
    assert class_quotas(np.array([7, 7, 3]), 1) == {3: 0, 7: 1}  # non-contiguous ids
    g = rng(3)
    for _ in range(50):
        labels = g.integers(0, 5, g.integers(1, 40))
        sizes = np.bincount(labels)  # caps: a quota never exceeds its class
        for k in range(len(labels) + 1):
            q = class_quotas(labels, k)
            assert sum(q.values()) == k and all(0 <= q[c] <= sizes[c] for c in q)


def test_top_unbalanced_brute_force_ties_and_inf():
    scores, labels = make_data()
    out = select_subset("el2n", scores, labels, 0.25, rng(), class_balanced=False)
    assert out.tolist() == sorted(ranked(scores, range(200))[:50])
    labels = np.zeros(10, dtype=np.int64)
    out = select_subset("el2n", np.ones(10, np.float32), labels, 0.3, rng())
    assert out.tolist() == [0, 1, 2]  # equal scores: lower index wins
    scores = np.array([0.5, np.inf, 0.9, np.inf, 0.1, 2.0], dtype=np.float32)
    assert select_subset("el2n", scores, labels[:6], 0.5, rng()).tolist() == [1, 3, 5]  # inf first


def test_top_balanced_takes_each_class_top():
    scores, labels = make_data()
    out = select_subset("el2n", scores, labels, 0.3, rng())
    for c, q in class_quotas(labels, 60).items():
        best = ranked(scores, np.flatnonzero(labels == c))[:q]
        assert set(out[labels[out] == c].tolist()) == set(best)


def test_offset_skips_top_fraction():
    scores, labels = np.arange(10, dtype=np.float32), np.zeros(10, dtype=np.int64)
    out = select_subset("el2n_offset", scores, labels, 0.3, rng(), class_balanced=False,
                        offset=0.2)
    assert out.tolist() == [5, 6, 7]  # 9 and 8 skipped
    scores, labels = make_data()  # 200 examples: skip 40, keep 50
    out = select_subset("el2n_offset", scores, labels, 0.25, rng(), class_balanced=False,
                        offset=0.2)
    assert out.tolist() == sorted(ranked(scores, range(200))[40:90])
    scores, labels = make_data(20)  # quota total 6
    with pytest.raises(UserError, match=r"offset \+ fraction must be <= 1.*0\.8.*0\.3"):
        select_subset("el2n_offset", scores, labels, 0.3, rng(), offset=0.8)
    kept = select_subset("el2n_offset", scores, labels, 0.3, rng(), offset=0.7)
    assert len(kept) == 6  # sum 1 ok


def test_ccs_strata_allocation_and_coverage():
    assert assign_strata(np.array([0.0, 0.49, 0.5, 1.0]), 2).tolist() == [0, 0, 1, 1]
    assert assign_strata(np.array([0.0, 1.0, np.inf]), 2).tolist() == [0, 1, 1]
    assert assign_strata(np.array([3.0, 3.0]), 5).tolist() == [0, 0]
    # Budget 12 over sizes 1, 2, 3, 24: 1 (12//4=3), 2 (11//3=3), 3 (9//2=4), then 6 left.
    assert allocate({0: 24, 1: 1, 2: 2, 3: 3}, 12) == {1: 1, 2: 2, 3: 3, 0: 6}
    # strata=4 over [0, 1]: 24 dense scores in bin 0, then bins of size 1, 2, 3.
    values = np.concatenate([np.arange(24) * 0.01, [0.3, 0.6, 0.7, 0.8, 0.9, 1.0]])
    perm = rng(5).permutation(30)
    scores, labels = values[perm].astype(np.float32), np.zeros(30, dtype=np.int64)
    sparse_idx = set(np.flatnonzero(perm >= 24).tolist())
    for seed in range(5):
        out = set(select_subset("ccs", scores, labels, 0.4, rng(seed), beta=0.0, strata=4))
        assert sparse_idx <= out and len(out - sparse_idx) == 6  # per allocate() above


def test_ccs_never_picks_dropped_and_respects_quotas():
    scores, labels = make_data(300)
    scores[::37] = np.inf
    for balanced in (False, True):
        out = select_subset("ccs", scores, labels, 0.3, rng(), class_balanced=balanced, beta=0.1)
        groups = [np.flatnonzero(labels == c) for c in range(3)] if balanced else [np.arange(300)]
        for members in groups:
            dropped = ranked(scores, members)[: round(0.1 * len(members))]
            assert not set(dropped) & set(out.tolist())
    assert dict(enumerate(np.bincount(labels[out]).tolist())) == class_quotas(labels, 90)
    with pytest.raises(UserError, match=r"beta \+ fraction must be <= 1"):
        select_subset("ccs", scores, labels, 0.95, rng(), beta=0.1)


def test_ccs_and_random_seeded_and_random_quotas():
    scores, labels = make_data()
    for name in ("ccs", "random"):
        a = select_subset(name, scores, labels, 0.3, rng(1))
        assert np.array_equal(a, select_subset(name, scores, labels, 0.3, rng(1)))
        assert not np.array_equal(a, select_subset(name, scores, labels, 0.3, rng(2)))
    out = select_subset("random", None, labels, 0.3, rng())
    assert dict(enumerate(np.bincount(labels[out]).tolist())) == class_quotas(labels, 60)
    assert len(select_subset("random", None, labels, 0.3, rng(), class_balanced=False)) == 60


@pytest.mark.parametrize("name", ["ccs", "el2n_offset", "random", "el2n"])
@pytest.mark.parametrize("balanced", [True, False])
def test_output_contract(name, balanced):
    scores, labels = make_data(97, classes=4)
    scores[:5] = np.inf
    for fraction in (0.01, 0.1, 0.5):
        out = select_subset(name, scores, labels, fraction, rng(), class_balanced=balanced)
        assert out.dtype == np.int64 and len(out) == subset_size(97, fraction)
        assert np.all(np.diff(out) > 0) and 0 <= out.min() and out.max() < 97  # sorted, unique
    options = {"el2n_offset": {"offset": 0.0}, "ccs": {"beta": 0.0}}.get(name, {})  # room for all
    full = select_subset(name, scores, labels, 1.0, rng(), class_balanced=balanced, **options)
    assert full.tolist() == list(range(97))
    for bad in (0, 1.5):
        with pytest.raises(UserError, match="fraction must be in"):
            select_subset(name, scores, labels, bad, rng())


def test_input_errors():
    scores, labels = make_data(10)
    with pytest.raises(UserError, match="unknown static method .bottom.; choose one of random"):
        select_subset("bottom", scores, labels, 0.5, rng())
    with pytest.raises(UserError, match="needs per-example scores"):
        select_subset("el2n", None, labels, 0.5, rng())
    with pytest.raises(UserError, match="10"):
        select_subset("el2n", scores[:9], labels, 0.5, rng())
    with pytest.raises(UserError, match="betta"):
        select_subset("ccs", scores, labels, 0.5, rng(), betta=0.1)
