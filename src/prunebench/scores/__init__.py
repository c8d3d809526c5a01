"""Per-example scores for static data pruning (Data Diet, forgetting) and their registry."""

from .el2n import el2n_scores
from .forgetting import ForgettingTracker
from .grand import grand_last_scores, grand_scores

# Score name -> metadata. "needs_epoch": the score is taken from a proxy checkpoint at a
# chosen epoch k (grand_init is pinned to k=0, forgetting spans the whole proxy run).
SCORERS: dict[str, dict] = {
    "el2n": {"needs_epoch": True, "description": "EL2N at epoch k"},
    "el2n_sum": {
        "needs_epoch": True,
        "description": "sum of per-epoch EL2N over epochs 1..k, as CCS computes it",
    },
    "grand": {"needs_epoch": True, "description": "GraNd over all parameters at epoch k"},
    "grand_init": {
        "needs_epoch": False,
        "description": "GraNd over all parameters at initialisation (k=0)",
    },
    "grand_last": {"needs_epoch": True, "description": "closed-form last-layer GraNd at epoch k"},
    "forgetting": {"needs_epoch": False, "description": "forgetting events over the proxy run"},
}

__all__ = ["SCORERS", "ForgettingTracker", "el2n_scores", "grand_last_scores", "grand_scores"]
