"""The report in a real browser: headless Chromium opens the page built by a tiny end-to-end run
and the `snakemake --report` page, with no console error, no network request, every figure
drawn at a non-zero size and every table filled. Screenshots go to each test's tmp folder.

Chromium is driven through the DevTools protocol over `--remote-debugging-pipe` (JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no websocket package is
needed. Skips when chromium is not installed (tests/system/setup.sh installs it under CI).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from prunebench.config import read_config_file
from prunebench.report.render.layout import report_files

from .conftest import SCHEMA
from .test_pipeline import snakemake

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                  "google-chrome") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed; tests/system/setup.sh installs it "
                             "(make test does so under CI=true)")

# A few seconds of training: two seeds (so differences get intervals), both proxy scores the
# CREST difficulty panels use, an extra accuracy target and a published-numbers block.
TINY = {
    "experiment": "browser", "protocol": "budget", "device": "cpu",
    "datasets": {"mnist1d": {
        "model": "mnist1d_cnn", "epochs": 2, "batch_size": 64, "lr": 0.05,
        "augment": {"crop_padding": 1}, "options": {"train_size": 600, "test_size": 200},
    }},
    "methods": ["random", "random_epoch", "el2n", "forgetting", "crest"],
    "options": {"crest": {"subset_size": 60, "num_subsets": 2, "check_interval": 2,
                          "drop_interval": 1, "drop_watch": 1}},
    "fractions": [0.5], "seeds": [0, 1],
    "proxy": {"seeds": 1, "epochs": 2, "score_epoch": 1},
    "report": {"accuracy_targets": [5]},
    "reference_results": [{
        "paper": "CREST", "table": "Table 1", "dataset": "mnist1d", "metric": "relative_error",
        "full_accuracy": 92.1, "values": [{"method": "random_epoch", "fraction": 0.5,
                                           "value": 7.2},
                                          {"method": "gradmatch", "fraction": 0.5,
                                           "value": 6.0}]}],
}
VERDICTS = {"better", "not distinguishable", "worse", "no spread over seeds"}
TIME_CELL = re.compile(r"^(\d+\.\d s \(epoch \d+\)(, \d+\.\d\dx)?|not reached)$")
# Every <img> and top-level <svg>: its box on the page and, for images, whether it decoded.
FIGURE_BOXES = """JSON.stringify([...document.querySelectorAll('img, svg')]
  .filter(el => el.tagName === 'IMG' || !el.parentElement.closest('svg'))
  .map(el => { const r = el.getBoundingClientRect();
    return {tag: el.tagName, id: el.closest('figure') ? el.closest('figure').id : '',
            width: r.width, height: r.height,
            decoded: el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0)}; }))"""
TABLE_ROWS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('table')]
  .map((t, i) => [t.id || String(i), [...t.querySelectorAll('tbody tr, tr')]
    .filter(tr => tr.querySelector('td'))
    .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))])))"""
# Each embedded figure's own metadata (palette.tag_svg): its x scales and, per plotted series,
# the method and colour it was drawn for.
FIGURE_META = """JSON.stringify([...document.querySelectorAll('figure img')].map(img => {
  const svg = new DOMParser().parseFromString(atob(img.src.split(',')[1]), 'image/svg+xml');
  return {id: img.closest('figure').id,
          xscale: svg.documentElement.getAttribute('data-xscale'),
          series: [...svg.querySelectorAll('[data-method]')].map(
            g => [g.getAttribute('data-method'), g.getAttribute('data-color')])}; }))"""
# What follows the title, in order, up to the first table: tag, id, and the id of any table.
AFTER_TITLE = """JSON.stringify((() => { const out = [];
  let el = document.querySelector('h1').nextElementSibling;
  while (el && out.length < 4) { const t = el.querySelector('table');
    out.push([el.tagName, el.id, t ? t.id : '']); el = el.nextElementSibling; }
  return out; })())"""
CLICK_LINK = """JSON.stringify((() => {
  const link = [...document.querySelectorAll('a')].find(a => a.textContent.trim() === '%s');
  if (!link) return 'no such link'; link.click(); return 'clicked'; })())"""


class Browser:
    """Headless Chromium and a minimal DevTools-protocol client over a pipe."""

    def __init__(self, profile: Path, log: Path):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():  # Chromium reads commands on fd 3 and writes replies to fd 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.log = log
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=log.open("w"))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer, self._next_id, self.events = b"", 0, []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError(f"chromium did not answer; see {self.log}")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise EOFError(f"chromium exited; see {self.log}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]
            self.events.append(reply)

    def open(self, path: Path, timeout: float = 60) -> str:
        """A new tab on `path`, loaded; returns its session id. Events are collected from the
        start, so console messages and requests made while loading are all seen."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False}, session)
        url = path.resolve().as_uri()
        self.call("Page.navigate", {"url": url}, session)
        deadline = time.monotonic() + timeout
        while not self._loaded(session, url):
            self.events.append(self._receive(deadline))
        return session

    def _loaded(self, session: str, url: str) -> bool:
        """The load event that follows the top frame's navigation to `url` (about:blank's own
        load event may arrive late, after the navigation was requested)."""
        navigated = False
        for event in self.session_events(session, "Page.frameNavigated", "Page.loadEventFired"):
            if event["method"] == "Page.frameNavigated":
                frame = event["params"]["frame"]
                navigated = navigated or (frame["url"] == url and "parentId" not in frame)
            elif navigated:
                return True
        return False

    def session_events(self, session: str, *methods: str) -> list[dict]:
        return [e for e in self.events if e.get("sessionId") == session
                and e.get("method") in methods]

    def evaluate(self, session: str, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True}, session)
        assert "exceptionDetails" not in result, result
        return json.loads(result["result"]["value"])

    def problems(self, session: str) -> list[str]:
        """Console errors, uncaught exceptions, error log entries, and any request that is
        neither a local file nor inline data (the page must work offline)."""
        found = []
        for event in self.session_events(session, "Runtime.consoleAPICalled",
                                         "Runtime.exceptionThrown", "Log.entryAdded",
                                         "Network.requestWillBeSent"):
            params = event["params"]
            if event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error",
                                                                                    "assert"):
                found.append(f"console.{params['type']}: {params['args']}")
            elif event["method"] == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']}")
            elif event["method"] == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    found.append(f"network request: {url}")
        return found

    def screenshot(self, session: str, out: Path) -> Path:
        size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000),
                "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                    "captureBeyondViewport": True}, session)
        out.write_bytes(base64.b64decode(shot["data"]))
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (AssertionError, EOFError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("browser")
    configfile = workdir / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(TINY))
    done = snakemake(workdir, configfile)
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir, configfile


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chromium")
    chromium = Browser(folder / "profile", folder / "chromium.log")
    yield chromium
    chromium.close()


def test_report_page_in_chromium(tiny_report, browser, tmp_path):
    workdir, _ = tiny_report
    index = workdir / "results/browser/report/index.html"
    session = browser.open(index)
    assert browser.problems(session) == []

    boxes = browser.evaluate(session, FIGURE_BOXES)
    config = read_config_file(workdir / "tiny.yaml", SCHEMA)
    declared = [f for f in report_files(config) if f.kind == "figure"]
    # five result figures (time to accuracy among them), the dynamic methods' selections,
    # CREST's own panels, two score figures
    assert len(boxes) == len(declared) == 9
    for box in boxes:
        assert box["decoded"] and box["width"] > 50 and box["height"] > 50, box
    assert {b["id"] for b in boxes} == {f"mnist1d-{f.name}" for f in declared}

    tables = browser.evaluate(session, TABLE_ROWS)
    methods = tables["mnist1d-methods"]
    names = ["full", "random", "random_epoch", "el2n", "forgetting", "crest"]
    assert [r[0] for r in methods] == names
    # accuracy, n, change, relative error, time, phases, selection share, speedup filled
    # accuracy ... selection share, selection efficiency, speedup filled
    assert all(cell for r in methods for cell in r[:12])
    assert float(methods[1][3].split()[0]) > 0 and methods[0][11] == "1.00x"
    assert float(methods[-1][9]) > 0  # crest's selection share (%)
    assert float(methods[-1][10]) > 0 and methods[1][10] == "–"  # efficiency: crest, random
    assert methods[0][6] == "0.00" and float(methods[1][6]) >= 0  # relative error (%)
    assert len(tables["mnist1d-crest-table"]) == 2 and len(tables["runs-table"]) == 12
    # random_epoch logs no selection: the dynamic section shows crest's two runs
    assert [r[0] for r in tables["mnist1d-selection-table"]] == ["crest", "crest"]
    _headline_first(browser, session, tables)
    _figures_readable(browser, session)
    assert len(tables["mnist1d-correlation"]) == 2
    _new_sections(browser, session, tables)
    text = browser.evaluate(session, "JSON.stringify(document.body.innerText)")
    assert "None: every expected run finished" in text and "Protocol: budget" in text

    shot = browser.screenshot(session, tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def _headline_first(browser: Browser, session: str, tables: dict) -> None:
    """After the title: a status line, then the dataset's headline section whose first table
    is the leaderboard, one row per budget, before the protocol and every other table."""
    after = browser.evaluate(session, AFTER_TITLE)
    assert after[0][0] == "P" and after[1] == ["SECTION", "mnist1d-headline",
                                               "mnist1d-leaderboard"], after
    first_table = browser.evaluate(session, "JSON.stringify(document.querySelector('table').id)")
    assert first_table == "mnist1d-leaderboard"
    board = tables["mnist1d-leaderboard"]
    assert [r[0] for r in board] == ["0.5"]  # one row per budget
    names = ["full", "random", "random_epoch", "el2n", "forgetting", "crest"]
    assert board[0][1].split()[0] in names  # most accurate: a method and its accuracy
    assert board[0][3].endswith("time")  # crest: ... x random's time
    assert board[0][4].startswith("random ") and "vs full" in board[0][4]
    says = browser.evaluate(session, "JSON.stringify([...document.querySelectorAll("
                                     "'#mnist1d-says-text li')].map(li => li.innerText))")
    assert 1 <= len(says) <= 5 and "random" in says[0]


def _figures_readable(browser: Browser, session: str) -> None:
    """The cost figure's time axis is logarithmic, and every method keeps one colour in
    every figure that draws it (the figures' own metadata)."""
    meta = {f["id"]: f for f in browser.evaluate(session, FIGURE_META)}
    assert meta["mnist1d-accuracy_vs_time"]["xscale"] == "log"
    assert meta["mnist1d-accuracy_vs_fraction"]["xscale"] == "linear"
    colours: dict[str, set[str]] = {}
    drawn_in: dict[str, set[str]] = {}
    for figure_id, figure in meta.items():
        for method, colour in figure["series"]:
            colours.setdefault(method, set()).add(colour)
            drawn_in.setdefault(method, set()).add(figure_id)
    assert set(colours) >= {"full", "random", "random_epoch", "el2n", "forgetting", "crest"}
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({c for cs in colours.values() for c in cs}) == len(colours)  # distinct
    assert {"mnist1d-accuracy_vs_time", "mnist1d-learning_curves", "mnist1d-selections",
            "mnist1d-crest_selection"} <= drawn_in["crest"]


def _new_sections(browser: Browser, session: str, tables: dict) -> None:
    """Time to accuracy, differences with verdicts, the frontier, published numbers, the
    generated paragraph and the tables to paste, as the browser shows them."""
    tta = tables["mnist1d-tta"]
    assert [r[0] for r in tta] == ["full", "random", "random_epoch", "el2n", "forgetting",
                                   "crest"]
    assert all(len(r) == 2 + 4 and all(TIME_CELL.match(c) for c in r[2:]) for r in tta), tta
    assert all(c.endswith(")") for c in tta[0][2:5])  # full reaches its own final - x pts
    diffs = tables["mnist1d-differences-table"]
    assert len(diffs) >= 5 and {r[7] for r in diffs} <= VERDICTS
    assert {r[3] for r in diffs} == {"paired t"} and {r[4] for r in diffs} == {"2 / 2"}
    against = {(r[0], r[2].split()[0]) for r in diffs}
    assert ("crest", "random_epoch") in against and ("el2n", "full") in against
    frontier = tables["mnist1d-frontier-table"]
    assert frontier and all(r[0] in {t[0] for t in tta} for r in frontier)
    published = {r[0]: r for r in tables["mnist1d-reference-1"]}
    assert published["gradmatch"][4] == "not run"
    assert published["random_epoch"][3] == "7.20" and float(published["random_epoch"][4]) >= 0
    assert published["full"][3] == "92.10"
    tex = browser.evaluate(session, "JSON.stringify(document.getElementById('summary-tex')"
                                    ".textContent)")
    assert "\\toprule" in tex and "\\textbf{" in tex and "random\\_epoch" in tex


def test_snakemake_report_in_chromium(tiny_report, browser, tmp_path):
    workdir, configfile = tiny_report
    out = tmp_path / "snakemake-report.html"
    done = snakemake(workdir, configfile, "--report", str(out))
    assert done.returncode == 0, done.stderr[-4000:]
    html = out.read_text()
    for name in ("accuracy_vs_fraction.svg", "crest_selection.svg", "methods.csv",
                 "summary.csv", "time_to_accuracy.svg", "differences.csv", "reference.csv",
                 "summary.tex", "summary.md"):
        assert name in html, name
    session = browser.open(out)
    time.sleep(1)  # let the single-page app render
    for link in ("mnist1d", "figures"):  # the category (dataset), then its figures
        assert browser.evaluate(session, CLICK_LINK % link) == "clicked", link
        time.sleep(0.5)
    text = browser.evaluate(session, "JSON.stringify(document.body.innerText)")
    config = read_config_file(configfile, SCHEMA)
    for entry in report_files(config):
        if entry.kind == "figure":
            assert entry.label in text, entry.label
    assert browser.problems(session) == []
    shot = browser.screenshot(session, tmp_path / "snakemake-report.png")
    assert shot.stat().st_size > 10_000
