"""What the embedding selectors (kcenter, herding) share: input checks, the device, the
per-group driver `select_greedily`, and a `Pool` that serves one class's embeddings as
mean-centred rows in bounded memory.

Both greedy loops need, per step, one inner product of every pool point with a vector
(the newest centre for kcenter, the running sum for herding). A `Pool` computes that as a
matrix-vector product. A pool of at most `chunk_size` rows is converted from the stored dtype
(float16 in `embeddings_e{k}.npy`) to the working dtype once; a larger one streams through one
reused buffer of `chunk_size` rows at every step. Memory beyond the stored array is therefore
O(chunk_size x d + n): never the k x n distance matrix DeepCore keeps.

Working dtype: float32, or float64 when the embeddings are float64 (tests compare against
brute force in float64). Rows are centred on the pool mean before use, which keeps the
expansion ||a||^2 + ||b||^2 - 2 a.b well conditioned (it cancels badly far from the origin).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from prunebench.errors import UserError

from .common import check_fraction, select_by_group

# Rows converted to the working dtype at once: 16 MiB of float32 at d = 512. A CIFAR-10 class
# (5,000 rows) is converted once; a 50,000-row pool streams through the buffer.
CHUNK_ROWS = 8192
DEVICES = ("auto", "cpu", "cuda")
_SUM_ROWS = 1024


def check_embeddings(values, labels) -> tuple[np.ndarray | Tensor, np.ndarray]:
    """Validate an (N, d) embedding array against 1-D integer labels of length N."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(
            f"labels must be a 1-D integer array, got shape {labels.shape} dtype {labels.dtype}"
        )
    if values is None:
        raise UserError("this selector needs the penultimate embeddings (embeddings_e{k}.npy) "
                        "of a proxy run; add it to the proxy's outputs")
    if not isinstance(values, Tensor):
        values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] != len(labels) or values.shape[1] < 1:
        raise UserError(
            f"embeddings have shape {tuple(values.shape)}, expected ({len(labels)}, d): one "
            "row per training example, from the same training set as the labels"
        )
    isfinite = torch.isfinite if isinstance(values, Tensor) else np.isfinite
    # In blocks: a whole-array boolean mask would be the largest allocation of a selection.
    if not all(bool(isfinite(values[s:s + 4096]).all()) for s in range(0, len(values), 4096)):
        raise UserError("embeddings contain NaN or infinite values; recompute them (a float16 "
                        "overflow shows up as inf)")
    return values, labels


def check_chunk_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or (
            chunk_size < 1):
        raise UserError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def pick_device(values, device: str) -> torch.device:
    """`auto`: the tensor's own device, else the GPU when there is one; `cuda` needs a GPU."""
    if device not in DEVICES:
        raise UserError(f"selector device {device!r}; choose one of: {', '.join(DEVICES)}")
    if device == "cpu":
        return torch.device("cpu")
    if device == "auto" and isinstance(values, Tensor):
        return values.device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if device == "cuda":
        raise UserError("selector device is 'cuda' but no GPU is visible; use auto or cpu")
    return torch.device("cpu")


def as_tensor(values, device: torch.device) -> Tensor:
    """The embeddings as a tensor on `device`, keeping a floating dtype (no float32 copy)."""
    x = values if isinstance(values, Tensor) else torch.from_numpy(np.ascontiguousarray(values))
    if not x.is_floating_point():
        x = x.float()
    return x.detach().to(device)


def pool_rows(x: Tensor, idx: np.ndarray) -> Tensor:
    """Rows `idx` (ascending) of `x`; the whole array is used as is, not copied."""
    if len(idx) == len(x):
        return x
    return x[torch.from_numpy(idx).to(x.device)]


@contextmanager
def full_precision() -> Iterator[None]:
    """No TF32 in the products (training turns it on): it would blur near-equal distances."""
    saved = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.no_grad():
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved


class Pool:
    """The rows of one selection pool, centred on their mean, read in blocks of `chunk_size`."""

    def __init__(self, rows: Tensor, chunk_size: int = CHUNK_ROWS):
        self.rows, self.chunk = rows, chunk_size
        self.n = len(rows)
        self.dtype = torch.float64 if rows.dtype == torch.float64 else torch.float32
        total = torch.zeros(rows.shape[1], dtype=torch.float64, device=rows.device)
        # Small steps: a float64 copy of a whole block would be the largest allocation here.
        for start in range(0, self.n, _SUM_ROWS):
            total += rows[start:start + _SUM_ROWS].to(torch.float64).sum(dim=0)
        self.mean = (total / self.n).to(self.dtype)
        # A pool of at most chunk_size rows is converted once. A larger one is converted block
        # by block into one reused buffer at every step: allocating a fresh block per step
        # costs more than the product itself (page faults), and reading float16 halves the
        # memory traffic, so this is as fast as a full float32 copy on a CPU.
        self._whole: Tensor | None = None
        self._buffer: Tensor | None = None
        if self.n <= chunk_size:
            self._whole = rows.to(self.dtype, copy=True).sub_(self.mean)
        else:
            self._buffer = torch.empty((chunk_size, rows.shape[1]), dtype=self.dtype,
                                       device=rows.device)
        # Squared norms of the centred rows, the fixed term of every distance (einsum: no
        # block-sized temporary).
        self.sq_norms = torch.cat([torch.einsum("ij,ij->i", b, b) for _, b in self._blocks()])

    def _blocks(self) -> Iterator[tuple[int, Tensor]]:
        """(start, centred rows) in order; a block is only valid until the next one."""
        if self._whole is not None:
            yield 0, self._whole
            return
        for start in range(0, self.n, self.chunk):
            block = self._buffer[:min(self.chunk, self.n - start)]
            # copy_ converts in place; never write into the caller's array.
            yield start, block.copy_(self.rows[start:start + len(block)]).sub_(self.mean)

    def dot(self, v: Tensor) -> Tensor:
        """Inner product of every centred row with `v` (working dtype, length d): length n."""
        out = torch.empty(self.n, dtype=self.dtype, device=v.device)
        for start, block in self._blocks():
            torch.mv(block, v, out=out[start:start + len(block)])
        return out

    def row(self, p: Tensor) -> Tensor:
        """Centred row `p` (a 0-d index tensor, so a GPU loop never waits for the host)."""
        return self.rows.index_select(0, p.view(1))[0].to(self.dtype) - self.mean


def select_greedily(values, labels: np.ndarray, fraction: float, *, class_balanced: bool,
                    chunk_size: int, device: str,
                    greedy: Callable[[Pool, np.ndarray, int], Tensor]) -> np.ndarray:
    """What select_kcenter and select_herding share: check their inputs, then run `greedy`
    (pool, the group's indices, quota) -> positions picked in the pool, on each group (each
    class, or everything) in ascending class order, in full precision. Sorted int64 indices."""
    check_fraction(fraction)
    chunk_size = check_chunk_size(chunk_size)
    values, labels = check_embeddings(values, labels)
    x = as_tensor(values, pick_device(values, device))

    def rule(idx: np.ndarray, q: int) -> np.ndarray:
        return idx[greedy(Pool(pool_rows(x, idx), chunk_size), idx, q).cpu().numpy()]

    with full_precision():
        return select_by_group(labels, fraction, class_balanced, rule)
