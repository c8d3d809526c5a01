"""METHODS and SCORES: every name a config may list, and what it is made of.

Plain data, no torch: the workflow reads it to wire the DAG. A method is one implementation
file plus one line here. The line names the implementation by module and attribute, the
options dataclass beside it, and (for a static method) what the selector reads; the options'
schema is generated from the dataclass (`prunebench schema`), so nothing is written twice.

- reference: `full`, all data.
- static: score (or embeddings) -> select -> train. `module` is a selector module (usually
  under prunebench.selection.static) with `function(values, labels, fraction, rng, options)`,
  `options` an instance of the `options` dataclass.
- dynamic: selection inside training. `module` is a sampler module (usually under
  prunebench.selection.dynamic); `function` names the sampler class, whose `Options` it uses.
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE_FROM_OPTION = "option"  # the method's `score` option names the score it ranks by


@dataclass(frozen=True)
class Method:
    kind: str  # "reference" | "static" | "dynamic"
    module: str | None  # implementation module (dotted path)
    function: str | None  # selector function or sampler class in that module
    options: str | None  # options dataclass in that module
    description: str
    score: str | None = None  # a SCORES name, SCORE_FROM_OPTION, or None
    embeddings: bool = False  # selects on the first proxy seed's penultimate embeddings
    own_budget: bool = False  # sets its own savings (InfoBatch): runs once, at fraction 1

    @property
    def needs_proxy(self) -> bool:
        return self.score is not None or self.embeddings


def _static(module, function, options, description, **kw) -> Method:
    return Method("static", f"prunebench.selection.static.{module}", function, options,
                  description, **kw)


def _dynamic(module, sampler, description, **kw) -> Method:
    return Method("dynamic", f"prunebench.selection.dynamic.{module}", sampler, None, description,
                  **kw)


def _top(score: str, description: str) -> Method:
    return _static("top", "select_top", "TopOptions", description, score=score)


METHODS = {
    "full": Method("reference", None, None, None, "all data, every epoch (the reference)"),
    "random": _static("random_subset", "select_random", "RandomOptions",
                      "a uniform random subset of f*N, fixed for the run"),
    "el2n": _top("el2n", "the f*N highest EL2N scores (Data Diet)"),
    "el2n_sum": _top("el2n_sum", "the f*N highest EL2N sums over epochs 1..k (CCS's EL2N)"),
    "el2n_offset": _static("offset", "select_offset", "OffsetOptions",
                           "EL2N, skipping the hardest `offset` first (Data Diet's range)",
                           score="el2n"),
    "grand": _top("grand", "the f*N highest GraNd scores (Data Diet)"),
    "grand_init": _top("grand_init", "the f*N highest GraNd scores at initialisation"),
    "grand_last": _top("grand_last", "the f*N highest last-layer GraNd scores (DeepCore)"),
    "forgetting": _top("forgetting", "the f*N most forgotten examples (Toneva et al.)"),
    "uncertainty_entropy": _top("uncertainty_entropy",
                                "the f*N most uncertain by entropy (DeepCore)"),
    "uncertainty_margin": _top("uncertainty_margin",
                               "the f*N smallest top-two margins (DeepCore)"),
    "uncertainty_lc": _top("uncertainty_lc", "the f*N least confident (DeepCore)"),
    "input_norm": _top("input_norm", "the f*N largest input norms (Kirsch's sanity baseline)"),
    "kcenter": _static("kcenter", "select_kcenter", "KCenterOptions",
                       "k-center greedy on the proxy's embeddings, per class (DeepCore)",
                       embeddings=True),
    "herding": _static("herding", "select_herding", "HerdingOptions",
                       "herding towards the class mean embedding (DeepCore, argmin)",
                       embeddings=True),
    "moderate": _static("moderate", "select_moderate", "ModerateOptions",
                        "the band around the median distance to the class centre (Moderate)",
                        embeddings=True),
    "ccs": _static("ccs", "select_ccs", "CcsOptions",
                   "coverage-centric: drop the hardest beta, sample evenly across strata",
                   score=SCORE_FROM_OPTION),
    "random_epoch": _dynamic("random_epoch", "RandomEpochSampler",
                             "a fresh uniform f*N subset every epoch (CREST's random)"),
    "crest": _dynamic("crest", "CrestSampler",
                      "mini-batch coresets re-picked when a quadratic loss model stops fitting"),
    "craig": _dynamic("craig", "CraigSampler",
                      "per-class facility location over the whole class, every epoch"),
    "rs2": _dynamic("rs2", "Rs2Sampler",
                    "repeated random sampling without replacement: per-epoch slices of a "
                    "permutation (RS2)"),
    "gradmatch": _dynamic("gradmatch", "GradMatchSampler",
                          "per-class non-negative OMP matching the class's last-layer gradient"),
    "glister": _dynamic("glister", "GlisterSampler",
                        "greedy on the Taylor-approximated loss of a held-out validation set"),
    "infobatch": _dynamic("infobatch", "InfoBatchSampler",
                          "skip below-mean-loss examples with probability r, rescale the rest",
                          own_budget=True),
}


SCORE_TIMES = ("score_epoch", "init", "run")  # a Score's `at`


@dataclass(frozen=True)
class Score:
    """A per-example array a proxy run saves. `at` (one of SCORE_TIMES): when it exists -
    "score_epoch" (epoch k), "init" (before training) or "run" (accumulated over the whole
    proxy run). The scorer's epochs are derived from it (`scores.protocol.Scorer`)."""

    module: str  # scorer module (dotted path)
    scorer: str  # scorer class in that module
    at: str
    description: str
    rankable: bool = True  # one value per example, averaged over proxy seeds, ranked by methods


def _score(module: str, scorer: str, at: str, description: str, rankable: bool = True) -> Score:
    return Score(f"prunebench.scores.{module}", scorer, at, description, rankable)


SCORES = {
    "el2n": _score("el2n", "EL2NScorer", "score_epoch", "EL2N at epoch k"),
    "el2n_sum": _score("el2n", "EL2NSumScorer", "score_epoch",
                       "sum of per-epoch EL2N over epochs 1..k, as CCS computes it"),
    "grand": _score("grand", "GraNdScorer", "score_epoch", "GraNd over all parameters at epoch k"),
    "grand_init": _score("grand", "GraNdScorer", "init",
                         "GraNd over all parameters at initialisation (k=0)"),
    "grand_last": _score("grand", "GraNdLastScorer", "score_epoch",
                         "closed-form last-layer GraNd at epoch k"),
    "forgetting": _score("forgetting", "ForgettingScorer", "run",
                         "forgetting events over the proxy run"),
    "uncertainty_entropy": _score("uncertainty", "EntropyScorer", "score_epoch",
                                  "entropy of the predicted distribution at epoch k"),
    "uncertainty_margin": _score("uncertainty", "MarginScorer", "score_epoch",
                                 "1 - (p1 - p2), the top-two probability margin, at epoch k"),
    "uncertainty_lc": _score("uncertainty", "LeastConfidenceScorer", "score_epoch",
                             "least confidence 1 - max p at epoch k"),
    "input_norm": _score("input_norm", "InputNormScorer", "init",
                         "||x||_2 of the normalised input (no model)"),
    "embeddings": _score("embeddings", "EmbeddingsScorer", "score_epoch",
                         "penultimate features at epoch k, float16 N x d (not a ranking)",
                         rankable=False),
}


# What every proxy run computes while it trains (the schema's default `proxy.scores`): the
# scores that need the run itself (EL2N's sum over epochs 1..k, forgetting over every batch)
# and the Data Diet scores. Every other score is computed afterwards, by its own job, from the
# model state the run saves at its epoch (STATE_EPOCH_OF), so adding one re-trains nothing.
TRAINED_SCORES = ("el2n", "el2n_sum", "grand", "grand_init", "grand_last", "forgetting")


def from_state(score: str) -> bool:
    """True for a score computed from a proxy run's saved state rather than during the run."""
    return score not in TRAINED_SCORES


def state_epoch(score: str, score_epoch: int) -> int:
    """The epoch whose saved model state a score is computed from (0: initialisation)."""
    at = SCORES[score].at
    if at == "run":
        raise ValueError(f"{score} accumulates over the whole proxy run; it cannot come from "
                         "one saved state")
    return 0 if at == "init" else score_epoch


def state_file(epoch: int) -> str:
    """File name of the model state a proxy run saves at `epoch` (the file contract)."""
    return f"state_e{epoch}.pt"


def base_method(name: str, config: dict) -> str:
    """The registered method a name (a method or a named variant) runs."""
    variant = config.get("variants", {}).get(name)
    return variant["method"] if variant else name


def method_entry(name: str, config: dict) -> Method:
    """The METHODS entry a method or variant runs."""
    return METHODS[base_method(name, config)]


def method_options(name: str, config: dict) -> dict:
    """The options a method or variant runs with: the schema's defaults, then the config's
    `options.<method>` block, then the variant's own `options` (config already validated)."""
    base = base_method(name, config)
    options = dict(config.get("options", {}).get(base, {}))
    variant = config.get("variants", {}).get(name)
    if variant:
        options.update(variant.get("options", {}))
    return options


def method_score(name: str, config: dict) -> str | None:
    """The score file a method reads, or None when it ranks by none."""
    score = method_entry(name, config).score
    return method_options(name, config).get("score") if score == SCORE_FROM_OPTION else score


def method_fractions(name: str, fractions: list[float], config: dict | None = None) -> list[float]:
    """The fractions a method runs at: all of them, or 1 for `full` and own-budget methods."""
    entry = method_entry(name, config or {})
    if entry.kind == "reference" or entry.own_budget:
        return [1.0]
    return list(fractions)


def proxy_array_file(score: str, score_epoch: int) -> str:
    """File name a proxy run saves `score` under (the file contract)."""
    at = SCORES[score].at
    if at == "run":
        return f"{score}.npy"
    return f"{score}_e{0 if at == 'init' else score_epoch}.npy"


def embeddings_file(score_epoch: int) -> str:
    return f"embeddings_e{score_epoch}.npy"
