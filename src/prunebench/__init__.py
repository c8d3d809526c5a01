"""prunebench: which training examples matter, and how much compute choosing them saves.

`import prunebench as pb` also gives the library API (`prunebench.api`, docs/library.md):
`pb.score`, `pb.select`, `pb.DynamicMethod`, ... Those names load on first use, so importing
prunebench alone (as the workflow does) loads no torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_API = ("Batch", "DynamicMethod", "ForgettingTracker", "MethodInfo", "OptionInfo", "ScoreInfo",
        "ScoreTracker", "SelectionRecord", "UserError", "available_methods", "available_scores",
        "score", "select")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module("prunebench.api"), name)
    raise AttributeError(f"module 'prunebench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
