"""``w -= a.T @ delta`` for PyTorch tensors in the CPU's memory, as one ``addmm_``.

``torch.Tensor.addmm_`` is BLAS's ``?gemm`` with ``beta=1``: the product is
accumulated into ``w`` where it lies, with no gradient tensor allocated,
filled, read back and freed, as ``w -= a.T @ delta`` does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["descend"]


def descend(xp: Any, w: Any, a: Any, delta: Any) -> Any:
    """``w -= a.T @ delta`` in place, as ``w.addmm_(a.T, delta, alpha=-1)``; returns ``w``."""
    return w.addmm_(a.T, delta, alpha=-1)
