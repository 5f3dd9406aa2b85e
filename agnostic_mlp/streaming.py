"""Data too large for memory: checked windows of rows, read ahead in one background thread.

``fit``, ``evaluate``, ``predict`` and ``score`` take data that lies on disk (a
NumPy memmap, an HDF5 dataset, a Zarr array, a Dask array; see
:mod:`agnostic_mlp.readers`) or any array wrapped in :class:`Stream`. Such data
is read one window of rows at a time: the window is read into host memory,
checked as in-memory data is (:mod:`agnostic_mlp.data`), and moved to the
device, while the model computes on the window before it. Host and device hold
at most three windows at once, whatever the size of the data.

What is checked when: the shapes, the number of features and the dtypes are
checked before anything is read; the values (NaN, infinity, the float range,
class labels) are checked window by window as they are read, every epoch. A
bad value fails the call that reads it, naming the row; ``fit`` keeps the
model as the last completed epoch left it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .backends import Backend
from .constraints import BOOLEAN, NONE, Integer, check
from .data import as_features, as_targets
from .readers import Reader, on_disk

__all__ = ["WINDOW_BYTES", "Stream", "Streamed", "is_streamed", "open_features", "open_pair",
           "prefetched"]

#: The features read at a time when no window is given: 8 MiB. Larger windows read
#: ahead worse where BLAS keeps every core busy (benchmarks/README.md, "Streaming").
WINDOW_BYTES = 8 * 2**20


class Stream:
    """Data to read a window of rows at a time instead of whole.

    Memory-mapped, HDF5, Zarr and Dask arrays are streamed as they are; wrap
    them to choose the window, or wrap an in-memory array (say, one larger than
    the GPU's memory) to stream it to the device.

    Parameters
    ----------
    data : array-like
        Anything with ``shape``, ``dtype`` and slicing of its first axis.
    window : int, optional
        Rows read at a time; by default about 8 MiB of features. A Dask array
        is read a chunk at a time whatever this says (rechunk it to change that).
    prefetch : bool
        Read the next window in a background thread while the model computes on
        this one (True), or only when it is needed.

    Examples
    --------
    >>> import numpy as np
    >>> from agnostic_mlp import MLP, Stream
    >>> X = np.random.default_rng(0).random((1000, 2)); y = X.sum(axis=1)
    >>> model = MLP(2, [5], 1, output_activation="identity", seed=0)
    >>> history = model.fit(Stream(X, window=256), y, epochs=2, verbose=0)
    """

    def __init__(self, data: Any, *, window: int | None = None, prefetch: bool = True) -> None:
        if isinstance(data, Stream):
            data = data.data  # re-wrapped: the new window
        if isinstance(data, (list, tuple)):
            data = np.asarray(data)
        for attr in ("shape", "dtype", "__getitem__"):
            if not hasattr(data, attr):
                raise TypeError(
                    f"Stream needs an array-like with shape, dtype and slicing; a "
                    f"{type(data).__name__} has no {attr}")
        self.data: Any = data
        self.window: int | None = check(window, "window", NONE, Integer(1))
        self.prefetch: bool = check(prefetch, "prefetch", BOOLEAN)

    def __repr__(self) -> str:
        return (f"Stream({type(self.data).__name__}{tuple(self.data.shape)}, "
                f"window={self.window}, prefetch={self.prefetch})")


def is_streamed(x: Any) -> bool:
    """Whether ``x`` is read a window at a time: a :class:`Stream`, or data on disk."""
    return isinstance(x, Stream) or on_disk(x)


def _unwrap(x: Any, name: str) -> Stream:
    if isinstance(x, Stream):
        return x
    try:
        return Stream(x)
    except TypeError as exc:
        raise TypeError(f"{name} must be array-like with a shape and a dtype, got a "
                        f"{type(x).__name__}") from exc


def _reader(x: Any, name: str) -> Reader:
    try:
        reader = Reader(x)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from exc
    except (AttributeError, TypeError) as exc:
        raise TypeError(f"{name} must be array-like with a shape and a dtype: {exc}") from exc
    dtype = reader.dtype
    if isinstance(dtype, np.dtype) and dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {dtype}")
    return reader


@dataclass(frozen=True)
class Streamed:
    """Features (and targets) on disk, rows ``[lo, hi)``, checked a window at a time.

    Attributes
    ----------
    x, y : Reader
        The features; the targets, or None (for ``predict``).
    lo, hi : int
        The rows to use.
    window : int or None
        Rows per window; None for about :data:`WINDOW_BYTES` of features.
    names : (str, str)
        The arguments' names, for errors.
    prefetch : bool
        Whether the next window is read in the background.
    """

    x: Reader
    y: Reader | None
    lo: int
    hi: int
    window: int | None
    names: tuple[str, str] = ("X", "y")
    prefetch: bool = True

    @property
    def n(self) -> int:
        """Rows."""
        return self.hi - self.lo

    def rows(self, batch_size: int = 1) -> int:
        """Rows per window: the given window, or about 8 MiB (whole batches, or whole chunks)."""
        if self.window is not None:
            return self.window
        width = math.prod(self.x.shape[1:]) * self.x.itemsize
        rows = max(batch_size, WINDOW_BYTES // max(1, width) // batch_size * batch_size)
        chunk = self.x.chunk_rows
        # Whole stored chunks, as many as fit (at least one): HDF5 and Zarr decompress a
        # chunk to read any of its rows, and a window is in memory up to three times over
        # (trained on, read ahead, and released as the next arrives).
        return rows if chunk is None else max(chunk, rows // chunk * chunk)

    def ranges(self, batch_size: int = 1) -> list[tuple[int, int]]:
        """The windows, in order."""
        return list(self.x.windows(self.lo, self.hi, self.rows(batch_size)))

    def windows(self, runtime: Backend, n_outputs: int = 0, kind: str = "regression",
                ranges: list[tuple[int, int]] | None = None) -> Iterator[tuple[Any, Any]]:
        """Each window (of :meth:`ranges` by default) checked and on the device, read ahead."""
        def read(span: tuple[int, int]) -> tuple[Any, Any]:
            return self.read(runtime, span[0], span[1], n_outputs, kind)

        spans = self.ranges() if ranges is None else ranges
        return prefetched(read, spans) if self.prefetch else map(read, spans)

    def take(self, runtime: Backend, rows: np.ndarray, n_outputs: int,
             kind: str) -> tuple[Any, Any]:
        """Rows ``lo + rows`` (sorted) checked and on the device: features, then targets."""
        at = rows + self.lo
        x = _checked(runtime, self._features(runtime), self.x.take(at), at)
        t = None if self.y is None else _checked(
            runtime, self._targets(runtime, n_outputs, kind), self.y.take(at), at)
        return x, t

    def split(self, n_last: int) -> tuple[Streamed, Streamed]:
        """The rows but the last ``n_last``, and the last ``n_last``."""
        cut = self.hi - n_last
        return replace(self, hi=cut), replace(self, lo=cut)

    def read(self, runtime: Backend, lo: int, hi: int, n_outputs: int,
             kind: str) -> tuple[Any, Any]:
        """Rows ``[lo, hi)`` checked and on the device: features, then targets (or None)."""
        rows = range(lo, hi)  # only an error reads it: nothing allocated per window
        x = _checked(runtime, self._features(runtime), self.x.read(lo, hi), rows)
        t = None if self.y is None else _checked(
            runtime, self._targets(runtime, n_outputs, kind), self.y.read(lo, hi), rows)
        return x, t

    def _features(self, runtime: Backend) -> Callable[[Any], Any]:
        # Not located in the piece: _checked names the row in the whole data.
        return lambda part: as_features(runtime, part, self.x.shape[1], self.names[0],
                                        locate=False)

    def _targets(self, runtime: Backend, n_outputs: int, kind: str) -> Callable[[Any], Any]:
        return lambda part: as_targets(runtime, part, int(part.shape[0]), n_outputs, kind,
                                       self.names[1], locate=False)


def _checked(runtime: Backend, check: Callable[[Any], Any], part: Any,
             rows: Sequence[int] | np.ndarray) -> Any:
    """``check(part)``; its error, if any, names the first row at fault.

    A bad value (NaN, out of range, not a label) fails every run of rows that
    holds it: the shortest failing prefix, found by bisection, ends at it.
    Only a failing call pays for the search. An error of the data's kind or
    place (its dtype, another device) names the rows it was found in.
    """
    try:
        return check(part)
    except ValueError as exc:
        if not (runtime.owns(part) and not runtime.same_device(part)):
            good, bad = 0, len(rows)  # check(part[:bad]) fails
            while bad - good > 1:
                mid = (good + bad) // 2
                try:
                    check(part[:mid, ...])
                except ValueError:
                    bad = mid
                else:
                    good = mid
            raise _again(exc, f"at row {int(rows[bad - 1])}") from exc
        raise _again(exc, f"in rows {int(rows[0])} to {int(rows[-1])}") from exc
    except TypeError as exc:
        raise _again(exc, f"in rows {int(rows[0])} to {int(rows[-1])}") from exc


def _again(exc: Exception, where: str) -> Exception:
    """``exc``'s kind of error, its message saying ``where``."""
    message = f"{exc}, {where}"
    try:
        return type(exc)(message)
    except TypeError:  # a constructor of other arguments
        return ValueError(message) if isinstance(exc, ValueError) else TypeError(message)


def open_features(X: Any, n_features: int, name: str = "X") -> Streamed:
    """``X`` as a :class:`Streamed` without targets; its shape and dtype checked, nothing read."""
    stream = _unwrap(X, name)
    x = _reader(stream.data, name)
    if len(x.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}")
    if x.n == 0:
        raise ValueError(f"{name} has zero samples; at least one is needed")
    if x.shape[1] != n_features:
        raise ValueError(
            f"{name} has {x.shape[1]} features, but the model expects {n_features} (num_inputs)")
    return Streamed(x, None, 0, x.n, stream.window, (name, "y"), stream.prefetch)


def open_pair(X: Any, y: Any, n_features: int, n_outputs: int, kind: str = "regression",
              names: tuple[str, str] = ("X", "y")) -> Streamed:
    """``(X, y)`` as a :class:`Streamed`; shapes and dtypes checked, nothing read.

    ``kind`` is the targets' (:func:`~agnostic_mlp.data.as_targets`). The window
    and prefetching are ``X``'s, or ``y``'s if only ``y`` is a :class:`Stream`.
    """
    features = open_features(X, n_features, names[0])
    stream = _unwrap(y, names[1])
    t = _reader(stream.data, names[1])
    name = names[1]
    if len(t.shape) not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_outputs), got shape {t.shape}")
    if t.n != features.n:
        raise ValueError(f"{name} has {t.n} samples, but {names[0]} has {features.n}")
    if len(t.shape) == 2 and t.shape[1] != n_outputs:
        raise ValueError(f"{name} has {t.shape[1]} outputs per sample, but the model has "
                         f"{n_outputs} (num_outputs)")
    if len(t.shape) == 1 and n_outputs != 1 and kind != "multiclass":
        raise ValueError(f"{name} is 1-D, but the model has {n_outputs} outputs; give {name} "
                         f"the shape (n_samples, {n_outputs})")
    if isinstance(y, Stream) and not isinstance(X, Stream):
        features = replace(features, window=stream.window, prefetch=stream.prefetch)
    return replace(features, y=t, names=names)


def prefetched(fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
    """``fn(item)`` for each item in order, the next computed in a background thread.

    One thread, one item ahead: reading (and checking, and moving to the
    device) the next window overlaps the computation on this one. An error in
    ``fn`` is raised here, at its item. Stopping early waits for the item in
    flight, so nothing reads on after the caller has gone.
    """
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agnostic_mlp-read")
    try:
        ahead: Future[Any] = pool.submit(fn, items[0])
        for item in items[1:]:
            current = ahead.result()
            ahead = pool.submit(fn, item)
            yield current
        yield ahead.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

