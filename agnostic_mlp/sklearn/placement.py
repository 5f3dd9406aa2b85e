"""Where an estimator computes, and in which namespace its inputs and outputs live.

Two cases, as scikit-learn's Array API support defines them:

- **Native**: under ``sklearn.config_context(array_api_dispatch=True)``, an
  array of another namespace (array-api-strict, PyTorch, CuPy, JAX) is computed
  on in that namespace and on its device; fitted attributes and outputs are
  arrays of it. The data stays on its device.
- **Host**: any other input (NumPy, lists, pandas, scipy.sparse) is NumPy; it is
  computed on ``backend`` (NumPy by default) and outputs come back as NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import scipy.sparse as sp
import sklearn

from ..backends import Backend, array_namespace, dtype_name, get_backend, to_numpy
from ..data import foreign_to_host

__all__ = ["Placement", "check_same_home", "dispatching", "float_dtypes", "native_home"]


def dispatching() -> bool:
    """Whether scikit-learn's ``array_api_dispatch`` is on."""
    return bool(sklearn.get_config()["array_api_dispatch"])


def native_home(X: Any) -> tuple[Any, Any] | None:
    """``(namespace, device)`` of ``X`` when it is to be computed on natively, else None.

    Outside dispatch, an array of another library on a device is refused, as the
    native models refuse it (:func:`agnostic_mlp.data.foreign_to_host`).
    """
    if not dispatching() and not isinstance(X, (np.ndarray, np.generic)) and (
            not sp.issparse(X) and array_api_compat.is_array_api_obj(X)):
        foreign_to_host(X, "X", "outside array_api_dispatch the estimator computes on "
                        "NumPy data", "compute on it where it is, under "
                        "sklearn.config_context(array_api_dispatch=True)")
        return None
    if (not dispatching() or sp.issparse(X) or isinstance(X, (np.ndarray, np.generic))
            or not array_api_compat.is_array_api_obj(X)):
        return None
    return array_namespace(X), array_api_compat.device(X)


def float_dtypes(home: tuple[Any, Any] | None) -> tuple[Any, ...]:
    """The floating dtypes validation keeps (others become the first): scikit-learn's choice."""
    if home is None:
        return (np.float64, np.float32)
    xp, device = home
    available = xp.__array_namespace_info__().dtypes(kind="real floating", device=device)
    return (xp.float64, xp.float32) if "float64" in available else (xp.float32,)


def _has_float64(backend: Any, device: Any) -> bool:
    probe = get_backend(backend, device, "float32")
    info = probe.xp.__array_namespace_info__()
    return "float64" in info.dtypes(kind="real floating", device=probe.device)


def _describe(x: Any) -> str:
    if array_api_compat.is_array_api_obj(x):
        return f"a {type(x).__module__.split('.')[0]} array on {array_api_compat.device(x)!r}"
    return f"a {type(x).__name__}"


@dataclass(frozen=True)
class Placement:
    """Where the math runs (``runtime``) and whether inputs and outputs are its arrays.

    Attributes
    ----------
    runtime : Backend
    native : bool
        True: inputs and outputs are arrays of ``runtime``'s namespace (dispatch);
        False: they are NumPy arrays.
    """

    runtime: Backend
    native: bool

    @classmethod
    def resolve(cls, backend: Any, device: Any, dtype: Any, X: Any,
                home: tuple[Any, Any] | None) -> Placement:
        """The placement for validated ``X`` (``home`` from :func:`native_home`).

        ``dtype=None`` is the data's, or float32 where the backend or device has
        no float64 (JAX without 64-bit mode, Apple's MPS), as scikit-learn does.

        Raises
        ------
        ValueError
            If ``backend`` or ``device`` names another library or device than
            that of a native ``X``.
        """
        if home is None:
            name, where = ("numpy" if backend is None else backend), device
        elif backend is None:
            name, where = home[0], home[1] if device is None else device
        else:  # where it was asked for, which must be where the data is
            name, where = backend, device
        if dtype is None:
            dtype = dtype_name(X.dtype)
            if dtype == "float64" and not _has_float64(name, where):
                dtype = "float32"
        runtime = get_backend(name, where, dtype)
        if home is not None and not (runtime.owns(X) and runtime.same_device(X)):
            raise ValueError(
                f"X is {_describe(X)}, but backend={backend!r}, device={device!r} name "
                f"{runtime.name} on {runtime.device!r}; under array_api_dispatch data is "
                "computed on where it is: leave backend and device as None, or pass NumPy data")
        return cls(runtime, home is not None)

    def output(self, a: Any) -> Any:
        """An array of the runtime as the caller gets it: itself if native, else NumPy
        (a writeable array, as scikit-learn's are: JAX's host views are read-only)."""
        if self.native:
            return a
        host = to_numpy(a)
        return host if host.flags.writeable else np.array(host, copy=True)

    def values(self, a: Any) -> Any:
        """A numeric array (NumPy, or any namespace's) on the device, in the model's dtype."""
        runtime = self.runtime
        xp = runtime.xp
        if runtime.holds(a):
            return a if a.dtype == runtime.dtype else xp.astype(a, runtime.dtype)
        host = np.asarray(to_numpy(a) if array_api_compat.is_array_api_obj(a) else a)
        return xp.asarray(host, dtype=runtime.dtype, device=runtime.device)

    def like_input(self, a: Any) -> Any:
        """``a`` (y or sample_weight) moved to the namespace and device of native data.

        Numeric arrays of another namespace or device move; anything else (lists,
        strings, host data for a host placement) is left as it is.
        """
        if not self.native or a is None or sp.issparse(a):
            return a
        runtime = self.runtime
        if not array_api_compat.is_array_api_obj(a):
            return a
        if runtime.holds(a):
            return a
        host = to_numpy(a)
        if host.dtype.kind not in "biuf":
            return a
        return runtime.xp.asarray(host, device=runtime.device)


def check_same_home(estimator: Any, X: Any, method: str) -> None:
    """Under dispatch, refuse ``X`` of another namespace or device than ``fit``'s.

    The message says ``must use the same namespace`` and names
    ``Class.method()``, as scikit-learn's own check does.
    """
    if not dispatching():
        return
    placement: Placement = estimator._placement
    home = native_home(X)
    if home is None and not placement.native:
        return
    runtime = placement.runtime
    if home is not None and placement.native and runtime.owns(X) and runtime.same_device(X):
        return
    fitted = (f"{runtime.name} arrays on {runtime.device!r}" if placement.native
              else "NumPy arrays")
    raise ValueError(
        f"Inputs passed to {type(estimator).__name__}.{method}() must use the same namespace "
        f"and the same device as those passed to fit(): it was fitted on {fitted}, and X is "
        f"{_describe(X)}. Fit again on data of the namespace and device to use.")
