"""Everything that differs between array backends, and nothing else.

A backend is named by a string (``"numpy"``, ``"cupy"``, ``"torch"``, ``"jax"``,
``"array_api_strict"``) or given as an Array API namespace module. This module
turns it into an ``xp`` namespace through array-api-compat (imported lazily, so
only the backend in use is ever imported), resolves devices and dtypes, and moves
arrays between the host and the device. The math of the library never asks which
backend it runs on; what a backend allows beyond the standard (updating arrays in
place, compiling a whole epoch) is offered here, as capabilities (see "Fast
paths" at the end), and the training loop uses them where they are offered.
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

from . import fast
from ._typing import Array, Namespace
from .errors import BackendUnavailableError, InvalidArgumentError

__all__ = [
    "BACKENDS",
    "DTYPES",
    "Backend",
    "Compiler",
    "HostBuffer",
    "array_namespace",
    "cuda_array",
    "descend_in_place",
    "dtype_name",
    "get_backend",
    "host_alias",
    "on_host",
    "to_numpy",
    "writeable",
]

# name -> (module to import, how to install it). Package names as PyPI spells them (the
# spelling every pip accepts), then agnostic_mlp's extra of the same name.
BACKENDS: dict[str, tuple[str, str]] = {
    "numpy": ("numpy", "pip install numpy"),
    "array_api_strict": ("array_api_strict",
                         "pip install array-api-strict (agnostic_mlp's extra [array-api-strict])"),
    "torch": ("torch", "pip install torch (agnostic_mlp's extra [torch]); on a machine "
                       "without an NVIDIA GPU, PyTorch's CPU build spares gigabytes of CUDA: "
                       "pip install torch --index-url https://download.pytorch.org/whl/cpu"),
    "jax": ("jax.numpy", "pip install jax (agnostic_mlp's extra [jax])"),
    "cupy": (
        "cupy",
        "pip install cupy-cuda12x (agnostic_mlp's extra [cupy]) on a machine with an NVIDIA "
        "GPU and its driver",
    ),
}

DTYPES = ("float32", "float64")
Descend = Callable[[Namespace, Array, Array, Array], Array]
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
    # array-api-compat's namespace for this library's arrays, to recognise them
    compat: Any = field(default=None, compare=False, repr=False)

    def context(self) -> contextlib.AbstractContextManager[Any]:
        """Where the model's work must run: CuPy allocates and launches on the
        *current* GPU, so its device is entered; elsewhere, nothing to do."""
        if self.name == "cupy":
            import cupy

            # A fresh Device each time: a Device keeps the stack its `with` restores.
            return cupy.cuda.Device(self.device.id)
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
        if self.name == "cupy":
            return False
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

        A copy, unless ``share``: data the library only reads may then be used where
        it lies (NumPy; PyTorch's CPU when the host array is writable). JAX always
        gets a copy, since its arrays are immutable and ``device_put`` may alias
        host memory. JAX's ``device_put`` takes a tenth of the time
        ``jnp.asarray(..., device=)`` does (measured 70 against 840 µs).
        """
        if share and self.name != "jax":
            host = np.asarray(host, dtype=dtype)
            if host.flags.writeable or self.name != "torch":  # torch refuses read-only memory
                return self.xp.asarray(host, device=self.device, copy=None)
        host = np.array(host, dtype=dtype, copy=True)
        if self.name == "jax":
            import jax

            if host.dtype == np.int64 and not jax.config.read("jax_enable_x64"):
                host = host.astype(np.int32)  # what JAX would make of it, said aloud
            return jax.device_put(host, self.device)
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

        A PyTorch tensor that requires grad is detached (training must not
        grow autograd graphs through the weights); a sparse one is refused.

        Raises
        ------
        TypeError
            If ``x`` is sparse; the message names ``name`` and how to densify it.
        """
        if self.name == "torch":
            import torch

            if x.layout != torch.strided:
                raise TypeError(f"{name} is a sparse torch tensor ({x.layout}); pass "
                                f"{name}.to_dense()")
            if x.requires_grad:
                return x.detach()
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
        if self.name == "cupy":
            device: Any = int(self.device.id)
        elif self.name == "torch":
            device = str(self.device)
        else:
            device = _device_name(self.device)
        return (self.name if self.name in BACKENDS else self.xp.__name__), device

    # -- capabilities (see "Fast paths" below) ---------------------------------

    @functools.cached_property
    def in_place_descent(self) -> Descend | None:
        """An in-place ``w -= a.T @ delta`` for copies this backend makes, where one helps.

        Offered where ``xp.asarray(w, copy=True)`` gives writeable arrays in the
        CPU's memory (NumPy, PyTorch on the CPU): one GEMM accumulating into ``w``
        where :func:`agnostic_mlp.fast.fused_descent` offers one, else a large layer
        is updated in row blocks that stay in cache (:func:`descend_in_place`).
        None elsewhere.
        """
        probe = self.xp.asarray(self.xp.zeros(1, dtype=self.dtype, device=self.device),
                                copy=True)
        if not (self.on_cpu and writeable(probe)):
            return None
        # One GEMM accumulating into w where the library offers one, else row blocks.
        return fast.fused_descent(self.name, self.dtype_name) or descend_in_place

    @property
    def compiler(self) -> Compiler | None:
        """What compiles whole training steps and epochs (JAX's jit and scan), else None."""
        return _JAX if self.name == "jax" else None

    def compiled(self, fn: Callable[..., Any],
                 static_argnums: tuple[int, ...] = ()) -> Callable[..., Any]:
        """``fn`` compiled by this backend's compiler, once per process, or ``fn`` itself.

        ``fn`` should be a module-level function: compiled versions are kept by
        its identity (and the compiler keeps one per shape and static argument).
        """
        if self.compiler is None:
            return fn
        key = (fn, static_argnums)
        with _COMPILED_LOCK:
            if key not in _COMPILED:
                _COMPILED[key] = self.compiler.jit(fn, static_argnums=static_argnums)
            return _COMPILED[key]

    def synchronize(self) -> None:
        """Wait for the work queued on a CUDA GPU (before another library reads its memory)."""
        if self.name == "cupy":
            import cupy

            cupy.cuda.get_current_stream().synchronize()
        elif self.name == "torch" and getattr(self.device, "type", None) == "cuda":
            import torch

            torch.cuda.synchronize(self.device)


def array_namespace(*arrays: Any) -> Any:
    """The Array API namespace of ``arrays`` (array-api-compat's wrapper)."""
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def writeable(x: Any) -> bool:
    """Whether ``x[key] = value`` writes into ``x`` (not JAX's immutable arrays)."""
    import array_api_compat

    return bool(array_api_compat.is_writeable_array(x))


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
    compat = importlib.import_module(f"array_api_compat.{name}")
    if name == "torch":
        return _torch_namespace(compat)
    return compat


@functools.cache
def _torch_namespace(compat: ModuleType) -> ModuleType:
    """array-api-compat's torch, with ``matmul`` straight from torch.

    The wrapper's ``matmul`` checks dtype promotion on every call (5 µs of a
    15 µs product of a tabular network's batch); the library multiplies
    arrays of one dtype only, where torch's own is the standard's.
    """
    import torch

    fast = ModuleType(compat.__name__, compat.__doc__)
    fast.__dict__.update({k: v for k, v in vars(compat).items()
                          if not k.startswith("__") or k == "__array_namespace_info__"})
    fast.matmul = torch.matmul  # type: ignore[attr-defined]
    return fast


def _import_module(path: str) -> Any:
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise BackendUnavailableError(f"backend={path!r} cannot be imported here ({exc})") from exc


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
            "(pip install cupy-cuda12x, agnostic_mlp's extra [cupy])."
        ) from exc
    if count == 0:
        raise BackendUnavailableError("backend='cupy' found no CUDA device on this machine")


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


def _resolve_device(name: str, xp: Any, device: Any) -> Any:
    import array_api_compat

    default = array_api_compat.device(xp.empty(0))
    if device is None:
        return default
    if name == "torch":
        return _torch_device(device)
    if name == "cupy":
        return _cupy_device(device)
    candidates = [d for d in xp.__array_namespace_info__().devices() if d is not None]
    if isinstance(device, str):
        # Several devices may share a name (JAX's "cpu"): the default one, else the first.
        matches = [d for d in candidates if _device_name(d) == device]
        if matches:
            return default if default in matches else matches[0]
        raise ValueError(
            f"device={device!r} is not a device of backend {name!r}; "
            f"known: {sorted({_device_name(d) for d in candidates})}"
        )
    if device in candidates or device == default:
        return device
    raise ValueError(
        f"device={device!r} is not a device of backend {name!r}; known: {candidates}"
    )


def _torch_device(device: Any) -> Any:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from exc
    if dev.type == "meta":
        raise ValueError("device='meta' holds no data; use 'cpu' or a GPU")
    try:
        # What the tensors will report: "cuda" becomes "cuda:0", so checks compare equal.
        return torch.empty(0, device=dev).device
    except (RuntimeError, AssertionError) as exc:
        raise BackendUnavailableError(
            f"device={str(dev)!r} cannot be used by this torch build or machine ({exc}); "
            "use device='cpu'"
        ) from exc


def _cupy_device(device: Any) -> Any:
    import cupy

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
                f"device={device!r} is not a CuPy device; use an index, 'cuda' or 'cuda:N'"
            )
        index = int(number) if number else cupy.cuda.Device().id
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not (
            0 <= index < count):
        raise ValueError(f"device={device!r} is not one of this machine's {count} CUDA devices")
    return cupy.cuda.Device(int(index))


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
    if isinstance(backend, str) and backend not in BACKENDS and "." in backend:
        backend = _import_module(backend)  # a namespace named by its import path
    if isinstance(backend, str):
        if backend not in BACKENDS:
            raise InvalidArgumentError(
                f"backend must be one of {sorted(BACKENDS)} or an Array API namespace, "
                f"got {backend!r}"
            )
        name = backend
        xp = _import_namespace(name)
    elif isinstance(backend, ModuleType) and hasattr(backend, "empty"):
        # A known library's module (numpy itself, array-api-compat's wrapper of it,
        # jax.numpy, ...) resolves as its name does, availability checks included;
        # any other namespace is used as it is, named by its import path.
        parts = backend.__name__.split(".")
        if parts[0] == "array_api_compat" and len(parts) > 1:
            parts = parts[1:]
        known = parts[0] in BACKENDS  # "jax.numpy" is jax
        name = parts[0] if known else backend.__name__
        xp = _import_namespace(name) if known else backend
    else:
        raise InvalidArgumentError(
            f"backend must be one of {sorted(BACKENDS)} or an Array API namespace, "
            f"got {backend!r}"
        )
    dt = getattr(xp, dtype_name(dtype))
    if name == "jax" and dt == xp.float64:
        import jax

        if not jax.config.read("jax_enable_x64"):
            raise InvalidArgumentError(
                "dtype='float64' on backend 'jax' needs 64-bit mode: call "
                "jax.config.update('jax_enable_x64', True) before building the model"
            )
    dev = _resolve_device(name, xp, device)
    compat = array_namespace(xp.empty(0))
    return Backend(name=name, xp=xp, device=dev, dtype=dt, compat=compat)


def _library_of(x: Any) -> str:
    module = type(x).__module__.split(".")[0]
    return {"jaxlib": "jax"}.get(module, module)


def on_host(x: Any) -> bool:
    """Whether ``x``, an array of any library, lives in the host's memory.

    The DLPack device says (CPU or CUDA's pinned host memory); array-api-strict's
    devices other than its CPU stand for GPUs, as its own ``numpy.asarray`` refusal
    treats them. An array that says nothing of its device is taken to be on the host.
    """
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    if _library_of(x) == "array_api_strict":
        import array_api_compat
        import array_api_strict

        return bool(array_api_compat.device(x) == array_api_strict.Device("CPU_DEVICE"))
    try:
        kind = int(x.__dlpack_device__()[0])
    except (AttributeError, TypeError, ValueError, RuntimeError, BufferError):
        return True
    return kind in (_DLPACK_CPU, _DLPACK_CUDA_HOST)


_DLPACK_CPU, _DLPACK_CUDA_HOST = 1, 3  # DLPack's DLDeviceType codes


def to_numpy(x: Any) -> np.ndarray:
    """The host (NumPy) array of an array of any supported backend."""
    if isinstance(x, np.ndarray):
        return x
    module = _library_of(x)
    if module == "cupy":
        return x.get()
    if module == "torch":
        return x.detach().cpu().numpy()
    if module == "jax":
        import jax

        return np.asarray(jax.device_get(x))
    if module == "array_api_strict":
        import array_api_strict

        return np.from_dlpack(x.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.asarray(x)


# -- fast paths ------------------------------------------------------------------
#
# What a backend allows beyond the standard, used by the training loop only where
# a backend offers it and a same-process A/B measured a gain (benchmarks/README.md).

# On a CPU, a large weight gradient is subtracted in row blocks of at most this
# many bytes: each block is still in cache when it is subtracted, and stays below
# glibc's 32 MiB threshold for reusing freed memory (a fresh mapping would
# page-fault on every step).
DESCENT_BLOCK_BYTES = 16 * 2**20


def descend_in_place(xp: Namespace, w: Array, a: Array, delta: Array) -> Array:
    """``w -= a.T @ delta`` in place, in row blocks of ``DESCENT_BLOCK_BYTES`` at most."""
    n_in, n_out = w.shape
    if n_in * n_out * 8 <= DESCENT_BLOCK_BYTES:  # most layers: whole, whatever the dtype
        w -= xp.matmul(a.T, delta)
        return w
    itemsize = 8 if w.dtype == xp.float64 else 4
    rows = max(1, DESCENT_BLOCK_BYTES // (itemsize * n_out))
    for lo in range(0, n_in, rows):
        hi = min(lo + rows, n_in)
        w[lo:hi, :] -= xp.matmul(a[:, lo:hi].T, delta)
    return w


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


class _JaxCompiler:
    _registered: ClassVar[set[type]] = set()
    _lock = threading.Lock()

    def jit(self, fn: Callable[..., Any], donate_argnums: tuple[int, ...] = (),
            static_argnums: tuple[int, ...] = ()) -> Callable[..., Any]:
        import jax

        return jax.jit(fn, donate_argnums=donate_argnums, static_argnums=static_argnums)

    def scan(self, fn: Callable[[Any, Any], tuple[Any, Any]], carry: Any,
             xs: Any) -> tuple[Any, Any]:
        import jax

        return jax.lax.scan(fn, carry, xs)

    def register(self, cls: type) -> None:
        import dataclasses

        import jax

        with self._lock:
            if cls in self._registered:
                return
            names = [f.name for f in dataclasses.fields(cls)]
            jax.tree_util.register_dataclass(cls, data_fields=names, meta_fields=[])
            self._registered.add(cls)


_JAX = _JaxCompiler()
_COMPILED: dict[Any, Callable[..., Any]] = {}
_COMPILED_LOCK = threading.Lock()


# -- memory shared with other processes ------------------------------------------
#
# A communication library (MPI) reads and writes memory by address. An array in
# the host's memory is handed over as it is (host_alias); an array in CUDA memory
# may go directly to a CUDA-aware library (cuda_array); anything else passes
# through a host buffer (HostBuffer).


def host_alias(x: Any) -> np.ndarray | None:
    """A writeable NumPy array sharing ``x``'s memory (NumPy; torch on the CPU), else None."""
    if isinstance(x, np.ndarray):
        return x if x.flags.writeable else None
    if _library_of(x) == "torch" and x.device.type == "cpu":
        return x.detach().numpy()  # the tensor's own memory
    return None


def cuda_array(x: Any) -> bool:
    """Whether ``x`` is a writeable array in CUDA memory (CuPy; torch on a CUDA GPU)."""
    return _library_of(x) in ("cupy", "torch") and hasattr(x, "__cuda_array_interface__")


class HostBuffer:
    """One host array that 1-D arrays of a backend's device are copied through.

    Page-locked ("pinned") for a CUDA GPU, so that the copies run at the
    link's speed; plain NumPy memory otherwise.

    Attributes
    ----------
    array : numpy.ndarray
        ``n`` numbers of the backend's dtype.
    pinned : bool
        Whether ``array`` is page-locked.
    """

    def __init__(self, runtime: Backend, n: int) -> None:
        self.runtime = runtime
        dtype = np.dtype(runtime.dtype_name)
        self._tensor: Any = None
        self.pinned = True
        if runtime.name == "cupy":
            import cupyx

            self.array: np.ndarray = cupyx.empty_pinned((n,), dtype=dtype)
        elif runtime.name == "torch" and getattr(runtime.device, "type", None) == "cuda":
            import torch

            self._tensor = torch.empty(n, dtype=runtime.dtype, pin_memory=True)
            self.array = self._tensor.numpy()
        else:
            self.array, self.pinned = np.empty(n, dtype), False

    def load(self, x: Array) -> np.ndarray:
        """Copy the 1-D device array ``x`` into :attr:`array` (one transfer); return it."""
        if self.runtime.name == "cupy":
            x.get(out=self.array)
        elif self._tensor is not None:
            self._tensor.copy_(x)
        else:
            np.copyto(self.array, to_numpy(x))
        return self.array

    def store(self) -> Array:
        """:attr:`array` copied to a new array on the device (one transfer)."""
        if self._tensor is not None:
            return self._tensor.to(self.runtime.device, copy=True)
        return self.runtime.asarray(self.array)
