"""How ``n`` rows split into batches of ``size``: the one place the partition is computed.

Every batch holds ``size`` rows but the last, which holds the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["batch_bounds", "batch_count", "batch_sizes", "bounds_of"]


def batch_count(n: int, size: int) -> int:
    """How many batches ``n`` rows make."""
    return -(-n // size)


def bounds_of(b: int, n: int, size: int) -> tuple[int, int]:
    """The rows ``[lo, hi)`` of batch ``b``."""
    return b * size, min((b + 1) * size, n)


def batch_bounds(n: int, size: int) -> Iterator[tuple[int, int]]:
    """The rows ``[lo, hi)`` of every batch, in order."""
    for lo in range(0, n, size):
        yield lo, min(lo + size, n)


def batch_sizes(n: int, size: int) -> np.ndarray:
    """The number of rows of every batch, in order."""
    sizes = np.full(batch_count(n, size), size, dtype=np.int64)
    if n % size:
        sizes[-1] = n % size
    return sizes
