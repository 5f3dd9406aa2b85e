"""What every backend is: the :class:`Backend` of any Array API namespace.

A library whose arrays need more than the standard offers (a device to enter,
a faster transfer, a compiler) subclasses :class:`Backend` in a module of its
own beside this one and overrides only what differs; the math of the library
never asks which backend it runs on.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np

from .._typing import Array
from ..errors import BackendUnavailableError, InvalidArgumentError
from . import inplace

__all__ = ["DTYPES", "Backend", "Compiler", "Descend", "array_namespace", "device_label",
           "dtype_name", "writeable"]

DTYPES = ("float32", "float64")
Descend = Callable[..., Array]
"""``descend(xp, w, a, delta, beta=1.0)``: ``w = beta * w - a.T @ delta`` in place, returned."""
_DLPACK_CPU, _DLPACK_CUDA_HOST = 1, 3  # DLPack's DLDeviceType codes


class Compiler(Protocol):
    """Compiles pure functions of arrays and pytrees (tuples, NamedTuples, dataclasses)."""

    def jit(self, fn: Callable[..., Any], donate_argnums: tuple[int, ...] = (),
            static_argnums: tuple[int, ...] = ()) -> Callable[..., Any]:
        """``fn`` compiled once per shape of its arguments (and value of its static ones)."""

    def scan(self, fn: Callable[[Any, Any], tuple[Any, Any]], carry: Any,
             xs: Any) -> tuple[Any, Any]:
        """``fn`` applied along the leading axis of ``xs``, threading ``carry``, inside a jit."""

    def register(self, cls: type) -> None:
        """Make the dataclass ``cls`` a pytree, so its instances can be traced."""


@dataclass(frozen=True)
class Backend:
    """A resolved backend: its name, namespace, device and floating dtype.

    This class serves any Array API namespace as the standard defines it; each
    library the project knows has a subclass that adds what it offers beyond it.
    Build one with :func:`~agnostic_mlp.get_backend`.

    Attributes
    ----------
    name : str
        One of :data:`~agnostic_mlp.BACKENDS`, or the namespace's module name.
    xp : module
        The Array API namespace (array-api-compat's wrapper where one exists).
    device : object
        The device every array of the model lives on.
    dtype : object
        The namespace's floating dtype for parameters and data.

    Examples
    --------
    >>> from agnostic_mlp import get_backend
    >>> runtime = get_backend("numpy", dtype="float64")
    >>> runtime.name, runtime.dtype_name, runtime.on_cpu
    ('numpy', 'float64', True)
    >>> runtime.asarray([1, 2]).dtype
    dtype('float64')
    """

    name: str
    xp: Any
    device: Any
    dtype: Any
    # array-api-compat's namespace for this library's arrays, to recognise them
    compat: Any = field(default=None, compare=False, repr=False)

    #: The importable module that is the library (checked before its namespace is built).
    module: ClassVar[str] = ""
    #: How to install the library, for the message when it is missing.
    install: ClassVar[str] = ""

    # -- resolution: what a subclass's library needs to become a namespace ---------

    @classmethod
    def require(cls, name: str) -> None:
        """Import the library now.

        Raises
        ------
        BackendUnavailableError
            If the library is not installed (the message says how to install it).
        """
        try:
            importlib.import_module(cls.module)
        except ImportError as exc:
            raise BackendUnavailableError(
                f"backend={name!r} needs the {cls.module.split('.')[0]!r} package, which is "
                f"not installed: {cls.install}") from exc

    @classmethod
    def load_namespace(cls, name: str) -> Any:
        """The library's Array API namespace (array-api-compat's wrapper by default)."""
        cls.require(name)
        return importlib.import_module(f"array_api_compat.{name}")

    @classmethod
    def resolve_device(cls, name: str, xp: Any, device: Any) -> Any:
        """``device`` (an object, a name, or None for the default) as a device of ``xp``.

        Raises
        ------
        ValueError
            If ``xp`` has no such device.
        """
        import array_api_compat

        default = array_api_compat.device(xp.empty(0))
        if device is None:
            return default
        candidates = [d for d in xp.__array_namespace_info__().devices() if d is not None]
        if isinstance(device, str):
            # Several devices may share a name (JAX's "cpu"): the default one, else the first.
            matches = [d for d in candidates if device_label(d) == device]
            if matches:
                return default if default in matches else matches[0]
            raise ValueError(
                f"device={device!r} is not a device of backend {name!r}; "
                f"known: {sorted({device_label(d) for d in candidates})}")
        if device in candidates or device == default:
            return device
        raise ValueError(
            f"device={device!r} is not a device of backend {name!r}; known: {candidates}")

    @classmethod
    def check_dtype(cls, xp: Any, dtype: Any) -> None:
        """Refuse a dtype the library supports only in a mode it is not in (nothing here)."""

    # -- arrays of the library, wherever they come from ------------------------------

    @staticmethod
    def to_host(x: Any) -> np.ndarray:
        """The host (NumPy) array of one of the library's arrays."""
        return np.asarray(x)

    @staticmethod
    def in_host_memory(x: Any) -> bool:
        """Whether the library's array ``x`` lives in the host's memory.

        The DLPack device says (CPU or CUDA's pinned host memory); an array that
        says nothing of its device is taken to be on the host.
        """
        try:
            kind = int(x.__dlpack_device__()[0])
        except (AttributeError, TypeError, ValueError, RuntimeError, BufferError):
            return True
        return kind in (_DLPACK_CPU, _DLPACK_CUDA_HOST)

    # -- the resolved backend ----------------------------------------------------------

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """What the model's work must run inside (a GPU to enter); nothing here."""
        return contextlib.nullcontext()

    def training(self) -> contextlib.AbstractContextManager[Any]:
        """What training steps run under: floating-point warnings silenced.

        A diverging step overflows (NumPy warns "overflow encountered in matmul"
        once per kind and place); training detects the non-finite loss or weights
        itself and raises :class:`~agnostic_mlp.DivergenceError`, so the warnings
        only repeat it. NumPy's error state is the one any backend has: NumPy and
        array-api-strict compute with it; PyTorch, JAX and CuPy warn of nothing.
        """
        return np.errstate(all="ignore")

    @property
    def on_cpu(self) -> bool:
        """Whether the arrays live in the CPU's memory (not a GPU's)."""
        kind = getattr(self.device, "type", None) or getattr(self.device, "platform", None)
        return kind is None or kind == "cpu"  # torch and JAX say; NumPy, strict: the host

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
        return self.put(host, self.dtype_name)

    def adopt(self, host: Any) -> Any:
        """A host array no one else holds, on the device: shared, not copied, where it can be."""
        return self.xp.asarray(host, dtype=self.dtype, device=self.device, copy=None)

    def put(self, host: Any, dtype: str | None = None, *, share: bool = False) -> Any:
        """Host data on the device, as ``dtype`` (a NumPy name) or its own dtype.

        A copy, unless ``share``: data the library only reads may then be used
        where it lies, where the library can (:meth:`shares`).
        """
        if share:
            shared = np.asarray(host, dtype=dtype)
            if self.shares(shared):
                return self.xp.asarray(shared, device=self.device, copy=None)
        return self.upload(np.array(host, dtype=dtype, copy=True))

    def shares(self, host: np.ndarray) -> bool:
        """Whether the namespace may use the host array ``host`` where it lies."""
        return True

    def upload(self, host: np.ndarray) -> Any:
        """The host array ``host``, which no one else holds, on the device."""
        return self.xp.asarray(host, device=self.device, copy=None)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's namespace."""
        import array_api_compat

        if not array_api_compat.is_array_api_obj(x) or isinstance(x, np.generic):
            return False
        try:
            return array_namespace(x) is self.compat
        except TypeError:
            return False

    def plain(self, x: Array, name: str) -> Array:
        """``x``, an array of this backend, as a plain dense array the math may use.

        Raises
        ------
        TypeError
            If ``x`` is sparse; the message names ``name`` and how to densify it.
        """
        return x

    def holds(self, x: Any) -> bool:
        """Whether ``x`` is this backend's own array (not host NumPy data) on the model's device:
        an array the library may use where it lies."""
        return self.owns(x) and not isinstance(x, np.ndarray) and self.same_device(x)

    def same_device(self, x: Any) -> bool:
        """Whether the array ``x`` of this namespace lives on the model's device."""
        import array_api_compat

        return bool(array_api_compat.device(x) == self.device)

    def portable(self) -> tuple[str, Any]:
        """The backend and device as plain values that :func:`get_backend` takes anywhere.

        A namespace module is named by its import path; a device by its name
        (``"cuda:1"``, ``"device1"``), or its index for CuPy.
        """
        return (self.name if self.module else self.xp.__name__), self.device_name()

    def device_name(self) -> Any:
        """The device as a plain value that :meth:`resolve_device` takes back."""
        return device_label(self.device)

    def synchronize(self) -> None:
        """Wait for the work queued on the device (before another library reads its memory)."""

    # -- memory shared with other libraries (a communicator reads it by address) --------

    def host_view(self, x: Any) -> np.ndarray | None:
        """A writeable NumPy array sharing the memory of ``x``, where the library has one."""
        return None

    def device_memory(self, x: Any) -> bool:
        """Whether ``x`` is a writeable array in CUDA memory (``__cuda_array_interface__``)."""
        return False

    def pinned_empty(self, n: int) -> np.ndarray | None:
        """``n`` numbers of the dtype in page-locked host memory, where the device has it."""
        return None

    def fetch_into(self, x: Array, out: np.ndarray) -> None:
        """Copy the 1-D device array ``x`` into the host array ``out`` (one transfer)."""
        np.copyto(out, self.to_host(x))

    def device_copy(self, host: np.ndarray) -> Array:
        """A new device array copied from ``host`` (one transfer)."""
        return self.asarray(host)

    # -- capabilities beyond the standard: fast paths ----------------------------------

    @functools.cached_property
    def in_place_descent(self) -> Descend | None:
        """An in-place ``w = beta * w - a.T @ delta`` for copies this backend makes, where one
        helps (:data:`Descend`).

        Offered where ``xp.asarray(w, copy=True)`` gives writeable arrays in the
        CPU's memory (NumPy, PyTorch on the CPU): one GEMM accumulating into ``w``
        where the library has one (:meth:`fused_descent`), else a large layer is
        updated in row blocks that stay in cache (:func:`~agnostic_mlp.backends.
        inplace.descend_in_place`). None elsewhere.
        """
        probe = self.xp.asarray(self.xp.zeros(1, dtype=self.dtype, device=self.device),
                                copy=True)
        if not (self.on_cpu and writeable(probe)):
            return None
        return self.fused_descent() or inplace.descend_in_place

    def fused_descent(self) -> Descend | None:
        """``w = beta * w - a.T @ delta`` as one GEMM that accumulates into ``w`` (BLAS's
        ``beta``), with no gradient array, where the library offers it and an A/B measured a gain
        (benchmarks/README.md, "The fused descent"); None here."""
        return None

    @property
    def compiler(self) -> Compiler | None:
        """What compiles whole training steps and epochs (JAX's jit and scan), else None."""
        return None

    def compiled(self, fn: Callable[..., Any],
                 static_argnums: tuple[int, ...] = ()) -> Callable[..., Any]:
        """``fn`` compiled by this backend's compiler, once per process, or ``fn`` itself.

        ``fn`` should be a module-level function: compiled versions are kept by
        its identity (and the compiler keeps one per shape and static argument).
        """
        compiler = self.compiler
        if compiler is None:
            return fn
        key = (fn, static_argnums)
        with _COMPILED_LOCK:
            if key not in _COMPILED:
                _COMPILED[key] = compiler.jit(fn, static_argnums=static_argnums)
            return _COMPILED[key]


_COMPILED: dict[Any, Callable[..., Any]] = {}
_COMPILED_LOCK = threading.Lock()


def array_namespace(*arrays: Any) -> Any:
    """The Array API namespace of ``arrays`` (array-api-compat's wrapper)."""
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def writeable(x: Any) -> bool:
    """Whether ``x[key] = value`` writes into ``x`` (not JAX's immutable arrays)."""
    import array_api_compat

    return bool(array_api_compat.is_writeable_array(x))


def device_label(device: Any) -> str:
    """A device's name: ``array_api_strict.Device('device1')`` is ``"device1"``, JAX's
    ``CpuDevice(id=0)`` is ``"cpu"``."""
    text = getattr(device, "_device", None)
    if isinstance(text, str):
        return text
    platform = getattr(device, "platform", None)
    if isinstance(platform, str):
        return platform
    return str(device)


def dtype_name(dtype: Any) -> str:
    """``"float32"`` or ``"float64"`` from a name, a NumPy dtype or any namespace's dtype.

    Raises
    ------
    InvalidArgumentError
        For any other dtype.
    """
    if isinstance(dtype, str):
        if dtype in DTYPES:
            return dtype
    elif isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        if np.dtype(dtype).name in DTYPES:
            return np.dtype(dtype).name
    elif dtype is not None:
        # torch.float32, jnp.float32 (a NumPy type), array_api_strict.float64, ...
        name = str(getattr(dtype, "name", None) or dtype).rsplit(".", 1)[-1].strip("'>")
        if name in DTYPES:
            return name
    text = repr(dtype)
    raise InvalidArgumentError(
        f"dtype must be one of {DTYPES}, got {text if len(text) < 60 else text[:57] + '...'}")


def import_path(path: str) -> ModuleType:
    """The module named by the import path ``path`` (a namespace given by its name).

    Raises
    ------
    BackendUnavailableError
        If it cannot be imported here.
    """
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise BackendUnavailableError(f"backend={path!r} cannot be imported here ({exc})") from exc
