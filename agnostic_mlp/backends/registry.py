"""The libraries the project knows, and how a name, a namespace or an array finds its own."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError
from .array_api_strict import StrictBackend
from .base import Backend, array_namespace, dtype_name, import_path
from .cupy import CuPyBackend
from .jax import JAXBackend
from .numpy import NumPyBackend
from .torch import TorchBackend

__all__ = ["BACKENDS", "LIBRARIES", "get_backend", "on_host", "to_numpy"]

#: name -> the :class:`Backend` subclass of that library.
LIBRARIES: dict[str, type[Backend]] = {
    "numpy": NumPyBackend,
    "array_api_strict": StrictBackend,
    "torch": TorchBackend,
    "jax": JAXBackend,
    "cupy": CuPyBackend,
}

#: name -> (module to import, how to install it). Package names as PyPI spells them (the
#: spelling every pip accepts), then agnostic_mlp's extra of the same name.
BACKENDS: dict[str, tuple[str, str]] = {
    name: (cls.module, cls.install) for name, cls in LIBRARIES.items()}


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

    Examples
    --------
    >>> from agnostic_mlp import get_backend
    >>> get_backend("numpy", dtype="float64").dtype_name
    'float64'
    """
    if isinstance(backend, str) and backend not in LIBRARIES and "." in backend:
        backend = import_path(backend)  # a namespace named by its import path
    cls: type[Backend] = Backend
    if isinstance(backend, str):
        if backend not in LIBRARIES:
            raise InvalidArgumentError(
                f"backend must be one of {sorted(LIBRARIES)} or an Array API namespace, "
                f"got {backend!r}")
        name, cls = backend, LIBRARIES[backend]
        xp = cls.load_namespace(name)
    elif isinstance(backend, ModuleType) and hasattr(backend, "empty"):
        # A known library's module (numpy itself, array-api-compat's wrapper of it,
        # jax.numpy, ...) resolves as its name does, availability checks included;
        # any other namespace is used as it is, named by its import path.
        parts = backend.__name__.split(".")
        if parts[0] == "array_api_compat" and len(parts) > 1:
            parts = parts[1:]
        if parts[0] in LIBRARIES:  # "jax.numpy" is jax
            name, cls = parts[0], LIBRARIES[parts[0]]
            xp = cls.load_namespace(name)
        else:
            name, xp = backend.__name__, backend
    else:
        raise InvalidArgumentError(
            f"backend must be one of {sorted(LIBRARIES)} or an Array API namespace, "
            f"got {backend!r}")
    dt = getattr(xp, dtype_name(dtype))
    cls.check_dtype(xp, dt)
    dev = cls.resolve_device(name, xp, device)
    return cls(name=name, xp=xp, device=dev, dtype=dt, compat=array_namespace(xp.empty(0)))


def _library(x: Any) -> type[Backend]:
    module = type(x).__module__.split(".")[0]
    return LIBRARIES.get({"jaxlib": "jax"}.get(module, module), Backend)


def on_host(x: Any) -> bool:
    """Whether ``x``, an array of any library, lives in the host's memory."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    return _library(x).in_host_memory(x)


def to_numpy(x: Any) -> np.ndarray:
    """The host (NumPy) array of an array of any supported backend.

    Examples
    --------
    >>> from agnostic_mlp import get_backend, to_numpy
    >>> to_numpy(get_backend("numpy").asarray([1.5, 2.5]))
    array([1.5, 2.5], dtype=float32)
    """
    if isinstance(x, np.ndarray):
        return x
    return _library(x).to_host(x)
