"""Which proxy scores a method, and with what settings. Torch-free.

The config's `proxy` section is the default proxy; `proxies` names others, each starting from
`proxy` and changing what it sets (its model, recipe keys, epochs, seeds). A variant chooses
one with `proxy: <name>`; every other method scores with the default. A proxy without settings
of its own trains the dataset's model with the dataset's recipe, under the key it always had
(`paths.proxy_key`).
"""

from __future__ import annotations

DEFAULT_PROXY = "default"


def proxy_settings(config: dict, name: str = DEFAULT_PROXY) -> dict:
    """The settings of proxy `name`: the `proxy` section, then what a named proxy sets."""
    if name == DEFAULT_PROXY:
        return config["proxy"]
    return {**config["proxy"], **config["proxies"][name]}


def method_proxy(method: str, config: dict) -> str:
    """The proxy a method (or variant) scores with: the variant's `proxy`, else the default."""
    variant = config.get("variants", {}).get(method) or {}
    return variant.get("proxy", DEFAULT_PROXY)
