"""`prunebench store ls / gc`: entries of the shared data, proxy and score store, which configs
need them, and a gc that removes only what none of the named configs needs, after which each
named experiment still plans nothing (`snakemake -n`)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from prunebench import paths
from prunebench.store import list_entries, workflow_locks

from .conftest import ROOT, SCHEMA
from .reuse_workflow import CONFIG, CONFIG_FILE, snakemake, workflow_dir
from .test_pipeline import plan_of
from .test_tracking import BIN, isolated_env, offline_network


@pytest.fixture(scope="module")
def reuse_workflow(tmp_path_factory) -> Path:
    return workflow_dir(tmp_path_factory)

# another experiment on the same data with a longer proxy: its own proxy runs and scores
OTHER = {**copy.deepcopy(CONFIG), "experiment": "other",
         "proxy": {**CONFIG["proxy"], "epochs": 3}}
OTHER_FILE = "other.yaml"


def store(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "prunebench"), "store", *args, "--schema", str(SCHEMA)],
                          cwd=workdir, capture_output=True, text=True, timeout=300)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def store_dir(reuse_workflow, tmp_path) -> Path:
    """A copy of the workflow directory (times kept), plus store entries only `other.yaml`
    needs (copies of lineage's, at other's paths) and entries no config needs."""
    workdir = tmp_path / "w"
    shutil.copytree(reuse_workflow, workdir, symlinks=True)
    (workdir / OTHER_FILE).write_text(yaml.safe_dump(OTHER))
    mine, other = plan_of(CONFIG), plan_of(OTHER)
    assert other.data_dir("mnist1d") == mine.data_dir("mnist1d")  # shared
    assert other.proxy_key("mnist1d") != mine.proxy_key("mnist1d")
    for seed in (0, 1):
        shutil.copytree(workdir / mine.proxy_dir("mnist1d", seed),
                        workdir / other.proxy_dir("mnist1d", seed))
    score = workdir / other.score_file("mnist1d", "el2n")
    score.parent.mkdir(parents=True)
    shutil.copy2(workdir / mine.score_file("mnist1d", "el2n"), score)
    # nobody's: a data folder of other options, a mean score no method of lineage ranks by
    shutil.copytree(workdir / mine.data_dir("mnist1d"), workdir / "results/data/mnist1d-00000000")
    shutil.copy2(score, workdir / mine.score_file("mnist1d", "forgetting"))
    return workdir


def test_ls_names_who_needs_each_entry(store_dir):
    mine, other = plan_of(CONFIG), plan_of(OTHER)
    entries = {e.path: e for e in list_entries({CONFIG_FILE: mine, OTHER_FILE: other}, store_dir)}
    data = mine.data_dir("mnist1d")
    assert entries[data].kind == "data" and entries[data].needed_by == [CONFIG_FILE, OTHER_FILE]
    assert entries[mine.proxy_dir("mnist1d", 1)].needed_by == [CONFIG_FILE]
    assert entries[other.proxy_dir("mnist1d", 1)].needed_by == [OTHER_FILE]
    assert entries[other.score_file("mnist1d", "el2n")].kind == "scores"
    unused = {path for path, e in entries.items() if not e.needed_by}
    assert unused == {"results/data/mnist1d-00000000", mine.score_file("mnist1d", "forgetting")}
    assert len(entries) == 1 + 1 + 2 + 2 + 1 + 1 + 1  # 2 data, 4 proxy runs, 3 scores
    size = sum(p.stat().st_size for p in (store_dir / data).rglob("*") if p.is_file())
    assert entries[data].size == size > 0

    done = store(store_dir, "ls", CONFIG_FILE, OTHER_FILE)
    assert done.returncode == 0, done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if f"  {data}  [" in ln]
    assert line.startswith("data") and line.endswith(f"[{CONFIG_FILE}, {OTHER_FILE}]")
    assert "9 entries" in done.stdout.splitlines()[-1]


def test_gc_is_a_dry_run_by_default(store_dir):
    before = files_under(store_dir)
    done = store(store_dir, "gc", CONFIG_FILE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("would remove 5 of 9 entries")
    assert "add --yes to delete them" in done.stdout
    assert files_under(store_dir) == before


def test_gc_removes_only_what_no_named_config_needs(store_dir):
    mine, other = plan_of(CONFIG), plan_of(OTHER)
    done = store(store_dir, "gc", CONFIG_FILE, OTHER_FILE, "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removing 2 of 9 entries")
    assert not (store_dir / "results/data/mnist1d-00000000").exists()
    assert not (store_dir / mine.score_file("mnist1d", "forgetting")).exists()
    for plan in (mine, other):  # what either experiment needs is all there
        assert (store_dir / plan.score_file("mnist1d", "el2n")).is_file()
        assert all((store_dir / plan.proxy_dir("mnist1d", s) / "metrics.json").is_file()
                   for s in (0, 1))

    done = store(store_dir, "gc", CONFIG_FILE, "--yes")  # other's entries go now
    assert done.returncode == 0 and done.stdout.startswith("removing 3 of 7 entries")
    proxy_root = Path(other.proxy_dir("mnist1d", 0)).parent
    assert not (store_dir / proxy_root).exists()  # no empty folders left behind
    assert not (store_dir / Path(other.score_file("mnist1d", "el2n")).parent).exists()
    assert (store_dir / mine.data_dir("mnist1d") / "meta.json").is_file()
    # the listed experiment still plans nothing
    dry = snakemake(store_dir, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_gc_needs_a_config(store_dir):
    done = store(store_dir, "gc")
    assert done.returncode == 2 and "configs" in done.stderr
    assert paths.RESULTS in {p.name for p in store_dir.iterdir()}


def test_gc_refuses_while_a_workflow_runs_here_and_the_run_completes(store_dir):
    """A run of this directory holds Snakemake's lock: gc --yes, naming only another config
    (whose entries are not the running experiment's), deletes nothing and says why in one line;
    the run completes and plans nothing afterwards."""
    env = isolated_env(store_dir)
    env["PATH"] = f"{BIN}:{env['PATH']}"
    command = [*offline_network(), str(BIN / "snakemake"), "--snakefile",
               str(ROOT / "Snakefile"), "--directory", str(store_dir), "--configfile",
               str(store_dir / CONFIG_FILE), "--cores", "1", "--forcerun", "aggregate"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not workflow_locks(store_dir) and run.poll() is None:
            assert time.monotonic() < deadline, "the run never locked its directory"
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before gc could be tried: " + run.stdout.read()
        before = files_under(store_dir / paths.RESULTS)
        done = store(store_dir, "gc", OTHER_FILE, "--yes")
        assert done.returncode == 1, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "holds a lock on" in lines[0] and str(store_dir) in lines[0]
        assert "snakemake --unlock" in lines[0] and done.stdout == ""
        assert files_under(store_dir / paths.RESULTS) >= before  # nothing deleted
    finally:
        output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output[-3000:]
    assert not workflow_locks(store_dir)
    dry = snakemake(store_dir, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_gc_names_a_stale_lock(store_dir):
    (store_dir / ".snakemake" / "locks").mkdir(parents=True, exist_ok=True)
    (store_dir / ".snakemake" / "locks" / "0.input.lock").write_text("")
    done = store(store_dir, "gc", CONFIG_FILE, "--yes")
    assert done.returncode == 1 and "0.input.lock" in done.stderr
    assert store(store_dir, "gc", CONFIG_FILE).returncode == 0  # a dry run deletes nothing
