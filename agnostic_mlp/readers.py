"""Reading rows of data that lies on disk: what differs between the kinds of array.

A :class:`Reader` reads one contiguous range of rows of a NumPy memmap, an
HDF5 dataset (h5py), a Zarr array, a Dask array or any array-like with
``shape``, ``dtype`` and slicing, into host memory. None of those libraries is
imported here: they are known by their types' modules and attributes.

- A Dask array is read one chunk at a time, each computed with Dask's own
  scheduler (never ``compute()`` of the whole array); its windows are its chunks.
- A memory-mapped array is read by copying the rows out of the mapping, after
  which the mapping's pages are dropped from the process (``MADV_DONTNEED``):
  the file stays in the operating system's page cache, but not in this
  process's resident memory.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["Reader", "on_disk"]


def _library(x: Any) -> str:
    return type(x).__module__.split(".")[0]


def on_disk(x: Any) -> bool:
    """Whether ``x`` is data to read a window at a time rather than take whole.

    True for a :class:`numpy.memmap`, an ``h5py.Dataset``, a ``zarr.Array`` and
    a ``dask.array.Array``.
    """
    if isinstance(x, np.memmap):
        return True
    return _library(x) in ("h5py", "zarr", "dask") and all(
        hasattr(x, a) for a in ("shape", "dtype", "__getitem__"))


def _mapping(x: Any) -> mmap.mmap | None:
    """The shared, file-backed mapping under a memmap (or a view of one), else None."""
    mode = getattr(x, "mode", None)
    base = x
    while isinstance(base, np.ndarray):
        mode = getattr(base, "mode", mode)
        base = base.base
    # Private ("c", copy-on-write) mappings would lose their changes: left alone.
    return base if isinstance(base, mmap.mmap) and mode in ("r", "r+", "w+") else None


class Reader:
    """Rows ``[lo, hi)`` of an array-like, as NumPy arrays (or the backend's own slices).

    Parameters
    ----------
    source : array-like
        Anything with ``shape``, ``dtype`` and slicing of its first axis; an
        in-memory array (NumPy, a list, the model's own arrays) is sliced as it is.
    """

    def __init__(self, source: Any) -> None:
        if isinstance(source, (list, tuple)):
            source = np.asarray(source)
        self.source = source
        self.shape: tuple[int, ...] = tuple(int(s) for s in source.shape)
        self.dtype = source.dtype
        self.dask = _library(source) == "dask" and hasattr(source, "chunks")
        self._mmap = _mapping(source) if isinstance(source, np.memmap) else None

    @property
    def n(self) -> int:
        """Rows."""
        return self.shape[0] if self.shape else 0

    def read(self, lo: int, hi: int) -> Any:
        """Rows ``lo`` to ``hi`` (exclusive), in host memory (or the backend's own)."""
        part = self.source[lo:hi]
        if self.dask:
            return np.asarray(part.compute())
        if isinstance(self.source, np.ndarray) and not isinstance(self.source, np.memmap):
            return part  # in memory already
        out = np.array(part)  # a copy: the mapping's pages may go
        if self._mmap is not None:
            # Closed, or no madvise on this platform: the pages merely stay.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._mmap.madvise(mmap.MADV_DONTNEED)
        return out

    def take(self, rows: np.ndarray) -> Any:
        """The rows ``rows`` (sorted, distinct), in host memory (a sample of the data)."""
        src = self.source
        if self.dask:
            return np.asarray(src[rows].compute())
        if isinstance(src, np.ndarray):
            return src[rows]  # a copy
        if hasattr(src, "oindex"):  # Zarr's selection of whole rows
            return np.asarray(src.oindex[rows])
        return np.concatenate([np.asarray(src[int(r):int(r) + 1]) for r in rows])

    def boundaries(self) -> list[int] | None:
        """A Dask array's chunk edges along the rows, else None."""
        if not self.dask:
            return None
        return [int(e) for e in np.cumsum((0, *self.source.chunks[0]))]

    def windows(self, lo: int, hi: int, rows: int) -> Iterator[tuple[int, int]]:
        """Ranges that cover ``[lo, hi)``: a Dask array's chunks, else ``rows`` at a time."""
        edges = self.boundaries()
        if edges is None:
            edges = list(range(lo, hi, rows))
        cuts = sorted({lo, hi, *(e for e in edges if lo < e < hi)})
        yield from itertools.pairwise(cuts)
