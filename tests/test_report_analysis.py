"""The report's analysis on hand-made numbers: time to accuracy, intervals and verdicts, the
Pareto frontier (the headline written from them: test_report_leaderboard.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from prunebench.report.analysis.frontier import frontier, pareto_mask
from prunebench.report.analysis.intervals import (
    NO_SPREAD,
    PAIRED,
    TOO_FEW,
    WELCH,
    absent_baselines,
    difference_interval,
    differences,
    verdict,
    width_note,
)
from prunebench.report.analysis.tables import method_table
from prunebench.report.analysis.time_to_accuracy import (
    Target,
    accuracy_targets,
    complete_epochs,
    first_reach,
    time_to_accuracy,
)
from prunebench.report.read.aggregate import build_summary
from prunebench.report.read.curves import mean_curves

from .report_fixtures import run_dir, write_proxies, write_run


def curve(acc, wall, method="m", fraction=0.5, n=3):
    return pd.DataFrame({"method": method, "fraction": fraction, "epoch": range(1, len(acc) + 1),
                         "acc_mean": acc, "wall": wall, "n": n})


def one_table(rows):
    """A method table of (method, fraction, acc_mean, time_total) rows."""
    return pd.DataFrame(rows, columns=["method", "fraction", "acc_mean", "time_total"])


# --- time to accuracy ---------------------------------------------------------------------

def test_first_epoch_at_or_above_the_target_and_never_reached():
    c = curve([0.50, 0.70, 0.90, 0.95], [10.0, 20.0, 30.0, 40.0])
    assert first_reach(c, 80.0) == (3, 30.0)  # crosses between epochs 2 and 3: epoch 3
    assert first_reach(c, 90.0) == (3, 30.0)  # exactly at the target counts (0.9 * 100)
    assert first_reach(c, 70.0) == (2, 20.0)
    assert first_reach(c, 95.5) is None
    dipping = curve([0.50, 0.85, 0.70, 0.86], [1.0, 2.0, 3.0, 4.0])
    assert first_reach(dipping, 80.0) == (2, 2.0)  # the first time, not the last


def test_targets_below_full_and_from_the_config():
    targets = accuracy_targets(92.0, [95, 80, 80])
    assert [t.percent for t in targets] == [91.5, 91.0, 90.0, 80.0, 95.0]
    assert targets[1].name == "full − 1 pt" and targets[3].name == "80%"
    assert [t.percent for t in accuracy_targets(None, [80])] == [80.0]


def test_time_to_accuracy_table_speedup_and_statuses():
    curves = pd.concat([
        curve([0.80, 0.90, 0.92], [10.0, 20.0, 30.0], "full", 1.0),
        curve([0.89, 0.905, 0.91], [2.0, 4.0, 6.0], "crest_fixed", 0.1),  # an opaque name
        curve([0.70, 0.80, 0.85], [1.0, 2.0, 3.0], "random", 0.1),
    ])
    table = one_table([("full", 1.0, 0.92, 30.0), ("crest_fixed", 0.1, 0.91, 6.0),
                       ("random", 0.1, 0.85, 3.0), ("ccs_b05", 0.1, 0.80, 2.0)])
    targets = accuracy_targets(92.0)
    tta = time_to_accuracy(curves, table, targets).set_index(["method", "target"])
    assert tta.loc[("full", "full − 2 pt")].time_s == 20.0  # 90% at epoch 2
    assert tta.loc[("full", "full − 0.5 pt")].epoch == 3
    crest = tta.loc[("crest_fixed", "full − 2 pt")]
    assert crest.epoch == 2 and crest.time_s == 4.0 and crest.speedup == pytest.approx(5.0)
    assert tta.loc[("crest_fixed", "full − 1 pt")].speedup == pytest.approx(30 / 6)
    assert tta.loc[("crest_fixed", "full − 0.5 pt")].status == "not reached"
    assert math.isnan(tta.loc[("crest_fixed", "full − 0.5 pt")].time_s)
    assert tta.loc[("random", "full − 2 pt")].status == "not reached"
    assert tta.loc[("ccs_b05", "full − 1 pt")].status == "no history"
    assert (tta.loc["full"].speedup == 1.0).all()


def test_seed_mean_curve_aligns_epochs_and_drops_incomplete_ones():
    rows = pd.DataFrame({"method": "m", "fraction": 0.5, "epoch": [1, 2, 3], "wall": [3, 5, 7.0],
                         "acc_mean": [0.5, 0.6, 0.99], "n": [2, 2, 1]})
    kept = complete_epochs(rows)
    assert kept.epoch.tolist() == [1, 2]  # epoch 3: one seed only, left out
    assert first_reach(kept, 90.0) is None


def test_scoring_time_shifts_time_to_target_exactly(tmp_path):
    """The same el2n runs charged 1 s or 4 s of scoring per proxy seed (2 seeds): the time
    to every target moves by exactly 2 x 3 s; the accuracies and epochs do not."""
    runs = []
    for seed in (0, 1):
        write_run(tmp_path, "full", 1.0, seed, acc=0.90, training=9.0)
        write_run(tmp_path, "el2n", 0.5, seed, acc=0.90, training=3.0 + seed,
                  subset_selection_s=0.5)
        runs += [str(run_dir(tmp_path, m, f, seed) / "metrics.json")
                 for m, f in (("full", 1.0), ("el2n", 0.5))]
    times = []
    for cost in (1.0, 4.0):
        proxies = write_proxies(tmp_path, {"el2n": cost})
        summary, _ = build_summary(runs, proxies)
        table = method_table(summary)
        curves = mean_curves(summary)
        tta = time_to_accuracy(curves, table, [Target("60%", 60.0), Target("90%", 90.0)])
        times.append(tta[tta.method == "el2n"].set_index("target"))
    cheap, dear = times
    assert (dear.epoch == cheap.epoch).all() and cheap.loc["60%"].epoch == 2
    assert (dear.time_s - cheap.time_s).tolist() == pytest.approx([6.0, 6.0])
    # by hand: 2 x 1 s scoring + 0.5 s selection, then epoch 2 of 3 of (3.5 or 4.5) + 1 s
    assert cheap.loc["60%"].time_s == pytest.approx(2.5 + (2 / 3) * (4.0 + 5.0) / 2)


# --- intervals and verdicts ---------------------------------------------------------------

def test_same_distribution_is_not_distinguishable():
    a = {0: 0.80, 1: 0.84, 2: 0.82}
    paired = difference_interval(a, {0: 0.82, 1: 0.80, 2: 0.84})
    assert paired.test == PAIRED and paired.estimate == pytest.approx(0.0)
    assert verdict(paired) == "not distinguishable"
    unpaired = difference_interval(a, {3: 0.82, 4: 0.80, 5: 0.84})
    assert unpaired.test == WELCH and verdict(unpaired) == "not distinguishable"
    assert verdict(difference_interval(a, a)) == "not distinguishable"  # zero width at 0


def test_clear_shift_gets_the_right_sign_and_the_t_interval_by_hand():
    base = {0: 0.80, 1: 0.85, 2: 0.75}
    up = {0: 0.85, 1: 0.91, 2: 0.79}  # differences 0.05, 0.06, 0.04
    diff = difference_interval(up, base)
    half = stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3)  # sd of the differences is 0.01
    assert diff.test == PAIRED and diff.df == 2
    assert (diff.low, diff.high) == pytest.approx((0.05 - half, 0.05 + half))
    assert verdict(diff) == "better"
    assert verdict(difference_interval(base, up)) == "worse"
    rel = stats.ttest_rel([up[s] for s in range(3)], [base[s] for s in range(3)])
    assert (diff.low, diff.high) == pytest.approx(tuple(rel.confidence_interval(0.95)))


def test_welch_interval_matches_scipy_when_seeds_differ():
    a = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}
    b = {0: 2.0, 1: 4.0, 5: 6.0}  # seed sets differ: unpaired
    diff = difference_interval(a, b)
    oracle = stats.ttest_ind(list(a.values()), list(b.values()), equal_var=False)
    assert diff.test == WELCH and diff.estimate == pytest.approx(-1.5)
    assert (diff.low, diff.high) == pytest.approx(tuple(oracle.confidence_interval(0.95)))
    assert diff.df == pytest.approx(1.75**2 / ((5 / 12) ** 2 / 3 + (4 / 3) ** 2 / 2))


def test_pairing_by_seed_is_used_when_the_seeds_are_shared():
    """A large seed effect hides a small, consistent gain unless the seeds are paired."""
    base = {0: 0.70, 1: 0.80, 2: 0.90}
    gain = {0: 0.710, 1: 0.812, 2: 0.911}
    assert verdict(difference_interval(gain, base)) == "better"
    shifted = {s + 10: v for s, v in gain.items()}
    assert verdict(difference_interval(shifted, base)) == "not distinguishable"
    one = difference_interval({0: 0.9}, base)
    assert one.test == TOO_FEW and verdict(one) == "too few seeds"
    assert one.estimate == pytest.approx(0.1)


def test_no_spread_over_seeds_claims_nothing():
    """Quantised accuracies: both per-seed differences equal. A zero-width interval would
    call it certain; the verdict says the seeds show no spread instead."""
    flat = difference_interval({0: 0.80, 1: 0.82}, {0: 0.83, 1: 0.85})
    assert flat.test == PAIRED and flat.estimate == pytest.approx(-0.03)
    assert math.isnan(flat.low) and verdict(flat) == NO_SPREAD
    constant = difference_interval({0: 0.8, 1: 0.8}, {5: 0.7, 6: 0.7})
    assert constant.test == WELCH and verdict(constant) == NO_SPREAD


def summary_rows(spec):
    """Summary rows from {(method, fraction): [acc per seed 0, 1, ...]}."""
    return pd.DataFrame([{"method": m, "fraction": f, "seed": s, "test_acc": acc}
                         for (m, f), accs in spec.items() for s, acc in enumerate(accs)])


def test_differences_against_baselines_with_absent_ones_said():
    runs = summary_rows({("full", 1.0): [0.92, 0.93, 0.94], ("random", 0.1): [0.80, 0.82, 0.81],
                         ("ccs_b05", 0.1): [0.85, 0.88, 0.86], ("ccs_b05", 0.3): [0.9] * 3})
    order = [("full", 1.0), ("random", 0.1), ("ccs_b05", 0.1), ("ccs_b05", 0.3)]
    diffs = differences(runs, order).set_index(["method", "fraction", "baseline"])
    assert diffs.loc[("ccs_b05", 0.1, "random")].diff_pts == pytest.approx(16 / 3)
    assert diffs.loc[("ccs_b05", 0.1, "random")].verdict == "better"
    assert diffs.loc[("ccs_b05", 0.1, "full")].verdict == "worse"
    assert ("ccs_b05", 0.3, "random") not in diffs.index  # random has no run at 0.3
    assert ("full", 1.0, "full") not in diffs.index
    assert diffs.loc[("random", 0.1, "full")].verdict == "worse"
    assert ("random", 0.1, "random") not in diffs.index
    notes = absent_baselines(runs, order)
    assert "random_epoch was not run: nothing is compared with it." in notes
    assert "random has no run at f = 0.3: methods there are not compared with it." in notes
    assert len(notes) == 2  # nothing about f = 1: full is not compared with random
    assert "3 seeds" in width_note(runs) and "4.30" in width_note(runs)


def test_the_two_random_baselines_are_compared_once():
    runs = summary_rows({("random", 0.1): [0.80, 0.82], ("random_epoch", 0.1): [0.84, 0.83]})
    diffs = differences(runs, [("random", 0.1), ("random_epoch", 0.1)])
    assert diffs[["method", "baseline"]].values.tolist() == [["random", "random_epoch"]]
    assert diffs.diff_pts.iloc[0] == pytest.approx(-2.5)


# --- Pareto frontier ----------------------------------------------------------------------

def test_pareto_set_on_a_hand_made_cloud():
    cost = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 4.0, np.nan, 0.5]
    acc = [0.50, 0.70, 0.60, 0.70, 0.90, 0.85, 0.90, 0.99, np.nan]
    # dominated: (2, .6) by (2, .7); (3, .7) by (2, .7); (5, .85) by (4, .9); NaN never on it
    assert pareto_mask(cost, acc).tolist() == [True, True, False, False, True, False, True,
                                               False, False]


def test_pareto_mask_equals_brute_force_on_random_clouds():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cost, acc = rng.integers(0, 6, 15).astype(float), rng.integers(0, 6, 15).astype(float)
        brute = [not any(cost[j] <= cost[i] and acc[j] >= acc[i]
                         and (cost[j] < cost[i] or acc[j] > acc[i]) for j in range(15))
                 for i in range(15)]
        assert pareto_mask(cost, acc).tolist() == brute


def test_frontier_rows_cheapest_first():
    table = one_table([("full", 1.0, 0.92, 12.0), ("random", 0.5, 0.84, 6.5),
                       ("el2n", 0.5, 0.86, 9.5), ("crest", 0.5, 0.87, 7.0)])
    assert frontier(table).method.tolist() == ["random", "crest", "full"]
