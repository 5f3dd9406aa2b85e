"""Feature rows: dense on the device, or scipy.sparse on the host, densified a batch at a time.

A sparse matrix is never densified whole: training takes each batch's rows,
densifies them and sends them to the device as one :class:`Block` of one batch
(the runners read blocks lazily); prediction does the same in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._typing import Array
from ..activations import Activation
from ..backends import Backend
from ..engine import Params, forward
from ..training.epoch import Block

__all__ = ["CHUNK_BYTES", "DenseRows", "Rows", "SparseRows", "rows_of"]

#: The most bytes of dense features one chunk of a sparse matrix becomes at prediction.
CHUNK_BYTES = 32 * 2**20


class Rows:
    """Features, row by row: what training and prediction need of them."""

    @property
    def n(self) -> int:
        """Rows."""
        raise NotImplementedError

    def take(self, runtime: Backend, index: np.ndarray) -> Rows:
        """The rows at the host indices ``index``, in that order."""
        raise NotImplementedError

    def blocks(self, runtime: Backend, y: Array, weights: Array | None,
               index: np.ndarray | None, order: Array | None,
               batch_size: int) -> Iterator[Block]:
        """An epoch's blocks: batches of ``batch_size`` rows in the order ``index``
        (its device copy ``order``), or in order when None."""
        raise NotImplementedError

    def forward(self, runtime: Backend, activations: Sequence[Activation],
                params: Params) -> Array:
        """The network's outputs for every row, on the device."""
        raise NotImplementedError


@dataclass(frozen=True)
class DenseRows(Rows):
    """A dense device array."""

    x: Array

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def take(self, runtime: Backend, index: np.ndarray) -> DenseRows:
        idx = runtime.xp.asarray(index, device=runtime.device)
        return DenseRows(runtime.xp.take(self.x, idx, axis=0))

    def blocks(self, runtime: Backend, y: Array, weights: Array | None,
               index: np.ndarray | None, order: Array | None,
               batch_size: int) -> Iterator[Block]:
        yield Block(self.x, y, weights, order, batch_size)

    def forward(self, runtime: Backend, activations: Sequence[Activation],
                params: Params) -> Array:
        return forward(runtime.xp, activations, params, self.x)[0]


@dataclass(frozen=True)
class SparseRows(Rows):
    """A CSR matrix on the host."""

    x: Any

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def take(self, runtime: Backend, index: np.ndarray) -> SparseRows:
        return SparseRows(self.x[index])

    def blocks(self, runtime: Backend, y: Array, weights: Array | None,
               index: np.ndarray | None, order: Array | None,
               batch_size: int) -> Iterator[Block]:
        xp = runtime.xp
        for lo in range(0, self.n, batch_size):
            hi = min(lo + batch_size, self.n)
            if index is None or order is None:
                rows = self.x[lo:hi]
                yb, wb = y[lo:hi, ...], None if weights is None else weights[lo:hi]
            else:
                rows = self.x[index[lo:hi]]
                idx = order[lo:hi]
                yb = xp.take(y, idx, axis=0)
                wb = None if weights is None else xp.take(weights, idx, axis=0)
            yield Block(runtime.asarray(rows.toarray()), yb, wb, None, batch_size)

    def forward(self, runtime: Backend, activations: Sequence[Activation],
                params: Params) -> Array:
        xp = runtime.xp
        step = max(1, CHUNK_BYTES // (8 * max(1, int(self.x.shape[1]))))
        outs = [forward(xp, activations, params, runtime.asarray(self.x[lo:lo + step].toarray()))[0]
                for lo in range(0, self.n, step)]
        return outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)


def rows_of(runtime: Backend, X: Any) -> Rows:
    """Validated features as rows: a sparse matrix stays on the host (as CSR), dense data
    goes to the device in the model's dtype (without a copy where it already is there)."""
    if sp.issparse(X):
        return SparseRows(sp.csr_matrix(X))
    xp = runtime.xp
    if runtime.owns(X) and not isinstance(X, np.ndarray):
        return DenseRows(X if X.dtype == runtime.dtype else xp.astype(X, runtime.dtype))
    return DenseRows(xp.asarray(X, dtype=runtime.dtype, device=runtime.device))
