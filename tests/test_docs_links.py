"""Nothing in the repository points outside it.

Someone who clones the project gets only the repository: a file that sends them to a design
folder beside it, or a Markdown link to a file that does not exist, is a dead end. Every text
file git knows (tracked, or new and not ignored) is read:
- no mention of the sibling design folder or of its files;
- every relative link in a Markdown file (`[text](target)`, `![alt](target)`) names a file or
  folder that exists inside the repository, and a `#fragment` into a Markdown file names one
  of its headings (GitHub's anchors).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Names of the design folder outside the repository and of its files (case-sensitive, so
# docs/methods.md does not match). Assembled from parts, so this file names no outside path.
_FOLDER, _DESIGN = "sha" + "red", "des" + "ign"
OUTSIDE = (f"../{_FOLDER}", f"/work/{_FOLDER}", f"{_FOLDER}/{_DESIGN}",
           *(f"{name}.md" for name in ("METHODS", "ARCHITECTURE", "STYLE")))
# [text](target) or ![alt](target); the target stops at whitespace or ')'.
MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
SKIPPED_DIRS = {".git", ".venv", ".snakemake", "results", "resources", "logs", "__pycache__"}


def repository_files() -> list[str]:
    """Paths (relative, posix) of the files git would commit: tracked plus untracked-but-not-
    ignored. Without git (an unpacked archive), every file outside the build folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True).stdout.decode()
        return sorted({p for p in listed.split("\0") if p and (ROOT / p).is_file()})
    except (OSError, subprocess.CalledProcessError):
        return sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                      if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(ROOT).parts))


def text_of(path: str) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    data = (ROOT / path).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def outside_mentions(text: str) -> list[tuple[int, str]]:
    """(line number, name) for every mention of the design folder or its files."""
    return [(number, name) for number, line in enumerate(text.splitlines(), 1)
            for name in OUTSIDE if name in line]


def markdown_links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link outside fenced code blocks."""
    links, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            links.extend((number, m.group(1)) for m in MARKDOWN_LINK.finditer(line))
    return links


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped,
    spaces to hyphens, repeats numbered -1, -2, ... (headings in code blocks do not count)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_link(source: str, target: str, source_text: str = "") -> str | None:
    """Why a link from the repository file `source` (whose text is `source_text`) to
    `target` is broken, or None if it is external, or an existing file or folder inside the
    repository (and, for a Markdown file, an existing heading when it names one)."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", target):
        return None
    path, _, fragment = target.partition("#")
    path = path.split("?", 1)[0]
    if path.startswith("/"):
        return "an absolute path"
    resolved = ((ROOT / source).parent / path).resolve() if path else ROOT / source
    if not resolved.is_relative_to(ROOT):
        return "outside the repository"
    if not resolved.exists():
        return "no such file in the repository"
    if fragment and resolved.suffix == ".md" and resolved.is_file():
        text = source_text if not path else resolved.read_text(encoding="utf-8")
        if fragment not in heading_anchors(text):
            return f"no heading #{fragment} in {resolved.relative_to(ROOT).as_posix()}"
    return None


def test_outside_mentions_are_found():
    folder, design, methods = OUTSIDE[0], OUTSIDE[2], OUTSIDE[3]
    text = f"see {folder}/{_DESIGN}/{methods}\nand docs/methods.md\n"
    assert outside_mentions(text) == [(1, folder), (1, design), (1, methods)]


def test_broken_links_are_found():
    text = ("# Layout\n[ok](README.md) [gone](docs/nothing-here.md) [up](../../etc/passwd)\n"
            "[web](https://example.org/x.md) [anchor](#layout) [abs](/etc/passwd)\n"
            "```\n[in code](not-checked.md)\n# not a heading\n```\n"
            "![fig](docs/cluster.md#slurm) [lost](#not-a-heading) [far](docs/cluster.md#nope)\n")
    found = {target: broken_link("README.md", target, text)
             for _, target in markdown_links(text)}
    assert found == {
        "README.md": None, "docs/nothing-here.md": "no such file in the repository",
        "../../etc/passwd": "outside the repository", "https://example.org/x.md": None,
        "#layout": None, "/etc/passwd": "an absolute path", "docs/cluster.md#slurm": None,
        "#not-a-heading": "no heading #not-a-heading in README.md",
        "docs/cluster.md#nope": "no heading #nope in docs/cluster.md"}


def test_heading_anchors_follow_github():
    text = ("## CREST's reference faults we do not copy\n## Data\n## Data\n"
            "## CREST as its authors run it (as measured, 2 CPU cores, 2026-11-26)\n")
    assert heading_anchors(text) == {
        "crests-reference-faults-we-do-not-copy", "data", "data-1",
        "crest-as-its-authors-run-it-as-measured-2-cpu-cores-2026-11-26"}


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    files = {path: text_of(path) for path in repository_files()}
    return {path: text for path, text in files.items() if text is not None}


def test_the_repository_is_read(texts):
    assert "README.md" in texts and "src/prunebench/methods.py" in texts


def test_no_file_mentions_the_design_folder_outside_the_repository(texts):
    found = [f"{path}:{number}: {name}" for path, text in texts.items()
             for number, name in outside_mentions(text)]
    assert not found, "files point outside the repository:\n" + "\n".join(found)


def test_every_relative_markdown_link_resolves_inside_the_repository(texts):
    broken = [f"{path}:{number}: ({target}) {why}"
              for path, text in texts.items() if path.endswith(".md")
              for number, target in markdown_links(text)
              if (why := broken_link(path, target, text))]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_cluster_docs_wandb_sync_globs_match_the_results_layout():
    """docs/cluster.md's `wandb sync` globs find the offline runs where jobs write them
    (the run's directory from paths.py, plus wandb's `wandb/offline-run-*`)."""
    from fnmatch import fnmatchcase

    from prunebench import paths

    text = (ROOT / "docs" / "cluster.md").read_text()
    command = text[text.index("wandb sync results/"):].split("```", 1)[0]
    globs = [word.replace("<exp>", "quickstart") for word in command.split()
             if word.startswith("results/")]
    run = paths.run_dir("quickstart", "mnist1d", "crest_fixed", 0.1, 2)
    proxy = paths.fill(paths.PROXY, data=paths.data_key("mnist1d", {"train_size": 10000}),
                       model="mnist1d_cnn", proxy="1a2b3c4d", seed=0)
    for folder in (run, proxy):
        wandb_run = f"{folder}/wandb/offline-run-20261203_080000-abcd1234"
        assert any(fnmatchcase(wandb_run, g) and wandb_run.count("/") == g.count("/")
                   for g in globs), (wandb_run, globs)
