"""Aggregation and the HTML report on fake result trees with hand-derived numbers."""

from __future__ import annotations

import base64
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from prunebench.cli import main
from prunebench.errors import UserError
from prunebench.plan import ExperimentPlan
from prunebench.report.analysis.crest import (
    crest_run_table,
    crest_selections,
    dataset_baseline,
    selection_stats,
)
from prunebench.report.analysis.score_stats import spearman_matrix
from prunebench.report.analysis.tables import method_table
from prunebench.report.read.aggregate import build_summary, write_summary
from prunebench.report.read.curves import run_history
from prunebench.report.render.html import render_report
from prunebench.report.render.layout import (
    report_files,
)

from .conftest import ROOT, SCHEMA
from .report_fixtures import (
    run_dir,
    toy_config,
    toy_scores,
    write_proxies,
    write_run,
    write_scores,
    write_selection_log,
)

TEMPLATE = ROOT / "reports" / "summary.html.j2"
METHODS = ["full", "random", "el2n", "forgetting", "crest", "infobatch"]
CREST_LOG = {"steps": [0, 4, 10, 12], "reasons": ["initial", "check failed", "epoch start",
                                                  "check failed"],
             "pool_sizes": [40, 40, 36, 30], "picked": [[0, 1, 2, 3], [36, 37, 38, 39], [10, 20],
                                                        [5]]}


def build_toy(root, methods=METHODS):
    """Every run of toy_config(methods) with chosen numbers; returns (config, runs, proxies)."""
    config = toy_config(methods)
    for seed in (0, 1, 2):
        write_run(root, "full", 1.0, seed, acc=0.90 + 0.02 * seed, training=10.0 + seed)
        if "random" in methods:
            write_run(root, "random", 0.5, seed, acc=0.80 + 0.04 * seed, training=5.0,
                      subset_selection_s=0.5)
        if "el2n" in methods:
            write_run(root, "el2n", 0.5, seed, acc=0.86, training=5.0, subset_selection_s=0.5)
        if "forgetting" in methods:
            write_run(root, "forgetting", 0.5, seed, acc=0.85, training=5.0,
                      subset_selection_s=0.25)
        if "crest" in methods:
            out = write_run(root, "crest", 0.5, seed, acc=0.87, training=4.0, selection=2.0,
                            extra_time={"selection/hessian": 1.2, "selection/check": 0.3})
            write_selection_log(out, **CREST_LOG)
        if "infobatch" in methods:
            write_run(root, "infobatch", 1.0, seed, acc=0.91, training=8.0, steps=20)
    proxies = write_proxies(root, {"el2n": 1.5, "forgetting": 2.0, "grand": 1.0})
    write_scores(root, toy_scores())
    plan = ExperimentPlan(config)
    runs = [str(root / plan.run_dir(run) / "metrics.json") for run in plan.runs()]
    return config, runs, proxies


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, runs, proxies = build_toy(tmp_path)
    return tmp_path, config, runs, proxies


def row(table, method, fraction):
    match = table[(table.method == method) & (table.fraction == fraction)]
    assert len(match) == 1
    return match.iloc[0]


def test_mean_std_over_seeds_and_n(toy):
    _, config, runs, proxies = toy
    summary, missing = build_summary(runs, proxies)
    assert missing.empty and len(summary) == 3 * len(METHODS)
    table = method_table(summary, config["methods"])
    full, rand = row(table, "full", 1.0), row(table, "random", 0.5)
    assert full.acc_mean == pytest.approx(0.92) and full.acc_std == pytest.approx(0.02)
    assert rand.acc_mean == pytest.approx(0.84) and rand.acc_std == pytest.approx(0.04)  # ddof=1
    assert full.n == 3 and rand.n == 3
    assert row(table, "el2n", 0.5).acc_std == pytest.approx(0.0)
    assert list(table.method.unique()) == METHODS  # full first, then the config's order


def test_reused_proxies_are_named_and_still_charged(tmp_path, monkeypatch):
    from prunebench.report.render.html import proxy_provenance

    monkeypatch.chdir(tmp_path)
    config, runs, _ = build_toy(tmp_path, ["full", "el2n"])
    proxies = write_proxies(tmp_path, {"el2n": 1.5}, trained_for="other")
    summary, _ = build_summary(runs, proxies)
    el2n = summary[summary.method == "el2n"]
    assert el2n.time_scoring.tolist() == pytest.approx([3.0] * 3)  # charged in full, still
    assert (el2n.proxies_trained_for == "other").all()
    assert "trained for experiment other and reused here" in proxy_provenance(summary, "toy")
    assert "reused" not in proxy_provenance(build_summary(runs, write_proxies(
        tmp_path, {"el2n": 1.5}))[0], "toy")


def test_embedding_methods_are_charged_the_first_proxy_seed_only(tmp_path):
    from prunebench.report.read.aggregate import scoring_costs

    proxies = write_proxies(tmp_path, {"embeddings": 2.0, "el2n": 1.5})  # seeds 0 and 1
    costs = scoring_costs(proxies)
    assert costs[("mnist1d", "embeddings")] == pytest.approx(2.0)  # kCenter reads seed 0's
    assert costs[("mnist1d", "el2n")] == pytest.approx(3.0)  # a mean over both seeds


def test_static_runs_are_charged_scoring_and_selection(toy):
    _, _, runs, proxies = toy
    summary, _ = build_summary(runs, proxies)
    el2n = summary[summary.method == "el2n"].iloc[0]
    assert el2n.time_scoring == pytest.approx(2 * 1.5)  # summed over the 2 proxy seeds
    assert el2n.time_selection == pytest.approx(0.5)  # the select job's own timer
    assert el2n.time_total == pytest.approx(3.0 + 0.5 + 5.0 + 1.0)
    crest = summary[summary.method == "crest"].iloc[0]
    assert crest.time_scoring == 0 and crest.time_total == pytest.approx(2.0 + 4.0 + 1.0)
    assert crest["time_selection/hessian"] == pytest.approx(1.2)  # shown, not summed


def test_speedup_and_change_against_full(toy):
    _, config, runs, proxies = toy
    table = method_table(build_summary(runs, proxies)[0], config["methods"])
    full_time = (11 + 12 + 13) / 3
    expect = {"random": 5 + 1 + 0.5, "el2n": 3 + 0.5 + 5 + 1, "forgetting": 4 + 0.25 + 5 + 1,
              "crest": 7.0}
    for method, total in expect.items():
        r = row(table, method, 0.5)
        assert r.time_total == pytest.approx(total)
        assert r.speedup == pytest.approx(full_time / total)
    assert row(table, "random", 0.5).acc_vs_full == pytest.approx(0.84 - 0.92)
    assert row(table, "full", 1.0).speedup == pytest.approx(1.0)
    assert row(table, "crest", 0.5).selection_share == pytest.approx(2.0 / 7.0)
    assert row(table, "el2n", 0.5).selection_share == pytest.approx(0.5 / 9.5)
    infobatch = row(table, "infobatch", 1.0)
    assert infobatch.step_share == pytest.approx(20 / 30)
    assert infobatch.acc_vs_full == pytest.approx(0.91 - 0.92)


def test_missing_runs_are_an_error_or_listed(toy):
    root, config, runs, proxies = toy
    (run_dir(root, "random", 0.5, 2) / "metrics.json").unlink()  # failed: history.csv stays
    shutil.rmtree(run_dir(root, "crest", 0.5, 1))  # never ran
    with pytest.raises(UserError, match="--allow-missing"):
        build_summary(runs, proxies)
    expected = ExperimentPlan(config).expected()  # what each path is, for missing.csv
    summary, missing = write_summary(runs, proxies, root / "summary.csv", allow_missing=True,
                                     expected=expected)
    assert len(summary) == 3 * len(METHODS) - 2
    listed = missing.set_index("method")
    assert listed.loc["random", "reason"].startswith("failed or interrupted")
    assert "history.csv" in listed.loc["random", "reason"]
    assert listed.loc["crest", "reason"] == "not run"
    assert listed.loc["crest", "seed"] == 1 and listed.loc["crest", "fraction"] == 0.5
    on_disk = pd.read_csv(root / "missing.csv")
    assert sorted(on_disk.method) == ["crest", "random"]


def test_crest_selection_stats_by_hand(toy):
    root, _, runs, proxies = toy
    scores = toy_scores()
    log = pd.read_csv(run_dir(root, "crest", 0.5, 0) / "selections.csv")
    stats = selection_stats(log, [np.array(p) for p in CREST_LOG["picked"]], scores)
    assert stats.steps_since_previous.tolist()[1:] == [4, 6, 2]
    assert np.isnan(stats.steps_since_previous.iloc[0])
    assert stats.pool_size.tolist() == [40, 40, 36, 30]
    # el2n = index / 40: picks' mean index 1.5, 37.5, 15, 5
    assert stats.mean_el2n.tolist() == pytest.approx([1.5 / 40, 37.5 / 40, 15 / 40, 5 / 40])
    # forgetting = index // 10, indices 36..39 never learned (+inf)
    assert stats.mean_forgetting.iloc[0] == 0 and np.isnan(stats.mean_forgetting.iloc[1])
    assert stats.mean_forgetting.iloc[2] == pytest.approx(1.5)
    assert stats.inf_share_forgetting.tolist() == [0, 1, 0, 0]
    baseline = dataset_baseline(scores)
    assert baseline["mean_el2n"] == pytest.approx(19.5 / 40)
    assert baseline["mean_forgetting"] == pytest.approx((10 + 20 + 18) / 36)
    assert baseline["inf_share_forgetting"] == pytest.approx(0.1)

    summary, _ = build_summary(runs, proxies)
    selections = crest_selections(summary, scores)
    assert len(selections) == 3 * 4
    per_run = crest_run_table(selections, baseline)
    first = per_run.iloc[0]
    assert first.selections == 4 and first.check_failed == 2
    assert first.mean_steps_between == pytest.approx(4) and first.pool_last == 30


def test_spearman_by_hand_with_infinite_forgetting():
    a = np.array([1, 2, 3, 4, 5.0])
    b = np.array([1, 2, np.inf, np.inf, 3.0])  # ranks 1, 2, 4.5, 4.5, 3
    c = -a
    matrix = spearman_matrix({"a": a, "b": b, "c": c})
    # Pearson on ranks: cov 6.5, variances 10 and 9.5
    assert matrix.loc["a", "b"] == pytest.approx(6.5 / np.sqrt(10 * 9.5))
    assert matrix.loc["a", "c"] == pytest.approx(-1.0)
    assert matrix.loc["b", "a"] == matrix.loc["a", "b"] and matrix.loc["a", "a"] == 1
    with_nan = spearman_matrix({"a": a, "d": np.array([1, 2, np.nan, 4, 5.0])})
    assert with_nan.loc["a", "d"] == pytest.approx(1.0)  # NaN left out, not ranked


def test_learning_curve_wall_time_starts_at_charged_cost(toy):
    root, _, runs, proxies = toy
    summary, _ = build_summary(runs, proxies)
    el2n = summary[(summary.method == "el2n") & (summary.seed == 0)].iloc[0]
    history = run_history(el2n.run_dir, el2n.time_total)
    # 3 s scoring + 0.5 s selection outside the run, then 6 s inside it over 3 epochs
    assert history.wall.tolist() == pytest.approx([3.5 + 2, 3.5 + 4, 3.5 + 6])


def images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_report_self_contained_with_every_declared_file(toy):
    root, config, runs, proxies = toy
    write_summary(runs, proxies, root / "results/toy/summary.csv")
    out = render_report(root / "results/toy/summary.csv", TEMPLATE,
                        root / "results/toy/report/index.html", config,
                        missing_csv=root / "results/toy/missing.csv")
    html = out.read_text()
    files = report_files(config)
    for entry in files:
        assert (out.parent / entry.path).stat().st_size > 0, entry.path
    srcs = images(html)
    assert len(srcs) == sum(f.kind == "figure" for f in files)
    for src in srcs:
        assert src.startswith("data:image/svg+xml;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).lstrip().startswith(b"<?xml")
    assert "<script" not in html and "<link" not in html and "http" not in html.split("</head>")[0]
    # the protocol is said once, after the headline; setup, config and runs come last
    assert html.count('class="protocol"') == 1 and html.count("Protocol: ") == 1
    body = html.split("</h1>", 1)[1]
    assert body.index('id="mnist1d-leaderboard"') < body.index('id="protocol"') \
        < body.index('id="mnist1d-methods"') < body.index('id="setup"') < body.index('id="runs"')
    assert '<details class="end" id="setup-details">' in html
    assert "None: every expected run finished" in html and "CREST not run" not in html
    assert "84.00 ± 4.00" in html  # random: mean ± std over 3 seeds in %
    assert "1.85x" in html  # random: 12 / 6.5
    assert "forgetting" in html and "Spearman" in html
    assert "el2n_sum: not computed" not in html and "grand: not computed" in html
    methods = pd.read_csv(out.parent / "tables/mnist1d/methods.csv")
    assert row(methods, "random", 0.5).speedup == pytest.approx(12 / 6.5, rel=1e-3)


def test_report_without_crest_says_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, runs, proxies = build_toy(tmp_path, ["full", "random", "el2n"])
    assert ExperimentPlan(config).proxy_metrics() == [p.removeprefix(f"{tmp_path}/")
                                                      for p in proxies]
    write_summary(runs, proxies, "results/toy/summary.csv")
    out = render_report("results/toy/summary.csv", TEMPLATE, "results/toy/report/index.html",
                        config, missing_csv="results/toy/missing.csv")
    html = out.read_text()
    assert "CREST not run" in html
    assert not (out.parent / "figures/mnist1d/crest_selection.svg").exists()
    assert "forgetting: not computed" in html  # only el2n is produced for these methods
    assert len(images(html)) == sum(f.kind == "figure" for f in report_files(config))


def test_report_renders_with_runs_missing_via_cli(toy, capsys):
    root, config, runs, proxies = toy
    for seed in (0, 1, 2):
        shutil.rmtree(run_dir(root, "crest", 0.5, seed))
    (run_dir(root, "el2n", 0.5, 1) / "metrics.json").unlink()
    configfile = root / "toy.yaml"
    configfile.write_text(yaml.safe_dump({k: config[k] for k in
                                          ("experiment", "protocol", "device", "datasets",
                                           "methods", "fractions", "seeds", "proxy")}))
    args = ["--config", str(configfile), "--schema", str(SCHEMA)]
    assert main(["aggregate", *args]) == 1
    assert "pass --allow-missing" in capsys.readouterr().err
    assert main(["aggregate", *args, "--allow-missing"]) == 0
    assert main(["report", *args, "--template", str(TEMPLATE)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    index = root / "results/toy/report/index.html"
    assert printed[-1] == f"report: {index.resolve()}"
    html = index.read_text()
    assert "CREST not run: no CREST run finished" in html
    assert html.count("not run</td>") == 3 and "failed or interrupted" in html
    assert (index.parent / "figures/mnist1d/crest_selection.svg").exists()
    summary = pd.read_csv(root / "results/toy/summary.csv")
    assert len(summary) == 3 * len(METHODS) - 4


def test_report_without_full_shows_no_speedup(toy):
    root, config, runs, proxies = toy
    for seed in (0, 1, 2):
        shutil.rmtree(run_dir(root, "full", 1.0, seed))
    summary, missing = write_summary(runs, proxies, "results/toy/summary.csv",
                                     allow_missing=True, expected=ExperimentPlan(config).expected())
    assert set(missing.method) == {"full"}
    table = method_table(summary, config["methods"])
    assert table.speedup.isna().all() and table.acc_vs_full.isna().all()
    out = render_report("results/toy/summary.csv", TEMPLATE, "results/toy/report/index.html",
                        {**config, "protocol": "equal_steps"},
                        missing_csv="results/toy/missing.csv")
    html = out.read_text()
    assert "<strong>Protocol: equal_steps</strong>" in html and "data efficiency" in html
    assert html.count("not run</td>") == 3
    assert len(images(html)) == sum(f.kind == "figure" for f in report_files(config))


def test_report_needs_a_config(tmp_path, capsys):
    assert main(["report", "--settings", "{}", "--summary", str(tmp_path / "s.csv")]) == 1
    assert "--settings lacks" in capsys.readouterr().err


def test_every_declared_output_names_a_producer_and_every_producer_is_declared():
    from prunebench.report.render import producers
    from prunebench.report.render.layout import OUTPUTS
    from prunebench.report.render.sections import DRAWING_ORDER

    made_by = {output.producer for output in OUTPUTS}
    defined = {name for name, value in vars(producers).items() if callable(value)
               and getattr(value, "__module__", "") == producers.__name__
               and not name.startswith("_")}
    assert made_by == defined
    assert {o.name for o in OUTPUTS if o.kind == "figure"} == set(DRAWING_ORDER)
    assert len({(o.kind, o.name) for o in OUTPUTS}) == len(OUTPUTS)
