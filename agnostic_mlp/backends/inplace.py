"""The in-place descent of a CPU's writeable arrays (see :attr:`Backend.in_place_descent`).

Used by the training loop only where a backend offers it and a same-process A/B
measured a gain (benchmarks/README.md).
"""

from __future__ import annotations

from .._typing import Array, Namespace

__all__ = ["DESCENT_BLOCK_BYTES", "descend_in_place"]

# On a CPU, a large weight gradient is subtracted in row blocks of at most this
# many bytes: each block is still in cache when it is subtracted, and stays below
# glibc's 32 MiB threshold for reusing freed memory (a fresh mapping would
# page-fault on every step).
DESCENT_BLOCK_BYTES = 16 * 2**20


def descend_in_place(xp: Namespace, w: Array, a: Array, delta: Array,
                     beta: float = 1.0) -> Array:
    """``w = beta * w - a.T @ delta`` in place, in row blocks of ``DESCENT_BLOCK_BYTES`` at
    most."""
    if beta != 1.0:
        w *= beta
    n_in, n_out = w.shape
    if n_in * n_out * 8 <= DESCENT_BLOCK_BYTES:  # most layers: whole, whatever the dtype
        w -= xp.matmul(a.T, delta)
        return w
    itemsize = 8 if w.dtype == xp.float64 else 4
    rows = max(1, DESCENT_BLOCK_BYTES // (itemsize * n_out))
    for lo in range(0, n_in, rows):
        hi = min(lo + rows, n_in)
        w[lo:hi, :] -= xp.matmul(a[:, lo:hi].T, delta)
    return w
