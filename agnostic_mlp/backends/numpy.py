"""NumPy, on the CPU."""

from __future__ import annotations

import functools
from types import ModuleType
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
        """NumPy itself from 2.1 on, an Array API namespace (skipping array-api-compat's
        wrappers saves a Python call per operation, which small networks feel), with
        :func:`sum` straight from ``np.add.reduce``."""
        return _fast_namespace() if _IS_ARRAY_API else super().load_namespace(name)

    def fused_descent(self) -> Descend | None:
        """One ``?gemm`` of NumPy's own OpenBLAS (:mod:`.openblas`), where it is found."""
        return openblas.descend if openblas.available() else None

    def host_view(self, x: Any) -> np.ndarray | None:
        """``x`` itself, where it is writeable."""
        return x if isinstance(x, np.ndarray) and x.flags.writeable else None


_add_reduce: Any = np.add.reduce


def _sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    return _add_reduce(x, axis, dtype, None, keepdims)


@functools.cache
def _fast_namespace() -> ModuleType:
    """NumPy's namespace, but ``sum`` calls the ufunc's ``reduce`` at once.

    ``np.sum`` is Python (``fromnumeric``) around ``np.add.reduce``: 2.5 against
    1.5 us on a batch's bias gradient, two or three of which a small network's
    step of some 30 us takes. The two agree for every argument the standard
    gives ``sum``.
    """
    fast = ModuleType(np.__name__, np.__doc__)
    # With NumPy's module __getattr__, which imports fft and its other lazy submodules.
    fast.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")
                          or k in ("__array_namespace_info__", "__array_api_version__",
                                   "__version__", "__all__", "__getattr__", "__dir__")})
    fast.sum = _sum  # type: ignore[attr-defined]
    return fast
