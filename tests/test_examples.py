"""Every script in examples/ runs at its toy size (--tiny) and learns: it prints a final test
accuracy above chance (MNIST-1D: 10 classes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
ACCURACY = re.compile(r"^final test accuracy: (\d\.\d+)$", re.MULTILINE)


def test_there_are_the_three_examples():
    assert {p.name for p in EXAMPLES} >= {"crest_mnist1d.py", "el2n_ccs.py",
                                          "craig_custom_model.py"}
    for path in EXAMPLES:
        assert len(path.read_text().splitlines()) <= 60, path.name


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_at_its_toy_size_and_learns(tmp_path, script):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, str(script), "--tiny"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = ACCURACY.findall(done.stdout)
    assert len(found) == 1, done.stdout
    assert float(found[0]) > 0.2, done.stdout  # chance is 0.1
