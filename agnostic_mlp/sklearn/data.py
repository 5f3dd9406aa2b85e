"""The estimators' data: dense on the device (the loop's ``Dataset``), or scipy.sparse
on the host, densified a batch at a time (:class:`SparseDataset`).

A sparse matrix is never densified whole: each batch's rows are densified
and sent to the device as a :class:`~agnostic_mlp.training.epoch.Block` of
one batch (the runners read blocks lazily); outputs are computed in chunks.
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
from ..data import check_narrowing
from ..engine import Params, forward
from ..streaming import is_streamed, open_features, open_pair
from ..training.batches import batch_bounds
from ..training.epoch import Block
from ..training.lbfgs import Batches, whole
from ..training.loop import Dataset, Rows
from ..training.streamed import StreamedDataset, pieces
from .placement import NARROWING_ADVICE

__all__ = [
    "CHUNK_BYTES",
    "Data",
    "SparseDataset",
    "dataset",
    "full_batch",
    "outputs",
    "outputs_and_targets",
    "streamed_shape",
    "take",
]

#: The most bytes of dense features one chunk of a sparse matrix becomes at prediction.
CHUNK_BYTES = 32 * 2**20

@dataclass(frozen=True)
class SparseDataset(Rows):
    """A CSR matrix on the host, with device targets and optional weights."""

    x: Any
    y: Array
    weights: Array | None = None

    def sample(self, runtime: Backend, rows: np.ndarray) -> tuple[list[Array], list[list[int]]]:
        """The rows ``rows`` of every array (features densified), and the arrays' shapes."""
        idx = runtime.put(rows)
        arrays = [runtime.asarray(self.x[rows].toarray()), runtime.xp.take(self.y, idx, axis=0)]
        if self.weights is not None:
            arrays.append(runtime.xp.take(self.weights, idx, axis=0))
        shapes = [[self.n, int(self.x.shape[1])], [self.n, self.n_outputs]]
        return arrays, shapes + ([[self.n]] if self.weights is not None else [])

    def blocks(self, runtime: Backend, rng: np.random.Generator, shuffle: bool,
               batch_size: int) -> _SparseEpoch:
        """The epoch's blocks, in a fresh order drawn from ``rng`` if ``shuffle``."""
        return self.ordered(runtime, rng.permutation(self.n) if shuffle else None, batch_size)

    def ordered(self, runtime: Backend, index: np.ndarray | None,
                batch_size: int) -> _SparseEpoch:
        """The epoch's blocks, one a batch, with the rows in the host order ``index``."""
        order = None if index is None else runtime.put(index)
        return _SparseEpoch(self, runtime, index, order, batch_size)


@dataclass(frozen=True)
class _SparseEpoch:
    """One epoch's batches of a :class:`SparseDataset`, densified as they are iterated."""

    data: SparseDataset
    runtime: Backend
    index: np.ndarray | None
    order: Array | None
    batch_size: int

    def __iter__(self) -> Iterator[Block]:
        xp, data, bs = self.runtime.xp, self.data, self.batch_size
        y, w = data.y, data.weights
        for lo, hi in batch_bounds(data.n, bs):
            if self.index is None or self.order is None:
                rows = data.x[lo:hi]
                yb, wb = y[lo:hi, ...], None if w is None else w[lo:hi]
            else:
                rows = data.x[self.index[lo:hi]]
                idx = self.order[lo:hi]
                yb = xp.take(y, idx, axis=0)
                wb = None if w is None else xp.take(w, idx, axis=0)
            yield Block(self.runtime.asarray(rows.toarray()), yb, wb, None, bs)


#: The estimators' training and validation data.
Data = Dataset | SparseDataset | StreamedDataset


def dataset(runtime: Backend, X: Any, y: Array, weights: Array | None) -> Data:
    """Validated features with their device targets: a sparse matrix stays on the host (as
    CSR), data on disk is read a window at a time, dense data goes to the device in the
    model's dtype (no copy where it is there)."""
    if is_streamed(X):
        if weights is not None:
            raise ValueError("sample_weight and class_weight are not supported with streamed X "
                             "(data on disk or in a Stream); fit on data in memory to weight "
                             "samples")
        n_outputs = int(y.shape[1])
        # The targets are already encoded and checked: their windows are sliced as they are.
        pair = open_pair(X, y, int(streamed_shape(X)[1]), n_outputs)
        return StreamedDataset(pair, n_outputs, "regression")
    if sp.issparse(X):
        return SparseDataset(sparse_features(runtime, X), y, weights)
    return Dataset(features(runtime, X), y, weights)


def sparse_features(runtime: Backend, X: Any) -> Any:
    """A validated sparse matrix as CSR, its values checked to fit the model's dtype (each
    batch is cast to it as it is densified)."""
    X = sp.csr_matrix(X)
    check_narrowing(X.data, runtime.dtype_name, "X", NARROWING_ADVICE)
    return X


def features(runtime: Backend, X: Any) -> Array:
    """Validated dense features on the device, in the model's dtype (no copy where they are).

    Raises
    ------
    InvalidArgumentError
        If a value would become infinite in the model's dtype (float64 data, a
        float32 estimator), naming ``X``.
    """
    check_narrowing(X, runtime.dtype_name, "X", NARROWING_ADVICE)
    if not runtime.holds(X):
        return runtime.xp.asarray(X, dtype=runtime.dtype, device=runtime.device)
    return X if X.dtype == runtime.dtype else runtime.xp.astype(X, runtime.dtype)


def streamed_shape(X: Any) -> tuple[int, ...]:
    """The shape of streamed features (an array on disk, or in a :class:`~agnostic_mlp.Stream`)."""
    return tuple(int(d) for d in getattr(X, "data", X).shape)


def take(runtime: Backend, data: Dataset | SparseDataset, index: np.ndarray
         ) -> Dataset | SparseDataset:
    """The rows at the host indices ``index``, in that order."""
    xp = runtime.xp
    idx = runtime.put(index)
    y = xp.take(data.y, idx, axis=0)
    w = None if data.weights is None else xp.take(data.weights, idx, axis=0)
    if isinstance(data, SparseDataset):
        return SparseDataset(data.x[index], y, w)
    return Dataset(xp.take(data.x, idx, axis=0), y, w)


def outputs(runtime: Backend, activations: Sequence[Activation], params: Params,
            X: Any) -> Array:
    """The network's outputs for every row of device features, a sparse matrix, or streamed
    features (read a window at a time, each window a piece at a time)."""
    xp = runtime.xp
    if is_streamed(X):
        features = open_features(X, int(params.weights[0].shape[0]))
        return xp.concat([forward(xp, activations, params, x)[0]
                          for window in features.windows(runtime)
                          for x, _ in pieces(params, *window)], axis=0)
    if not sp.issparse(X):
        return forward(xp, activations, params, X)[0]
    X = sparse_features(runtime, X)
    step = max(1, CHUNK_BYTES // (8 * max(1, int(X.shape[1]))))
    outs = [forward(xp, activations, params, runtime.asarray(X[lo:hi].toarray()))[0]
            for lo, hi in batch_bounds(int(X.shape[0]), step)]
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)


def full_batch(runtime: Backend, data: Data, params: Params) -> Batches:
    """The whole of ``data`` in device pieces, anew at each call: full-batch L-BFGS's
    ``batches`` (:func:`~agnostic_mlp.training.lbfgs.minimize_lbfgs`).

    Dense data in memory is one piece (scikit-learn's own rounding), data on disk a
    window at a time (:func:`~agnostic_mlp.training.lbfgs.whole`); a sparse matrix
    comes in densified runs of rows of at most :data:`CHUNK_BYTES`.
    """
    if not isinstance(data, SparseDataset):
        return whole(runtime, data, params)
    sparse = data
    step = max(1, CHUNK_BYTES // (8 * max(1, int(sparse.x.shape[1]))))

    def chunks() -> Iterator[tuple[Array, Array, Array | None]]:
        y, w = sparse.y, sparse.weights
        for lo in range(0, sparse.n, step):
            hi = min(lo + step, sparse.n)
            yield (runtime.asarray(sparse.x[lo:hi].toarray()), y[lo:hi, ...],
                   None if w is None else w[lo:hi])
    return chunks


def outputs_and_targets(runtime: Backend, activations: Sequence[Activation], params: Params,
                        data: Data) -> tuple[Array, Array]:
    """The network's outputs for every row of ``data``, and its targets (gathered from the
    windows of streamed data: only the outputs and targets are held whole)."""
    if not isinstance(data, StreamedDataset):
        return outputs(runtime, activations, params, data.x), data.y
    xp = runtime.xp
    outs, targets = [], []
    for window in data.data.windows(runtime, data.n_outputs, data.kind):
        for x, t in pieces(params, *window):
            outs.append(forward(xp, activations, params, x)[0])
            targets.append(t)
    return xp.concat(outs, axis=0), xp.concat(targets, axis=0)
