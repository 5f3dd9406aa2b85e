"""Training data streamed from disk, as the loop sees it: each window becomes a block.

An epoch reads the windows (:mod:`agnostic_mlp.streaming`) and hands each to
the runner as a :class:`~agnostic_mlp.training.epoch.Block`. Batches are
``batch_size`` consecutive rows of the data's order whatever the windows: rows
left over at a window's end start the next window's first batch. So an
unshuffled epoch trains on exactly the batches of the same data in memory.

Shuffling is a block shuffle, as Dask's and ``tf.data``'s: the order of the
windows is drawn each epoch, then the order of the rows within each window.
A batch therefore holds rows of one window (or two, where they meet), not
rows drawn from the whole data set; windows of many batches make the
difference small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._typing import Array
from ..backends import Backend
from ..engine import Objective, Params, evaluate
from ..streaming import WINDOW_BYTES, Streamed
from .batches import batch_bounds, batch_count
from .epoch import Block

__all__ = ["StreamedDataset", "pieces"]


def pieces(params: Params, x: Array, t: Array | None = None
           ) -> Iterator[tuple[Array, Array | None]]:
    """``x`` (and ``t``) in runs of rows whose activations take about a window's bytes.

    A window holds ``WINDOW_BYTES`` of features; its activations in a wide layer
    would take many times that, so inference over streamed data goes a piece
    at a time.
    """
    width = max(int(w.shape[1]) for w in params.weights)
    rows = max(1, WINDOW_BYTES // (8 * width))
    for lo, hi in batch_bounds(int(x.shape[0]), rows):
        yield x[lo:hi, ...], None if t is None else t[lo:hi, ...]


@dataclass(frozen=True)
class StreamedDataset:
    """Features and targets on disk, checked and moved to the device a window at a time.

    Attributes
    ----------
    data : Streamed
    n_outputs : int
    kind : str
        The targets' kind (``"regression"``, ``"binary"`` or ``"multiclass"``).
    """

    data: Streamed
    n_outputs: int
    kind: str
    weights: None = None

    @property
    def n(self) -> int:
        """Rows."""
        return self.data.n

    def n_batches(self, batch_size: int) -> int:
        """Batches of ``batch_size`` per epoch."""
        return batch_count(self.n, batch_size)

    def blocks(self, runtime: Backend, rng: np.random.Generator | None, shuffle: bool,
               batch_size: int) -> _Epoch:
        """One epoch's blocks, read as they are iterated (again, identically, if iterated again).

        With ``shuffle``, the order of the windows and a seed for the rows'
        orders within them are drawn from ``rng`` now.
        """
        ranges = self.data.ranges(batch_size)
        seed = None
        if shuffle:
            assert rng is not None
            ranges = [ranges[i] for i in rng.permutation(len(ranges))]
            seed = int(rng.integers(2**63))
        return _Epoch(self, runtime, ranges, batch_size, seed)

    def layout(self, batch_size: int) -> str:
        """The windows, in a few words: what a shuffled run's batches depend on."""
        ranges = self.data.ranges(batch_size)
        edges = ",".join(str(lo) for lo, _ in ranges)
        digest = hashlib.sha256(edges.encode()).hexdigest()[:12]
        n = len(ranges)
        return (f"{n} window{'s' if n > 1 else ''} of up to "
                f"{max(hi - lo for lo, hi in ranges)} rows ({digest})")

    def split(self, n_last: int) -> tuple[StreamedDataset, StreamedDataset]:
        """The rows but the last ``n_last``, and the last ``n_last``."""
        head, tail = self.data.split(n_last)
        return (StreamedDataset(head, self.n_outputs, self.kind),
                StreamedDataset(tail, self.n_outputs, self.kind))

    def sample(self, runtime: Backend, rows: np.ndarray) -> tuple[list[Array], list[list[int]]]:
        """The rows ``rows``, checked and on the device, and the shapes of the whole data."""
        x, t = self.data.take(runtime, rows, self.n_outputs, self.kind)
        return [x, t], [[self.n, int(x.shape[1])], [self.n, self.n_outputs]]

    def windows(self, runtime: Backend) -> Iterator[tuple[Array, Array]]:
        """Each window, checked and on the device, read ahead."""
        return self.data.windows(runtime, self.n_outputs, self.kind)

    def metrics(self, runtime: Backend, objective: Objective, params: Params) -> Array:
        """The mean loss (and accuracy for classifiers) over every window, on the device."""
        xp = runtime.xp
        total = None
        for window in self.data.windows(runtime, self.n_outputs, self.kind):
            for x, t in pieces(params, *window):
                values = evaluate(xp, objective.activations, objective.loss, params, x,
                                  t).values()
                part = xp.stack([xp.astype(v, runtime.dtype) for v in values]) * float(
                    x.shape[0])
                total = part if total is None else total + part
        assert total is not None  # a streamed data set has a window
        return total / float(self.n)


@dataclass(frozen=True)
class _Epoch:
    """The blocks of one epoch of a :class:`StreamedDataset`; each iteration reads them anew."""

    dataset: StreamedDataset
    runtime: Backend
    ranges: list[tuple[int, int]]
    batch_size: int
    seed: int | None

    def __iter__(self) -> Iterator[Block]:
        xp, runtime, bs = self.runtime.xp, self.runtime, self.batch_size
        data = self.dataset
        rng = None if self.seed is None else np.random.default_rng(self.seed)
        carry: tuple[Array, Array] | None = None
        last = len(self.ranges) - 1
        for i, (x, t) in enumerate(data.data.windows(runtime, data.n_outputs, data.kind,
                                                     self.ranges)):
            m = int(x.shape[0])
            perm = None if rng is None else rng.permutation(m)
            if carry is not None:  # the rows the last window left start this one's batches
                r = int(carry[0].shape[0])
                x, t = xp.concat([carry[0], x], axis=0), xp.concat([carry[1], t], axis=0)
                if perm is not None:
                    perm = np.concatenate([np.arange(r), perm + r])
                m += r
            full = m if i == last else m // bs * bs
            order = None if perm is None else runtime.put(perm)
            carry = None
            if full < m:
                if order is None:
                    carry = (xp.asarray(x[full:, ...], copy=True),
                             xp.asarray(t[full:, ...], copy=True))
                else:
                    rest = order[full:]
                    carry = (xp.take(x, rest, axis=0), xp.take(t, rest, axis=0))
            if full == 0:
                continue
            if order is None:
                yield Block(x[:full, ...], t[:full, ...], None, None, bs)
            else:
                yield Block(x, t, None, order[:full], bs)
