"""prunebench's methods in your own code: `import prunebench as pb` (docs/library.md).

- `score(name, model, x, y)`: a registered score of a model state (the proxy job's scorers);
  `ForgettingTracker` and `ScoreTracker` for the scores counted over training.
- `select(method, fraction, labels, scores=..., embeddings=...)`: a static method's subset (the
  select job's `select_subset`).
- `DynamicMethod(method, model, x, y, fraction=..., batch_size=..., epochs=...)`: a dynamic
  method your loop asks for each step's batch (the training job's samplers).
- `available_methods()`, `available_scores()`: the registries, with options and defaults.

The composition root of the library, like the CLI for the workflow: it imports the layers
below and nothing in the package imports it (`prunebench/__init__.py` loads it lazily, so
`import prunebench` alone loads no torch).
"""

from ..errors import UserError
from ..train.samplers import Batch, SelectionRecord
from .dynamic import DynamicMethod
from .registry import MethodInfo, OptionInfo, ScoreInfo, available_methods, available_scores
from .scoring import ForgettingTracker, ScoreTracker, score
from .static import select

__all__ = ["Batch", "DynamicMethod", "ForgettingTracker", "MethodInfo", "OptionInfo",
           "ScoreInfo", "ScoreTracker", "SelectionRecord", "UserError", "available_methods",
           "available_scores", "score", "select"]
