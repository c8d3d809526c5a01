"""Render a report's first screen (or the whole page) to a PNG with headless Chromium.

    python benchmarks/report_screenshot.py results/quickstart/report/index.html docs/report.png
    python benchmarks/report_screenshot.py INDEX OUT --full-page --width 1280 --height 900

Uses Chromium's own --screenshot (no driver package): a fresh profile in a temporary folder,
no network, no GPU. The page is self-contained (figures embedded), so nothing else is needed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium is not installed (apt-get install -y chromium; tests/system/setup.sh)")


def screenshot(index: Path, out: Path, width: int = 1280, height: int = 900,
               timeout: float = 120) -> Path:
    """Write `index`'s first width x height pixels to `out` (PNG); returns `out`."""
    if not index.exists():
        sys.exit(f"{index} does not exist: render the report first (prunebench report)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-shot-") as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", f"--screenshot={out.resolve()}",
                   index.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not out.exists():
        sys.exit(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return out


def page_height(index: Path) -> int:
    """A generous height for a full-page shot: Chromium's --screenshot takes the window only."""
    return 900 + 2 * index.read_text().count("<figure") * 450 + 20 * index.read_text().count("<tr")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="the report's index.html")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--full-page", action="store_true",
                        help="a window tall enough for the whole page instead of its first screen")
    args = parser.parse_args(argv)
    height = page_height(args.index) if args.full_page else args.height
    print(screenshot(args.index, args.out, args.width, height))


if __name__ == "__main__":
    main()
