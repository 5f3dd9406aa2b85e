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
from ..data import check_narrowing, foreign_to_host
from ..errors import InvalidArgumentError
from ..streaming import is_streamed

__all__ = ["NARROWING_ADVICE", "Placement", "check_same_home", "checked_input", "dispatching",
           "float_dtypes", "native_home"]

#: What a refusal of values the estimator's dtype cannot hold advises.
NARROWING_ADVICE = "scale the data or use dtype='float64'"


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


def checked_input(a: Any, name: str, native: bool) -> Any:
    """``a`` (``X``, ``y`` or ``sample_weight``) in a dtype scikit-learn's checks and the
    estimator's namespace can read.

    - Complex numbers are refused, naming ``name`` (they would lose their
      imaginary parts).
    - Numbers of a type NumPy has no dtype for (bfloat16, float8, int4: torch's,
      JAX's, ml_dtypes') are read as float32, exactly (every value of them is one).
    - Unless ``native`` (computed on where it is, under ``array_api_dispatch``),
      another library's array in the host's memory is read as NumPy; one on a
      device, or of a type no NumPy dtype holds, is refused naming ``name``.

    Anything else (NumPy, lists, sparse matrices, data on disk) is returned as it is.
    """
    if a is None or sp.issparse(a) or is_streamed(a) or not hasattr(a, "dtype"):
        return a
    if not isinstance(a, (np.ndarray, np.generic)) and array_api_compat.is_array_api_obj(a):
        xp = array_namespace(a)
        if xp.isdtype(a.dtype, "complex floating"):
            raise ValueError(f"Complex data not supported: {name} has dtype {a.dtype}; "
                             "the estimators take real data")
        if native:
            usual = (xp.float32, xp.float64, *([xp.float16] if hasattr(xp, "float16") else []))
            if xp.isdtype(a.dtype, "real floating") and a.dtype not in usual:
                return xp.astype(a, xp.float32)
            return a
        a = foreign_to_host(a, name, "outside array_api_dispatch the estimator computes on "
                            "NumPy data", "compute on it where it is, under "
                            "sklearn.config_context(array_api_dispatch=True)")
    if isinstance(a, (np.ndarray, np.generic)):
        if a.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} has dtype {a.dtype}; "
                             "the estimators take real data")
        if a.dtype.kind in "fV" and a.dtype.fields is None and a.dtype.type not in (
                np.float16, np.float32, np.float64, np.longdouble) and np.can_cast(
                a.dtype, np.float64):
            return np.asarray(a, dtype=np.float32)  # ml_dtypes' bfloat16, float8, int4
    return a


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

    def values(self, a: Any, name: str | None = None) -> Any:
        """A numeric array (NumPy, or any namespace's) on the device, in the model's dtype.

        With ``name`` (the user's argument: ``"y"``, ``"sample_weight"``), a value
        the model's dtype cannot hold is refused (InvalidArgumentError naming it)
        instead of becoming infinite.
        """
        runtime = self.runtime
        xp = runtime.xp
        if runtime.holds(a):
            if name is not None:
                check_narrowing(a, runtime.dtype_name, name, NARROWING_ADVICE)
            return a if a.dtype == runtime.dtype else xp.astype(a, runtime.dtype)
        host = np.asarray(to_numpy(a) if array_api_compat.is_array_api_obj(a) else a)
        if name is not None:
            check_narrowing(host, runtime.dtype_name, name, NARROWING_ADVICE)
        return xp.asarray(host, dtype=runtime.dtype, device=runtime.device)

    def sample_weights(self, w: Any) -> Any:
        """Checked (finite) sample weights on the device, in the model's dtype.

        A weight, or their sum (which divides the loss, in the model's dtype),
        that the dtype cannot hold is refused, naming ``sample_weight``.
        """
        out = self.values(w, "sample_weight")  # each weight (scikit-learn allows negative ones)
        xp = array_namespace(w)
        total = float(to_numpy(xp.sum(w)))
        limit = float(np.finfo(self.runtime.dtype_name).max)
        if abs(total) > limit:
            raise InvalidArgumentError(
                f"sample_weight sums to {total:.8g}, beyond {self.runtime.dtype_name}'s range "
                f"(±{limit:.8g}); scale the weights down or use dtype='float64'")
        return out

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
