"""NumPy, on the CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import openblas
from .base import Backend, Descend

__all__ = ["NumPyBackend"]

_IS_ARRAY_API = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 1)


class NumPyBackend(Backend):
    """NumPy's arrays: host memory, shared where the library only reads it."""

    module = "numpy"
    install = "pip install numpy"

    @classmethod
    def load_namespace(cls, name: str) -> Any:
        """NumPy itself from 2.1 on, an Array API namespace: skipping array-api-compat's
        wrappers saves a Python call per operation, which small networks feel."""
        return np if _IS_ARRAY_API else super().load_namespace(name)

    def fused_descent(self) -> Descend | None:
        """One ``?gemm`` of NumPy's own OpenBLAS (:mod:`.openblas`), where it is found."""
        return openblas.descend if openblas.available() else None

    def host_view(self, x: Any) -> np.ndarray | None:
        """``x`` itself, where it is writeable."""
        return x if isinstance(x, np.ndarray) and x.flags.writeable else None
