"""Per-example scores for static data pruning (Data Diet, forgetting).

The registry of score names is `prunebench.methods.SCORES` (torch-free, read by the workflow);
each name points at a scorer class in one of these modules, speaking `protocol.Scorer`.
"""

from .el2n import el2n_scores
from .forgetting import ForgettingTracker
from .grand import grand_last_scores, grand_scores

__all__ = ["ForgettingTracker", "el2n_scores", "grand_last_scores", "grand_scores"]
