"""Names for what the Array API leaves untyped, so signatures say what they mean."""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["Array", "DType", "Device", "Namespace"]

Array: TypeAlias = Any
"""An array of any Array API backend."""
Namespace: TypeAlias = Any
"""An Array API namespace (``xp``)."""
Device: TypeAlias = Any
"""A device object of a backend."""
DType: TypeAlias = Any
"""A dtype object of a backend."""
