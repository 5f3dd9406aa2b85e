"""The host buffer that device arrays cross a communicator through."""

from __future__ import annotations

import numpy as np

from .._typing import Array
from ..backends import Backend

__all__ = ["HostBuffer"]


class HostBuffer:
    """One host array that 1-D arrays of a backend's device are copied through.

    Page-locked ("pinned") where the device has such memory (a CUDA GPU), so
    that the copies run at the link's speed; plain NumPy memory otherwise.

    Attributes
    ----------
    array : numpy.ndarray
        ``n`` numbers of the backend's dtype.
    pinned : bool
        Whether ``array`` is page-locked.
    """

    def __init__(self, runtime: Backend, n: int) -> None:
        self.runtime = runtime
        pinned = runtime.pinned_empty(n)
        self.pinned = pinned is not None
        self.array: np.ndarray = (pinned if pinned is not None
                                  else np.empty(n, np.dtype(runtime.dtype_name)))

    def load(self, x: Array) -> np.ndarray:
        """Copy the 1-D device array ``x`` into :attr:`array` (one transfer); return it."""
        self.runtime.fetch_into(x, self.array)
        return self.array

    def store(self) -> Array:
        """:attr:`array` copied to a new array on the device (one transfer)."""
        return self.runtime.device_copy(self.array)
