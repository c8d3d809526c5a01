"""One look per method across every figure of the report, and metadata a reader (or a test)
can check on each SVG.

The colour is keyed by the *base* method name (a variant such as crest_fixed has crest's
colour), so a method looks the same in every figure and in every report; variants of one base
are told apart by line style and marker. Each plotted series is tagged, and `tag_svg` turns
the tags into attributes of the SVG: `data-method`, `data-color` on each series' group and
`data-xscale` (e.g. "log") on the root element.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import matplotlib

# Registered methods, strong colours for the ones most reports show (tab10 first, then tab20's
# light shades and a few more); a method not listed gets a stable colour from its name.
BASE_COLORS = {
    "full": "#000000", "random": "#7f7f7f", "random_epoch": "#8c564b", "crest": "#d62728",
    "craig": "#1f77b4", "gradmatch": "#2ca02c", "glister": "#9467bd", "el2n": "#ff7f0e",
    "forgetting": "#17becf", "grand": "#bcbd22", "ccs": "#e377c2", "infobatch": "#393b79",
    "rs2": "#637939", "el2n_sum": "#ffbb78", "el2n_offset": "#c49c94", "grand_init": "#dbdb8d",
    "grand_last": "#8c6d31", "uncertainty_entropy": "#aec7e8", "uncertainty_margin": "#98df8a",
    "uncertainty_lc": "#c5b0d5", "input_norm": "#9edae5", "kcenter": "#843c39",
    "herding": "#7b4173", "moderate": "#f7b6d2",
}
LINESTYLES = ["-", "--", ":", "-."]  # the base method first, then its variants in config order
MARKERS = ["o", "s", "^", "D", "v"]


@dataclass(frozen=True)
class Look:
    color: str
    linestyle: str = "-"
    marker: str = "o"


def base_color(base: str) -> str:
    if base in BASE_COLORS:
        return BASE_COLORS[base]
    spare = matplotlib.colormaps["tab20b"].colors
    return matplotlib.colors.to_hex(spare[zlib.crc32(base.encode()) % len(spare)])


def method_looks(methods: list[str], config: dict | None = None) -> dict[str, Look]:
    """name -> Look for each method or variant in `methods`: its base method's colour, and a
    line style and marker by its rank among the names sharing that base (the base itself
    first)."""
    variants = (config or {}).get("variants") or {}
    bases = {m: variants[m]["method"] if m in variants else m for m in methods}
    looks = {}
    for method in methods:
        base = bases[method]
        family = sorted((m for m in methods if bases[m] == base), key=lambda m: (m != base, m))
        rank = family.index(method)
        looks[method] = Look(base_color(base), LINESTYLES[rank % len(LINESTYLES)],
                             MARKERS[rank % len(MARKERS)])
    return looks


_counter = iter(range(1 << 62))


def tag(artists, method: str, color: str) -> None:
    """Mark artists (or an errorbar container) as one method's series, for `tag_svg`."""
    items = artists.get_children() if hasattr(artists, "get_children") and not hasattr(
        artists, "get_gid") else artists
    if not isinstance(items, list | tuple):
        items = [items]
    for artist in items:
        hex_color = matplotlib.colors.to_hex(color)[1:]
        artist.set_gid(f"pbm.{method}.{hex_color}.{next(_counter)}")


_TAG = re.compile(r'<g id="pbm\.(.+?)\.([0-9a-f]{6})\.(\d+)">')


def tag_svg(svg: str, xscales: list[str]) -> str:
    """Turn `tag` marks into data-method / data-color attributes and write the axes' x scales
    (unique, in order, space separated) as data-xscale on the root <svg>."""
    svg = _TAG.sub(lambda m: f'<g id="pbm-{m.group(3)}" class="series" '
                             f'data-method="{m.group(1)}" data-color="#{m.group(2)}">', svg)
    scales = " ".join(dict.fromkeys(xscales))
    return re.sub(r"<svg ", f'<svg data-xscale="{scales}" ', svg, count=1)
