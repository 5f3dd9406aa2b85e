"""``w -= a.T @ delta`` on NumPy as one GEMM of NumPy's own OpenBLAS, accumulating into ``w``
(also ``w = beta * w - a.T @ delta``, the momentum buffer's update).

NumPy's ``matmul`` has no ``beta``: ``w -= a.T @ delta`` writes the product to
a new array, then reads it and ``w`` again and writes ``w``: three more passes
over a matrix the size of ``w``, on one core, between products that use them
all. BLAS's ``?gemm`` computes ``C <- alpha A B + beta C``; with ``beta=1``
and ``alpha=-1`` the update is the product itself, written once, on BLAS's
threads, with no gradient array.

The GEMM is the one NumPy's ``matmul`` calls, from the OpenBLAS that NumPy's
wheels bundle (``numpy.libs``, ``numpy/.dylibs``), through its CBLAS
interface in row-major order. Not SciPy's: its wheels bundle another OpenBLAS
with a thread pool of its own, and two pools taking turns on the same cores
each wait for threads the other holds (``benchmarks/README.md``, "The fused descent", measures
both). Where NumPy's library cannot be found (a NumPy built against a system
BLAS), nothing is offered and the training loop keeps NumPy's operators.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MIN_ELEMENTS", "available", "descend", "library"]

#: Smaller weight matrices keep NumPy's operators: the call through ctypes costs about
#: 5 us (three pointers, fourteen arguments), more than the passes over memory it saves
#: below some 32k numbers (same-process timings, benchmarks/README.md: a 2x5 update took
#: 12 against 3.5 us, 128x10 18 against 13.5 us, 128x128 at batch 128 1.05 of NumPy's
#: time with one BLAS thread; 256x128 1.00 with one thread and 0.89 with two, 784x256
#: 0.60 with two).
MIN_ELEMENTS = 2**15

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS's enum values
# (symbol prefix, suffix) of CBLAS in NumPy's wheels: scipy-openblas (NumPy >= 2),
# then the openblas64_ build of NumPy 1.x; both take 64-bit integers.
_NAMINGS = (("scipy_cblas_", "64_"), ("cblas_", "64_"))


def library() -> str | None:
    """The path of the OpenBLAS NumPy's wheel bundles, or None."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    for folder in (os.path.join(root, "numpy.libs"), os.path.join(os.path.dirname(np.__file__),
                                                                  ".dylibs")):
        found = sorted(glob.glob(os.path.join(folder, "*openblas*")))
        if found:
            return found[0]
    return None


@functools.cache
def _kernels() -> dict[np.dtype[Any], Callable[..., None]] | None:
    path = library()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    kernels: dict[np.dtype[Any], Callable[..., None]] = {}
    for prefix, suffix in _NAMINGS:
        try:
            pair: list[tuple[np.dtype[Any], Any, Any]] = [
                (np.dtype(np.float32), getattr(lib, f"{prefix}sgemm{suffix}"), ctypes.c_float),
                (np.dtype(np.float64), getattr(lib, f"{prefix}dgemm{suffix}"), ctypes.c_double)]
        except AttributeError:
            continue
        for dtype, fn, scalar in pair:
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, scalar,
                           ptr, i64, ptr, i64, scalar, ptr, i64]
            fn.restype = None
            kernels[dtype] = fn
        return kernels
    return None


def available() -> bool:
    """Whether NumPy's own OpenBLAS GEMMs can be called here."""
    return _kernels() is not None


def descend(xp: Any, w: np.ndarray, a: np.ndarray, delta: np.ndarray,
            beta: float = 1.0) -> np.ndarray:
    """``w = beta * w - a.T @ delta`` in place, as one GEMM; returns ``w``.

    ``w`` is a writeable NumPy array ``(n_in, n_out)``, ``a`` is
    ``(batch, n_in)`` and ``delta`` ``(batch, n_out)``. Arrays BLAS cannot take
    as they are (another dtype than ``w``'s, a ``w`` that is not row-major),
    and a ``w`` of fewer than :data:`MIN_ELEMENTS` numbers, take NumPy's
    operators instead, with the same result; an ``a`` or ``delta`` that is not
    row-major is copied.
    """
    kernels = _kernels()
    gemm = None if kernels is None else kernels.get(w.dtype)
    if (gemm is None or w.size < MIN_ELEMENTS or not w.flags.c_contiguous or not w.flags.writeable
            or a.dtype != w.dtype or delta.dtype != w.dtype or w.ndim != 2
            or a.shape[1:] != w.shape[:1] or delta.shape != (a.shape[0], w.shape[1])):
        if beta != 1.0:
            w *= beta
        w -= a.T @ delta
        return w
    a = np.ascontiguousarray(a)
    delta = np.ascontiguousarray(delta)
    (n_in, n_out), batch = w.shape, a.shape[0]
    if w.size and batch:
        gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, n_in, n_out, batch, -1.0, a.ctypes.data, n_in,
             delta.ctypes.data, n_out, beta, w.ctypes.data, n_out)
    elif beta != 1.0:
        w *= beta
    return w
