"""CuPy, on NVIDIA GPUs."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from .._typing import Array
from ..errors import BackendUnavailableError
from .base import Backend

__all__ = ["CuPyBackend"]


class CuPyBackend(Backend):
    """CuPy's arrays, on the GPU ``cupy.cuda.Device(N)``."""

    module = "cupy"
    install = ("pip install cupy-cuda12x (agnostic_mlp's extra [cupy]) on a machine with an "
               "NVIDIA GPU and its driver")

    @classmethod
    def load_namespace(cls, name: str) -> Any:
        cls.require(name)
        # `import cupy` succeeds without a GPU; the first allocation is what fails.
        import cupy

        try:
            count = cupy.cuda.runtime.getDeviceCount()
            cupy.zeros(1)
        except Exception as exc:  # CUDARuntimeError, driver-missing errors, ...
            raise BackendUnavailableError(
                "backend='cupy' needs an NVIDIA GPU with a working CUDA driver, and none "
                f"is usable here ({type(exc).__name__}: {exc}). Use backend='numpy' on the "
                "CPU, or install the driver and the CuPy build for your CUDA version "
                "(pip install cupy-cuda12x, agnostic_mlp's extra [cupy]).") from exc
        if count == 0:
            raise BackendUnavailableError("backend='cupy' found no CUDA device on this machine")
        return super().load_namespace(name)

    @classmethod
    def resolve_device(cls, name: str, xp: Any, device: Any) -> Any:
        import cupy

        if device is None:
            return super().resolve_device(name, xp, device)
        count = cupy.cuda.runtime.getDeviceCount()
        index = device
        if isinstance(device, cupy.cuda.Device):
            index = device.id
        elif isinstance(device, str):  # "0", "cuda", "cuda:1", "gpu:1"
            kind, _, number = device.partition(":")
            if kind.isdigit() and not number:
                kind, number = "cuda", kind
            if kind not in ("cuda", "gpu") or not (number.isdigit() or number == ""):
                raise ValueError(
                    f"device={device!r} is not a CuPy device; use an index, 'cuda' or 'cuda:N'")
            index = int(number) if number else cupy.cuda.Device().id
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
                0 <= index < count):
            raise ValueError(f"device={device!r} is not one of this machine's {count} CUDA devices")
        return cupy.cuda.Device(int(index))

    @staticmethod
    def to_host(x: Any) -> np.ndarray:
        return x.get()

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """The device, entered: CuPy allocates and launches on the *current* GPU."""
        import cupy

        # A fresh Device each time: a Device keeps the stack its `with` restores.
        return cupy.cuda.Device(self.device.id)

    @property
    def on_cpu(self) -> bool:
        return False

    def device_name(self) -> Any:
        return int(self.device.id)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def device_memory(self, x: Any) -> bool:
        return hasattr(x, "__cuda_array_interface__")

    def pinned_empty(self, n: int) -> np.ndarray | None:
        import cupyx

        return cupyx.empty_pinned((n,), dtype=np.dtype(self.dtype_name))

    def fetch_into(self, x: Array, out: np.ndarray) -> None:
        x.get(out=out)
