"""Fused kernels a backend may offer beyond the Array API, chosen by library and dtype.

The math (:mod:`agnostic_mlp.engine`) is written once against the standard;
where a library can do one of its steps in fewer passes over memory, the
backend layer hands the engine a drop-in function of the same contract
(:func:`fused_descent`). Each one is kept only where a same-process A/B
measured a gain (``benchmarks/README.md``), and the tests compare it with the
pure Array API step it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import openblas, torch_cpu

__all__ = ["Descend", "fused_descent"]

Descend = Callable[[Any, Any, Any, Any], Any]


def fused_descent(library: str, dtype: str) -> Descend | None:
    """An in-place ``w -= a.T @ delta`` as one GEMM accumulating into ``w``, or None.

    Parameters
    ----------
    library : str
        The backend's name (``"numpy"``, ``"torch"``, ...); the caller has
        checked that its arrays are writeable and in the CPU's memory.
    dtype : str
        ``"float32"`` or ``"float64"``.

    Returns
    -------
    callable or None
        ``descend(xp, w, a, delta)``, which updates ``w`` in place and returns
        it; None where no fused kernel is offered.
    """
    if dtype not in ("float32", "float64"):
        return None
    if library == "numpy":
        return openblas.descend if openblas.available() else None
    if library == "torch":
        return torch_cpu.descend
    return None
