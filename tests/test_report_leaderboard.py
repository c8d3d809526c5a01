"""The report's headline on hand-made numbers: one leaderboard row per budget (most accurate,
cheapest within 1 point of full with its speedup, CREST's variants and random with verdicts),
the sentences written from it, and selection efficiency."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prunebench.report.analysis.intervals import BETTER, SAME, WORSE, differences
from prunebench.report.analysis.leaderboard import headline, leaderboard, leaderboard_csv
from prunebench.report.analysis.time_to_accuracy import accuracy_targets, time_to_accuracy
from prunebench.report.read.aggregate import build_summary
from prunebench.report.read.efficiency import priced_work, selection_efficiency

from .report_fixtures import DATASET, write_run

ACCURACIES = {  # (method, fraction) -> accuracy of seeds 0, 1, 2
    ("full", 1.0): [0.92, 0.93, 0.94],
    ("random", 0.1): [0.80, 0.82, 0.81], ("crest", 0.1): [0.85, 0.88, 0.86],
    ("crest_fixed", 0.1): [0.79, 0.80, 0.78], ("el2n", 0.1): [0.70, 0.73, 0.71],
    ("random", 0.5): [0.92, 0.925, 0.93], ("crest", 0.5): [0.93, 0.936, 0.94],
    ("crest_fixed", 0.5): [0.90, 0.91, 0.90], ("el2n", 0.5): [0.92, 0.92, 0.925],
}
TIMES = {("full", 1.0): 30.0, ("random", 0.1): 3.0, ("crest", 0.1): 9.0,
         ("crest_fixed", 0.1): 6.0, ("el2n", 0.1): 4.0, ("random", 0.5): 10.0,
         ("crest", 0.5): 40.0, ("crest_fixed", 0.5): 20.0, ("el2n", 0.5): 8.0}
VARIANTS = ["crest", "crest_fixed"]


def runs_of(accuracies):
    return pd.DataFrame([{"method": m, "fraction": f, "seed": s, "test_acc": acc}
                         for (m, f), accs in accuracies.items() for s, acc in enumerate(accs)])


def table_of(accuracies, times):
    return pd.DataFrame([{"method": m, "fraction": f, "acc_mean": sum(a) / len(a),
                          "time_total": times[(m, f)]} for (m, f), a in accuracies.items()])


def curves():
    """Full reaches 92% (its final 93% - 1 pt) at 30 s; el2n at f = 0.5 at 8 s."""
    rows = [("full", 1.0, 1, 0.90, 15.0), ("full", 1.0, 2, 0.93, 30.0),
            ("el2n", 0.5, 1, 0.915, 4.0), ("el2n", 0.5, 2, 0.9217, 8.0)]
    return pd.DataFrame([{"method": m, "fraction": f, "epoch": e, "acc_mean": a, "wall": w,
                          "n": 3} for m, f, e, a, w in rows])


def board(accuracies, times=None):
    table = table_of(accuracies, times or TIMES)
    diffs = differences(runs_of(accuracies), list(zip(table.method, table.fraction,
                                                      strict=True)))
    tta = time_to_accuracy(curves(), table, accuracy_targets(93.0))
    return leaderboard(table, diffs, tta, VARIANTS), table, diffs, tta


def test_one_row_per_budget_most_accurate_and_cheapest_close_to_full():
    rows, *_ = board(ACCURACIES)
    assert [r.fraction for r in rows] == [0.1, 0.5]
    low, high = rows
    assert low.best.method == "crest" and low.best.main == "crest 86.3%"
    assert low.best.verdict == BETTER and low.best.detail.startswith("vs random +5.3 pts [")
    # nothing at f = 0.1 within 1 point of full's 93%
    assert low.cheapest.method == "" and low.cheapest.main == "none"
    assert high.best.method == "crest"
    # within 1 pt of 93%: random (92.5%, 10 s), crest (93.5%, 40 s), el2n (92.2%, 8 s)
    assert high.cheapest.method == "el2n"
    assert high.cheapest.detail == "8.0 s, 3.8x faster to full − 1 pt"  # 30 s / 8 s = 3.75


def test_crest_variants_and_random_with_verdicts_and_cost():
    rows, *_ = board(ACCURACIES)
    low = rows[0]
    assert low.variants["crest"].cost_ratio == pytest.approx(3.0)
    assert low.variants["crest"].verdict == BETTER
    assert low.variants["crest_fixed"].verdict == SAME  # -2 pts, interval spans 0
    assert "2.0x random's time" in low.variants["crest_fixed"].detail
    assert low.random.method == "random" and low.random.verdict == WORSE
    assert low.random.detail.startswith("vs full -12.0 pts")
    assert rows[1].variants["crest_fixed"].verdict == WORSE
    csv = leaderboard_csv(rows)
    assert csv.splitlines()[0].startswith("fraction,most_accurate,")
    assert "crest_fixed_detail" in csv.splitlines()[0]


def test_variant_not_run_and_random_epoch_as_the_baseline():
    accuracies = {k: v for k, v in ACCURACIES.items() if k[0] not in ("random", "crest_fixed")}
    accuracies[("random_epoch", 0.1)] = [0.80, 0.82, 0.81]
    accuracies[("random_epoch", 0.5)] = [0.92, 0.925, 0.93]
    times = {**TIMES, ("random_epoch", 0.1): 3.0, ("random_epoch", 0.5): 10.0}
    rows, *_ = board(accuracies, times)
    assert rows[0].variants["crest_fixed"].main == "not run"
    assert rows[0].random.method == "random_epoch"
    assert rows[0].variants["crest"].detail.startswith("vs random_epoch +5.3 pts")


def test_headline_sentences_follow_the_numbers():
    rows, table, diffs, tta = board(ACCURACIES)
    says = headline(rows, table, diffs, tta)
    assert 1 <= len(says) <= 5
    assert says[0].startswith("Beats random beyond noise: crest at f = 0.1 (+5.3 pts vs random)")
    crest = next(s for s in says if s.startswith("CREST pays off at f = 0.1, 0.5 (better than"))
    assert "crest 3.0x at f = 0.1 (+5.3 pts, better), 4.0x at f = 0.5" in crest
    assert "crest_fixed 2.0x at f = 0.1 (-2.0 pts, n.d.)" in crest
    worse = next(s for s in says if s.startswith("Worse than random"))
    assert worse.index("el2n at f = 0.1 (-9.7 pts)") < worse.index("crest_fixed at f = 0.5")
    assert says[-1] == "Soonest to full − 1 pt: el2n at f = 0.5 (8.0 s, 3.8x faster than full)."
    # change the numbers, the words follow: CREST no longer beats random anywhere
    flipped = dict(ACCURACIES)
    flipped[("crest", 0.1)] = [0.78, 0.80, 0.79]
    flipped[("crest", 0.5)] = [0.92, 0.93, 0.925]
    rows, table, diffs, tta = board(flipped)
    says = headline(rows, table, diffs, tta)
    assert says[0] == "Nothing beats random beyond noise at any budget."
    assert says[1].startswith("CREST does not beat random beyond noise here; its time")
    assert rows[0].best.method == "random"


def test_one_seed_says_it_cannot_tell():
    single = {key: accs[:1] for key, accs in ACCURACIES.items()}
    rows, table, diffs, tta = board(single)
    says = headline(rows, table, diffs, tta)
    assert says[0].startswith("Too few seeds to tell any method from random")
    assert says[1].startswith("Whether CREST pays off cannot be told with these seeds")
    assert "(+5.0 pts, no interval)" in says[1]
    assert rows[0].best.detail == "vs random +5.0 pts: too few seeds"


def metrics(**overrides):
    base = {"epochs": 4, "n_test": 500, "subset_selection_s": 0.0,
            "time": {"selection": 3.0, "evaluation": 2.0, "training": 5.0},
            "counts": {"selection_forward_examples": 1000, "selection_backward_examples": 250}}
    return {**base, **overrides}


def test_selection_efficiency_prices_passes_at_the_runs_evaluation_speed():
    # 2 s over 4 x 500 evaluated examples = 1 ms each; work 1000 + 2 x 250 = 1500 examples
    assert priced_work(metrics()) == pytest.approx(1.5)
    assert selection_efficiency(metrics()) == pytest.approx(2.0)
    recorded = metrics(counts={"selection_forward_examples": 1000,
                               "selection_backward_examples": 250,
                               "evaluation_examples": 4000})
    assert selection_efficiency(recorded) == pytest.approx(4.0)  # 0.5 ms per example
    no_passes = metrics(counts={"selection_forward_examples": 0,
                                "selection_backward_examples": 0})
    assert selection_efficiency(no_passes) is None  # random, full, static subsets
    assert selection_efficiency(metrics(n_test=None)) is None  # speed unknown
    assert selection_efficiency(metrics(time={"selection": 0.0, "evaluation": 2.0})) is None


def test_summary_and_method_table_carry_selection_efficiency(tmp_path):
    from prunebench.report.analysis.tables import method_table
    from prunebench.report.render.rows import format_method_rows
    counts = {"selection_forward_examples": 400, "selection_backward_examples": 0}
    paths = [write_run(tmp_path, "craig", 0.5, seed, acc=0.8, training=2.0, evaluation=0.3,
                       selection=selection, counts=counts) / "metrics.json"
             for seed, selection in ((0, 1.2), (1, 0.6))]
    paths.append(write_run(tmp_path, "full", 1.0, 0, acc=0.9, training=4.0) / "metrics.json")
    summary, _ = build_summary(paths, [], n_test={DATASET: 20})
    craig = summary[summary.method == "craig"].sort_values("seed")
    # 0.3 s over 3 epochs x 20 examples = 5 ms each; 400 forwards = 2 s of priced work
    assert craig.selection_efficiency.tolist() == pytest.approx([0.6, 0.3])
    assert math.isnan(summary[summary.method == "full"].selection_efficiency.iloc[0])
    rows = {r["method"]: r for r in format_method_rows(method_table(summary))}
    assert rows["craig"]["selection_efficiency"] == "0.45" and rows["full"][
        "selection_efficiency"] == "–"
