"""Published numbers beside ours, the config blocks that carry them, relative error, and the
tables researchers paste (summary.tex, summary.md), on the report fixtures' toy run."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from prunebench.config import load_schema, read_config_file, validate_config
from prunebench.errors import UserError
from prunebench.report.analysis.published import comparison
from prunebench.report.analysis.tables import method_table
from prunebench.report.read.aggregate import build_summary, write_summary
from prunebench.report.render.export import latex_escape, summary_md, summary_tex
from prunebench.report.render.html import render_report
from prunebench.report.render.layout import report_files

from .conftest import ROOT, SCHEMA
from .report_fixtures import toy_config
from .test_report import METHODS, TEMPLATE, build_toy

CREST_LIKE = {"paper": "CREST (ICML 2023)", "table": "Table 1", "dataset": "mnist1d",
              "model": "ResNet-20", "metric": "relative_error", "full_accuracy": 92.1,
              "values": [{"method": "random", "fraction": 0.5, "value": 7.2},
                         {"method": "glister", "fraction": 0.5, "value": 7.0}]}
ACCURACY_LIKE = {"paper": "a reproduction", "table": "README", "dataset": "mnist1d",
                 "metric": "accuracy",
                 "values": [{"method": "el2n", "fraction": 0.5, "value": 85.0},
                            {"method": "el2n", "fraction": 0.4, "value": 84.0}]}


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


def minimal(**blocks):
    return {"experiment": "t", "datasets": {"digits": {"model": "digits_cnn"}},
            "methods": ["random"], "fractions": [0.5], "seeds": [0], **blocks}


@pytest.mark.parametrize("blocks, message", [
    ({"reference_results": [{**CREST_LIKE, "metric": "top1"}]},
     "config key 'reference_results[0].metric': 'top1' is not allowed; choose one of: "
     "accuracy, relative_error"),
    ({"reference_results": [{k: v for k, v in CREST_LIKE.items() if k != "table"}]},
     "config: 'table' is a required property (at reference_results[0])"),
    ({"reference_results": [{**CREST_LIKE, "values": [{"method": "random", "fraction": 10,
                                                       "value": 7.2}]}]},
     "config key 'reference_results[0].values[0].fraction': 10 is greater than the maximum"),
    ({"reference_results": [{**CREST_LIKE, "dataset": "cifar11"}]},
     "config key 'reference_results[0].dataset': 'cifar11' is not allowed"),
    ({"reference_results": CREST_LIKE}, "config key 'reference_results': {"),
    ({"report": {"accuracy_targets": [0.9]}},
     "config key 'report.accuracy_targets[0]': 0.9 is less than or equal to the minimum of 1"),
])
def test_malformed_blocks_are_one_clear_line(schema, blocks, message):
    with pytest.raises(UserError) as caught:
        validate_config(minimal(**blocks), schema)
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text


def test_blocks_default_to_empty_and_accept_the_experiment_files(schema):
    config = validate_config(minimal(), schema)
    assert config["report"] == {"accuracy_targets": []} and config["reference_results"] == []
    ours = {"cifar10.yaml": ("relative_error", 5), "cifar100.yaml": ("relative_error", 5),
            "tinyimagenet.yaml": ("relative_error", 5), "snli.yaml": ("relative_error", 2),
            "cifar10-datadiet.yaml": ("accuracy", 16)}
    for name, (metric, count) in ours.items():
        [reference] = read_config_file(ROOT / "experiments" / name, SCHEMA)["reference_results"]
        assert reference["metric"] == metric and len(reference["values"]) == count, name
    crest = read_config_file(ROOT / "experiments/cifar10.yaml", SCHEMA)["reference_results"][0]
    assert {v["method"]: v["value"] for v in crest["values"]}["random_epoch"] == 7.2
    assert crest["full_accuracy"] == 92.1


def test_comparison_by_hand(tmp_path):
    _, runs, proxies = build_toy(tmp_path)
    table = method_table(build_summary(runs, proxies)[0], METHODS)
    assert table.set_index("method").loc["random", "rel_error"] == pytest.approx(0.08 / 0.92)
    rows = comparison(CREST_LIKE, table).set_index("method")
    assert rows.loc["full", "paper_value"] == 92.1 and rows.loc["full", "our_value"] == 92.0
    random = rows.loc["random"]
    assert random.our_value == pytest.approx(100 * 0.08 / 0.92)  # ours: vs our full (92%)
    assert random.difference == pytest.approx(100 * 0.08 / 0.92 - 7.2)
    assert random.paper_accuracy == pytest.approx(92.1 * (1 - 0.072))
    assert random.accuracy_difference == pytest.approx(84.0 - 92.1 * 0.928)
    assert rows.loc["glister", "status"] == "not run"
    accuracy = comparison(ACCURACY_LIKE, table)
    assert accuracy.difference.iloc[0] == pytest.approx(86.0 - 85.0)
    assert accuracy.status.iloc[1] == "not run at f = 0.4 (ran f = 0.5)"


def cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                      row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S) if "<td" in row]


def test_report_shows_paper_and_measured_values_and_their_difference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, runs, proxies = build_toy(tmp_path)
    config = toy_config(METHODS, reference_results=[CREST_LIKE, ACCURACY_LIKE],
                        report={"accuracy_targets": [88]})
    write_summary(runs, proxies, "results/toy/summary.csv")
    out = render_report("results/toy/summary.csv", TEMPLATE, "results/toy/report/index.html",
                        config, missing_csv="results/toy/missing.csv")
    html = out.read_text()
    crest = {r[0]: r for r in cells(html, "mnist1d-reference-1")}
    # method, fraction, metric, paper, ours, ours - paper, paper acc, our acc, acc difference
    assert crest["random"][3:] == ["7.20", "8.70", "+1.50", "85.47", "84.00 ± 4.00", "-1.47"]
    assert crest["full"][3:6] == ["92.10", "92.00", "-0.10"]
    assert crest["glister"][4] == "not run" and crest["glister"][5] == "–"
    data_diet = cells(html, "mnist1d-reference-2")
    assert data_diet[0][3:] == ["85.00", "86.00", "+1.00", "85.00", "86.00 ± 0.00", "+1.00"]
    assert data_diet[1][4] == "not run at f = 0.4 (ran f = 0.5)"
    assert "CREST (ICML 2023)</strong>, Table 1 (the paper's model: ResNet-20)" in html
    on_disk = pd.read_csv(out.parent / "tables/mnist1d/reference.csv")
    assert len(on_disk) == 1 + 2 + 2 and set(on_disk.paper) == {"CREST (ICML 2023)",
                                                                 "a reproduction"}
    tta = cells(html, "mnist1d-tta")
    assert tta[0][:2] == ["full", "1"] and len(tta[0]) == 2 + 4  # 3 below full, 88%
    assert "<th>88%</th>" in html.split('id="mnist1d-tta"')[1].split("</thead>")[0]
    assert all(e.path and (out.parent / e.path).exists() for e in report_files(config))


def test_report_without_references_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, runs, proxies = build_toy(tmp_path)
    assert not any(f.name == "reference" for f in report_files(config))
    write_summary(runs, proxies, "results/toy/summary.csv")
    html = render_report("results/toy/summary.csv", TEMPLATE, "results/toy/report/index.html",
                         config, missing_csv="results/toy/missing.csv").read_text()
    assert "This experiment lists no published numbers for mnist1d" in html
    assert 'id="mnist1d-differences-table"' in html and 'id="mnist1d-frontier-table"' in html
    assert "random_epoch was not run: nothing is compared with it." in html


def test_exports_booktabs_bold_best_and_markdown(tmp_path):
    _, runs, proxies = build_toy(tmp_path)
    table = method_table(build_summary(runs, proxies)[0], METHODS)
    table.loc[table.method == "el2n", "method"] = "ccs_b05"  # an opaque variant name
    tex = summary_tex("toy", "budget", [("mnist1d", "mnist1d_cnn", table)])
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}{lrr}"):
        assert tex.count(rule) == 2, rule  # accuracy and time tables
    assert r"crest & \textbf{87.00 $\pm$ 0.00} & -- \\" in tex  # best at f = 0.5
    assert r"full & -- & \textbf{92.00 $\pm$ 2.00} \\" in tex  # best at f = 1
    assert r"random & 84.00 $\pm$ 4.00 & -- \\" in tex
    assert r"ccs\_b05 & 86.00" in tex and "ccs_b05" not in tex
    assert r"random & \textbf{6.5 $\pm$ 0.0} & -- \\" in tex  # lowest time at f = 0.5
    md = summary_md("toy", "budget", [("mnist1d", "mnist1d_cnn", table)])
    assert "| crest | **87.00 ± 0.00** | – |" in md and "| full | – | **92.00 ± 2.00** |" in md
    assert latex_escape("a_b&c%") == r"a\_b\&c\%"


def test_export_files_are_declared_for_snakemake(tmp_path):
    config = toy_config(METHODS, reference_results=[CREST_LIKE])
    exports = {f.path: f.key for f in report_files(config) if f.kind == "export"}
    assert exports == {"tables/summary.tex": "export_summary_tex",
                       "tables/summary.md": "export_summary_md"}
    for entry in report_files(config):
        assert (ROOT / "reports/captions" / entry.caption).exists(), entry.caption
    yaml.safe_dump(config)  # the resolved config stays plain data (the workflow's JSON)
