"""The epoch's numbers by name, brought to the host in one transfer.

The loop gathers named 1-D device arrays (each batch's loss, whether each
parameter is finite, validation metrics, ...), :func:`fetch` concatenates
them into one array, brings it to the host once and hands it back split by
name. :func:`pack` and :func:`unpack` do the same for host numbers that are
added up across processes in one message.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._typing import Array, Namespace
from ..backends import to_numpy

__all__ = ["fetch", "pack", "unpack"]


def fetch(xp: Namespace, parts: Mapping[str, Array]) -> dict[str, np.ndarray]:
    """``parts`` on the host, as float64, in one transfer."""
    names = list(parts)
    arrays = [xp.reshape(parts[k], (-1,)) for k in names]
    dtype = arrays[0].dtype
    joined = xp.concat([a if a.dtype == dtype else xp.astype(a, dtype) for a in arrays])
    host = to_numpy(joined).astype(np.float64)
    return unpack(host, {k: a for k, a in zip(names, arrays, strict=True)})


def pack(parts: Mapping[str, np.ndarray]) -> np.ndarray:
    """Host arrays as one float64 array, in the mapping's order."""
    return np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in parts.values()])


def unpack(joined: np.ndarray, like: Mapping[str, object]) -> dict[str, np.ndarray]:
    """:func:`pack`'s inverse: ``joined`` split by the names and lengths of ``like``."""
    out: dict[str, np.ndarray] = {}
    start = 0
    for name, value in like.items():
        size = int(np.prod(getattr(value, "shape", ())))
        out[name] = joined[start:start + size]
        start += size
    return out
