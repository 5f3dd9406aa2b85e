"""Everything that differs between array backends, and nothing else.

A backend is named by a string (``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``,
``"array_api_strict"``) or given as an Array API namespace module. This module
turns it into an ``xp`` namespace through array-api-compat (imported lazily, so
only the backend in use is ever imported), resolves devices and dtypes, and moves
arrays between the host and the device. The math of the library never asks which
backend it runs on.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .errors import BackendUnavailableError

__all__ = [
    "BACKENDS",
    "Backend",
    "array_namespace",
    "get_backend",
    "to_numpy",
]

# name -> (module to import, how to install it)
BACKENDS: dict[str, tuple[str, str]] = {
    "numpy": ("numpy", "pip install numpy"),
    "array_api_strict": ("array_api_strict", "pip install 'agnostic_mlp[array_api_strict]'"),
    "torch": ("torch", "pip install 'agnostic_mlp[torch]'"),
    "jax": ("jax.numpy", "pip install 'agnostic_mlp[jax]'"),
    "cupy": (
        "cupy",
        "pip install 'agnostic_mlp[cupy]' on a machine with an NVIDIA GPU and its driver",
    ),
}

_DTYPES = ("float32", "float64")
_NUMPY_IS_ARRAY_API = tuple(int(v) for v in np.__version__.split(".")[:2]) >= (2, 1)


@dataclass(frozen=True)
class Backend:
    """A resolved backend: its name, namespace, device and floating dtype.

    Attributes
    ----------
    name : str
        One of :data:`BACKENDS`, or the namespace's module name.
    xp : module
        The Array API namespace (array-api-compat's wrapper where one exists).
    device : object
        The device every array of the model lives on.
    dtype : object
        The namespace's floating dtype for parameters and data.
    """

    name: str
    xp: Any
    device: Any
    dtype: Any

    @property
    def dtype_name(self) -> str:
        """The dtype as a string, ``"float32"`` or ``"float64"``."""
        return "float64" if self.dtype == self.xp.float64 else "float32"

    @property
    def index_dtype(self) -> Any:
        """The namespace's default integer dtype on this device (what argmax returns)."""
        info = self.xp.__array_namespace_info__()
        return info.default_dtypes(device=self.device)["indexing"]

    def asarray(self, host: Any) -> Any:
        """Copy a host (NumPy) array to this backend's device and dtype."""
        return self.xp.asarray(host, dtype=self.dtype, device=self.device, copy=True)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's namespace."""
        import array_api_compat

        if not array_api_compat.is_array_api_obj(x) or isinstance(x, np.generic):
            return False
        try:
            return array_namespace(x) is array_namespace(self.xp.empty(0))
        except TypeError:
            return False

    def same_device(self, x: Any) -> bool:
        """Whether the array ``x`` of this namespace lives on the model's device."""
        import array_api_compat

        return bool(array_api_compat.device(x) == self.device)


def array_namespace(*arrays: Any) -> Any:
    """The Array API namespace of ``arrays`` (array-api-compat's wrapper)."""
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def _import_namespace(name: str) -> ModuleType:
    module, install = BACKENDS[name]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend={name!r} needs the {module.split('.')[0]!r} package, which is "
            f"not installed: {install}"
        ) from exc
    if name == "cupy":
        _check_cuda()
    if name == "jax":
        import jax.numpy as jnp

        return jnp
    if name == "array_api_strict":
        return importlib.import_module("array_api_strict")
    if name == "numpy" and _NUMPY_IS_ARRAY_API:
        # NumPy >= 2.1 is an Array API namespace itself; skipping array-api-compat's
        # wrappers saves a Python call per operation, which small networks feel.
        return np
    return importlib.import_module(f"array_api_compat.{name}")


def _check_cuda() -> None:
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
            "(pip install 'agnostic_mlp[cupy]')."
        ) from exc
    if count == 0:
        raise BackendUnavailableError("backend='cupy' found no CUDA device on this machine")


def _resolve_dtype(xp: Any, dtype: Any) -> Any:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        return getattr(xp, dtype)
    for name in _DTYPES:
        candidate = getattr(xp, name)
        if dtype == candidate or (isinstance(dtype, type) and np.dtype(dtype) == np.dtype(name)):
            return candidate
    raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")


def _resolve_device(name: str, xp: Any, device: Any) -> Any:
    import array_api_compat

    default = array_api_compat.device(xp.empty(0))
    if device is None:
        return default
    if name == "torch" and isinstance(device, (str, int)):
        import torch

        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={device!r} is not a torch device: {exc}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"device={str(device)!r} needs CUDA, which this torch build or machine "
                "does not have; use device='cpu'"
            )
        return device
    candidates = [d for d in xp.__array_namespace_info__().devices() if d is not None]
    if isinstance(device, str):
        by_name = {_device_name(d): d for d in candidates}
        if device in by_name:
            return by_name[device]
        if device == "cpu" and name in ("numpy", "jax"):
            return default if name == "numpy" else candidates[0]
        raise ValueError(
            f"device={device!r} is not a device of backend {name!r}; "
            f"known: {sorted(by_name)}"
        )
    if name == "cupy" and isinstance(device, int):
        import cupy

        if not 0 <= device < cupy.cuda.runtime.getDeviceCount():
            raise ValueError(f"device={device} is not a CUDA device index on this machine")
        return cupy.cuda.Device(device)
    if device in candidates or device == default:
        return device
    raise ValueError(
        f"device={device!r} is not a device of backend {name!r}; known: {candidates}"
    )


def _device_name(device: Any) -> str:
    # array_api_strict.Device('device1') -> 'device1'; CpuDevice(id=0) -> 'cpu'
    text = getattr(device, "_device", None)
    if isinstance(text, str):
        return text
    platform = getattr(device, "platform", None)
    if isinstance(platform, str):
        return platform
    return str(device)


def get_backend(backend: Any = "numpy", device: Any = None, dtype: Any = "float32") -> Backend:
    """Resolve a backend name (or namespace), device and dtype.

    Parameters
    ----------
    backend : str or module
        A name from :data:`BACKENDS`, or an Array API namespace module.
    device : object, optional
        A device of that backend (its object or its name, such as ``"cpu"``,
        ``"cuda:0"`` or ``"device1"``); the backend's default when None.
    dtype : str or dtype
        ``"float32"`` (default) or ``"float64"``.

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        If the name, device or dtype is unknown to the backend.
    BackendUnavailableError
        If the backend is known but cannot run here (not installed, or no GPU).
    """
    if isinstance(backend, str):
        if backend not in BACKENDS:
            raise ValueError(
                f"backend must be one of {sorted(BACKENDS)} or an Array API namespace, "
                f"got {backend!r}"
            )
        name = backend
        xp = _import_namespace(name)
    elif isinstance(backend, ModuleType) and hasattr(backend, "empty"):
        probe = backend.empty(0)
        name = _library_of(probe)
        # A known library's module resolves as its name does (e.g. numpy itself, or
        # array-api-compat's numpy wrapper, both give the same namespace).
        xp = _import_namespace(name) if name in BACKENDS else array_namespace(probe)
    else:
        raise ValueError(
            f"backend must be one of {sorted(BACKENDS)} or an Array API namespace, "
            f"got {backend!r}"
        )
    dt = _resolve_dtype(xp, dtype)
    if name == "jax" and dt == xp.float64:
        import jax

        if not jax.config.read("jax_enable_x64"):
            raise ValueError(
                "dtype='float64' on backend 'jax' needs 64-bit mode: call "
                "jax.config.update('jax_enable_x64', True) before building the model"
            )
    dev = _resolve_device(name, xp, device)
    return Backend(name=name, xp=xp, device=dev, dtype=dt)


def _library_of(x: Any) -> str:
    module = type(x).__module__.split(".")[0]
    return {"jaxlib": "jax"}.get(module, module)


def to_numpy(x: Any) -> np.ndarray:
    """The host (NumPy) array of an array of any supported backend."""
    if isinstance(x, np.ndarray):
        return x
    module = _library_of(x)
    if module == "cupy":
        return x.get()
    if module == "torch":
        return x.detach().cpu().numpy()
    if module == "array_api_strict":
        import array_api_strict

        return np.from_dlpack(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.asarray(x)
