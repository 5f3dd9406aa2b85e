"""array-api-strict: the standard and nothing more, the judge of the math."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .base import Backend

__all__ = ["StrictBackend"]


class StrictBackend(Backend):
    """array-api-strict's arrays, on its CPU device or the devices that stand for GPUs."""

    module = "array_api_strict"
    install = "pip install array-api-strict (agnostic_mlp's extra [array-api-strict])"

    @classmethod
    def load_namespace(cls, name: str) -> Any:
        cls.require(name)
        return importlib.import_module("array_api_strict")

    @staticmethod
    def to_host(x: Any) -> np.ndarray:
        import array_api_strict

        return np.from_dlpack(x.to_device(array_api_strict.Device("CPU_DEVICE")))

    @staticmethod
    def in_host_memory(x: Any) -> bool:
        """Its devices other than its CPU stand for GPUs, as its own ``numpy.asarray``
        refusal treats them."""
        import array_api_compat
        import array_api_strict

        return bool(array_api_compat.device(x) == array_api_strict.Device("CPU_DEVICE"))
