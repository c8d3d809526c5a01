"""Hugging Face Hub access that fails in seconds when there is no network.

The HF libraries retry and wait on timeouts when the Hub cannot be reached. Before any of them
loads something by name we decide once per process whether the Hub is usable: a user's own
offline switch (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE, TRANSFORMERS_OFFLINE) wins; otherwise one
HEAD request with a short timeout. When offline, the switches are set (and patched into HF
modules already imported), so the libraries only look in local folders and caches.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_TIMEOUT_S = 5.0
_TRUE = {"1", "ON", "YES", "TRUE"}
_decided: bool | None = None


def _switch_set_by_user() -> bool:
    return any(os.environ.get(name, "").upper() in _TRUE for name in OFFLINE_SWITCHES)


def hub_answers(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the Hub endpoint answers an HTTP request within `timeout` seconds."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True  # it answered, if only with an error status
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


def _switch_offline() -> None:
    for name in OFFLINE_SWITCHES:
        os.environ[name] = "1"
    # The libraries read the switches when first imported; patch those already loaded.
    if "huggingface_hub.constants" in sys.modules:
        sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = True
    if "datasets.config" in sys.modules:
        config = sys.modules["datasets.config"]
        config.HF_HUB_OFFLINE = True
        config.HF_DATASETS_OFFLINE = True


def hub_offline() -> bool:
    """True when nothing may be fetched from the Hub (decided once; switches set if so)."""
    global _decided
    if _decided is None:
        _decided = _switch_set_by_user() or not hub_answers()
        if _decided:
            _switch_offline()
    return _decided


def is_local(name_or_path: str) -> bool:
    """A folder on disk rather than a Hub id."""
    return Path(name_or_path).expanduser().exists()


def local_only(name_or_path: str) -> bool:
    """Call before an HF library loads `name_or_path`: True when it must come from local files
    (a folder on disk, which never needs the network, or any name while the Hub is offline)."""
    return is_local(name_or_path) or hub_offline()
