"""METHODS: every method name a config may list, and what it is made of.

Plain data, no torch: the Snakefile reads it to wire the DAG, and a test checks that the
schema's enum of method names equals these keys.
"""

# kind: "reference" (all data), "static" (score -> select -> train) or "dynamic" (selection
# happens inside training). score: the proxy score a static method ranks by (None: needs none;
# "config" : taken from selection.ccs_score). selector: a key of selection.static.SELECTORS.
# sampler: a key of selection.dynamic.SAMPLERS (dynamic methods), its options are the config's
# dynamic.<sampler> block. own_budget: the method sets its own savings (InfoBatch), so it runs
# once, at fraction 1, and its metrics say how many steps it actually used.
METHODS = {
    "full": {"kind": "reference", "score": None, "selector": None},
    "random": {"kind": "static", "score": None, "selector": "random"},
    "el2n": {"kind": "static", "score": "el2n", "selector": "top"},
    "el2n_sum": {"kind": "static", "score": "el2n_sum", "selector": "top"},
    "el2n_offset": {"kind": "static", "score": "el2n", "selector": "offset"},
    "grand": {"kind": "static", "score": "grand", "selector": "top"},
    "grand_init": {"kind": "static", "score": "grand_init", "selector": "top"},
    "grand_last": {"kind": "static", "score": "grand_last", "selector": "top"},
    "forgetting": {"kind": "static", "score": "forgetting", "selector": "top"},
    "ccs": {"kind": "static", "score": "config", "selector": "ccs"},
    "random_epoch": {"kind": "dynamic", "score": None, "selector": None, "sampler": "random_epoch"},
    "crest": {"kind": "dynamic", "score": None, "selector": None, "sampler": "crest"},
    "craig": {"kind": "dynamic", "score": None, "selector": None, "sampler": "craig"},
    "infobatch": {"kind": "dynamic", "score": None, "selector": None, "sampler": "infobatch",
                  "own_budget": True},
}


def method_score(method: str, config: dict) -> str | None:
    """The score file a method reads, or None when it needs no proxy run."""
    score = METHODS[method]["score"]
    return config["selection"]["ccs_score"] if score == "config" else score


def selector_options(method: str, config: dict) -> dict:
    """Keyword options the method's selector takes from the config's `selection` block."""
    sel = config["selection"]
    options = {"class_balanced": sel["class_balanced"]}
    if METHODS[method]["selector"] == "offset":
        options["offset"] = sel["offset"]
    if METHODS[method]["selector"] == "ccs":
        options.update(beta=sel["ccs_beta"], strata=sel["ccs_strata"])
    return options


def method_fractions(method: str, fractions: list[float]) -> list[float]:
    """The fractions a method runs at: all of them, or 1 for `full` and own-budget methods."""
    entry = METHODS[method]
    if entry["kind"] == "reference" or entry.get("own_budget"):
        return [1.0]
    return list(fractions)


def sampler_options(method: str, config: dict) -> dict | None:
    """The config block a dynamic method's sampler reads (None for other methods)."""
    sampler = METHODS[method].get("sampler")
    return dict(config.get("dynamic", {}).get(sampler, {})) if sampler else None


def proxy_array_file(score: str, score_epoch: int) -> str:
    """File name a proxy run saves `score` under (METHODS.md's file contract)."""
    if score == "forgetting":
        return "forgetting.npy"
    if score == "grand_init":
        return "grand_e0.npy"
    return f"{score}_e{score_epoch}.npy"
