"""Reading rows of data that lies on disk: what differs between the kinds of array.

A :class:`Reader` reads one contiguous range of rows of a NumPy memmap, an
HDF5 dataset (h5py), a Zarr array, a Dask array or any array-like with
``shape``, ``dtype`` and slicing, into host memory. None of those libraries is
imported here: they are known by their types' modules and attributes.

- A Dask array is read one chunk at a time, each computed with Dask's own
  scheduler (never ``compute()`` of the whole array); its windows are its chunks.
- A memory-mapped array (a whole ``.npy`` or raw file) is read from its file
  with one ``readinto`` per window: no page of the mapping is touched. A view
  of one (a slice, a transpose) is copied out of the mapping, after which the
  mapping's pages are dropped from the process (``MADV_DONTNEED``). Either way
  the file may stay in the operating system's page cache, but not in this
  process's resident memory.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import mmap
import os
from collections.abc import Iterator
from typing import Any

import array_api_compat
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


def _file_of(x: Any) -> tuple[str, int] | None:
    """``(path, offset)`` of a memmap that is a whole C-ordered file's array, else None."""
    if not isinstance(x, np.memmap) or not isinstance(x.base, mmap.mmap):
        return None  # a view's offset and filename are its parent's
    if x.mode not in ("r", "r+", "w+"):
        return None  # copy-on-write: what the user wrote is in memory, not in the file
    path = getattr(x, "filename", None)
    if path is None or not x.flags.c_contiguous or not os.path.isfile(path):
        return None
    if x.dtype.hasobject or os.path.getsize(path) < x.offset + x.nbytes:
        return None
    return str(path), int(x.offset)


class Reader:
    """Rows ``[lo, hi)`` of an array-like, as NumPy arrays (or the backend's own slices).

    Parameters
    ----------
    source : array-like
        Anything with ``shape``, ``dtype`` and slicing of its first axis; an
        in-memory array (NumPy, a list, the model's own arrays) is sliced as it is.

    Raises
    ------
    ValueError
        For a Dask array whose chunk sizes are unknown.
    """

    def __init__(self, source: Any) -> None:
        if isinstance(source, (list, tuple)):
            source = np.asarray(source)
        self.source = source
        self.dask = _library(source) == "dask" and hasattr(source, "chunks")
        if self.dask and any(math.isnan(c) for c in source.chunks[0]):
            raise ValueError("is a Dask array of unknown chunk sizes: call "
                             "compute_chunk_sizes() on it first")
        self.shape: tuple[int, ...] = tuple(int(s) for s in source.shape)
        self.dtype = source.dtype
        self._mmap = _mapping(source) if isinstance(source, np.memmap) else None
        self._file = _file_of(source)
        # In-memory arrays of any Array API library are sliced as the standard says
        # (every axis named) and stay what they are; other array-likes get plain slices.
        self._array = (array_api_compat.is_array_api_obj(source) and not self.dask
                       and not isinstance(source, np.memmap))

    @property
    def n(self) -> int:
        """Rows."""
        return self.shape[0] if self.shape else 0

    @property
    def itemsize(self) -> int:
        """Bytes per element: NumPy's dtypes, or the standard's ``finfo``/``iinfo``."""
        try:
            return int(np.dtype(self.dtype).itemsize)
        except TypeError:
            pass
        if self._array:
            xp = array_api_compat.array_namespace(self.source)
            for info in (xp.finfo, xp.iinfo):
                try:
                    return int(info(self.dtype).bits) // 8
                except (TypeError, ValueError):
                    pass
        return 8  # a bool or an unknown kind: at most this

    def read(self, lo: int, hi: int) -> Any:
        """Rows ``lo`` to ``hi`` (exclusive), in host memory (or the backend's own)."""
        if self._array:
            return self.source[lo:hi, ...]  # in memory already
        if self._file is not None:
            return self._from_file(lo, hi)
        part = self.source[lo:hi]
        if self.dask:
            return np.asarray(part.compute())
        if self._mmap is None and type(part) is np.ndarray and part.base is None:
            return part  # HDF5's and Zarr's reads are fresh arrays already: no second copy
        out = np.array(part)  # a copy: the mapping's pages may go
        if self._mmap is not None:
            # Closed, or no madvise on this platform: the pages merely stay.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._mmap.madvise(mmap.MADV_DONTNEED)
        return out

    def _from_file(self, lo: int, hi: int) -> np.ndarray:
        assert self._file is not None
        path, offset = self._file
        out = np.empty((hi - lo, *self.shape[1:]), dtype=self.dtype)
        row = out.itemsize * math.prod(self.shape[1:])
        with open(path, "rb", buffering=0) as f:
            f.seek(offset + lo * row)
            view = memoryview(out.reshape(-1).view(np.uint8).data)
            done = 0
            while done < len(view):  # readinto may return less than asked
                got = f.readinto(view[done:])
                if not got:
                    raise OSError(f"{path} ended early: is the file still being written?")
                done += got
        return out

    def take(self, rows: np.ndarray) -> Any:
        """The rows ``rows`` (sorted, distinct): a sample of the data, read row by row.

        One row at a time, as :meth:`read` reads: a memmap's pages are let go, and
        an HDF5 or Zarr array holds one chunk at a time.
        """
        if self.dask:
            return np.asarray(self.source[rows].compute())
        # A stored chunk is read once for all the sampled rows it holds.
        size = self.chunk_rows or 1
        parts = []
        for group in np.split(rows, np.flatnonzero(np.diff(rows // size)) + 1):
            lo, hi = int(group[0]), int(group[-1]) + 1
            part = self.read(lo, hi)
            parts.append(part if hi - lo == len(group) else part[group - lo, ...])
        if self._array:
            xp = array_api_compat.array_namespace(parts[0])
            return xp.concat(parts, axis=0)
        return np.concatenate(parts)

    @property
    def chunk_rows(self) -> int | None:
        """Rows per stored chunk of an HDF5 or Zarr array (read whole by those libraries)."""
        chunks = getattr(self.source, "chunks", None)
        if self.dask or not isinstance(chunks, tuple) or not chunks:
            return None
        return int(chunks[0]) if isinstance(chunks[0], (int, np.integer)) else None

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
