"""Checking user data and moving it to the model's device, once.

Inputs may be Python sequences, NumPy arrays, arrays of the model's own
backend on its device, or arrays of any other library in the host's memory
(read as NumPy; another library's arrays on a device are refused). Every check
raises an exception that names the argument and says what was expected, before
anything of the model is touched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backends import Backend, array_namespace, on_host, to_numpy
from .errors import InvalidArgumentError

__all__ = ["as_features", "as_parameter", "as_targets", "check_cast", "check_narrowing",
           "foreign_to_host"]

_DATA_TYPES = ("real floating", "integral", "bool")


def _describe(x: Any) -> str:
    return f"{type(x).__module__.split('.')[0]}.{type(x).__name__}"


def _to_host_or_device(backend: Backend, x: Any, name: str) -> tuple[Any, bool]:
    """``(array, on_device)``: a NumPy array, or the backend's own array."""
    xp = backend.xp
    if backend.owns(x) and not isinstance(x, np.ndarray):
        x = backend.plain(x, name)
        if not backend.same_device(x):
            import array_api_compat

            raise ValueError(
                f"{name} is on device {array_api_compat.device(x)!r}, but the model is on "
                f"{backend.device!r}; move it there first (or pass a NumPy array)"
            )
        if not xp.isdtype(x.dtype, _DATA_TYPES):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        if x.dtype not in (xp.float32, xp.float64):
            # bfloat16, float8, bool, unsigned: not every library reduces or transfers
            # them (torch has no min for float8 or uint32, NumPy no bfloat16). They
            # become the model's dtype anyway, the narrow floats exactly, and no
            # integer overflows it: checked after the cast, they are checked as used.
            try:
                x = xp.astype(x, backend.dtype)
            except (NotImplementedError, RuntimeError, TypeError, ValueError) as exc:
                # Packed types (torch's float4_e2m1fn_x2: two values a byte) convert to nothing.
                raise TypeError(
                    f"{name} has dtype {x.dtype}, which {backend.name} cannot convert to "
                    f"{backend.dtype_name} ({type(exc).__name__}); pass it in a dtype that "
                    "can be") from None
        return x, True
    import array_api_compat

    if type(x).__module__.startswith("scipy.sparse") and hasattr(x, "toarray"):
        raise TypeError(
            f"{name} is a SciPy sparse matrix; this model trains on dense arrays: pass "
            f"{name}.toarray() (the scikit-learn estimators take sparse input as it is)")
    # One rule for arrays of another library (as the estimators): those in the host's
    # memory are read as NumPy; those on a device are refused, since moving them is a
    # transfer the caller should see. is_array_api_obj also knows torch tensors, which
    # have no __array_namespace__.
    if (hasattr(x, "__array_namespace__") or array_api_compat.is_array_api_obj(x)) and (
            not isinstance(x, (np.ndarray, np.generic))):
        x = foreign_to_host(
            x, name, f"the model computes with {backend.name!r} on '{backend.device}'",
            "build the model on that library and device")
    try:
        host = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from exc
    if host.dtype.kind == "V" and host.dtype.fields is None and np.can_cast(
            host.dtype, np.float64):
        # A library's own real type (ml_dtypes' bfloat16, float8, int4, as JAX gives
        # them): exact in float32, as on a device.
        return np.asarray(host, dtype=backend.dtype_name), False
    if host.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers (bool, int or float), got dtype {host.dtype}"
        )
    return host, False


def foreign_to_host(x: Any, name: str, computes: str, instead: str) -> np.ndarray:
    """``x``, an array of another library than the one computing, as a NumPy array.

    ``computes`` says what computes (``"the model computes with 'numpy' on 'cpu'"``),
    ``instead`` the other way out than a copy to the host.

    Raises
    ------
    ValueError
        If ``x`` lives on a device (a GPU): the message names ``name``, the
        array's library and device, and the ways out.
    """
    if not on_host(x):
        import array_api_compat

        raise ValueError(
            f"{name} is a {_describe(x)} on device '{array_api_compat.device(x)}', but "
            f"{computes}. Arrays of another library are read from the host's memory only: "
            f"copy it there first (agnostic_mlp.to_numpy({name})), or {instead}")
    try:
        return to_numpy(x)
    except (TypeError, RuntimeError, NotImplementedError, ValueError) as exc:
        why = type(exc).__name__
    # A type NumPy has no counterpart of (torch's bfloat16 and float8): its values are
    # float32 values, exactly. Anything else (packed, quantized, bit types) is refused.
    xp = array_namespace(x)
    try:
        if xp.isdtype(x.dtype, "real floating"):
            return to_numpy(xp.astype(x, xp.float32))
    except (TypeError, RuntimeError, NotImplementedError, ValueError) as exc:
        why = type(exc).__name__
    raise TypeError(
        f"{name} has dtype {x.dtype}, which cannot be read as a NumPy array ({why}); pass "
        "it in a dtype that can be (float32 or float64)")


def _summary(backend: Backend, x: Any, on_device: bool, whole: bool = False) -> list[Any]:
    """``[min, max]`` of ``x`` (and 1.0 if every value is a whole number, with ``whole``).

    On the device they come back in one transfer. ``min`` and ``max``
    propagate NaN and see infinities: two reductions check the data without a
    temporary as large as it.
    """
    if not on_device:
        # A long double stays one: past float64's range it is finite still.
        out = [v if isinstance(v, np.floating) and v.dtype.itemsize > 8 else float(v)
               for v in (np.min(x), np.max(x))]
        return [*out, float(np.all(x == np.round(x)))] if whole else out
    summary = backend.compiled(_device_summary, static_argnums=(0, 1))(backend.xp, whole, x)
    return [float(v) for v in to_numpy(summary).tolist()]


def _device_summary(xp: Any, whole: bool, x: Any) -> Any:
    parts = [xp.min(x), xp.max(x)]
    if whole:
        parts.append(xp.astype(xp.all(x == xp.round(x)), x.dtype))
    return xp.stack(parts)


def _is_float(backend: Backend, x: Any, on_device: bool) -> bool:
    return bool(backend.xp.isdtype(x.dtype, "real floating") if on_device
                else x.dtype.kind == "f")


def _check_finite(backend: Backend, x: Any, on_device: bool, low: Any, high: Any,
                  name: str, locate: bool, along: str = "index") -> None:
    """NaN or infinity now, or after the cast to the model's dtype, is an error.

    With ``locate``, the message names the first bad entry (its row and column;
    of a 1-D ``x``, its ``along``: "row", "column"), searched for only when there is one.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        where = _first(backend, x, on_device, None, along) if locate else ""
        raise ValueError(f"{name} contains NaN or infinity{where}")
    try:
        check_cast(low, high, backend.dtype_name, name, "scale the data or use dtype='float64'")
    except InvalidArgumentError as exc:
        if not locate:
            raise
        limit = float(np.finfo(backend.dtype_name).max)
        raise InvalidArgumentError(f"{exc}{_first(backend, x, on_device, limit, along)}"
                                   ) from None


def _first(backend: Backend, x: Any, on_device: bool, limit: float | None, along: str) -> str:
    """The first non-finite value of ``x`` (or, given ``limit``, the first beyond it) and
    where it is, as text: ``" (the first, nan, at row 3, column 1)"``."""
    if on_device:
        xp = backend.xp
        flat = xp.reshape(x, (-1,))
        bad = ~xp.isfinite(flat) if limit is None else xp.abs(flat) > limit
        index = int(to_numpy(xp.argmax(xp.astype(bad, xp.int8))))
        value = float(to_numpy(flat[index]))
    else:
        flat = np.reshape(x, (-1,))
        bad = ~np.isfinite(flat) if limit is None else np.abs(flat) > limit
        index = int(np.argmax(bad))
        value = float(flat[index])
    shape = tuple(x.shape)
    if len(shape) == 2:
        row, column = divmod(index, int(shape[1]))
        return f" (the first, {value:g}, at row {row}, column {column})"
    return f" (the first, {value:g}, at {along} {index})"


def check_cast(low: Any, high: Any, dtype_name: str, name: str, advice: str) -> None:
    """Refuse values between ``low`` and ``high`` that become infinite as ``dtype_name``.

    The extremes are cast as the array would be: rounding is monotonic, so the
    array overflows exactly when one of them does (a value a little past the
    largest float32 still rounds to it).

    Raises
    ------
    InvalidArgumentError
        Naming ``name``, the largest value, ``dtype_name`` and its range.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.asarray([low, high]).astype(dtype_name)
    if not np.isfinite(cast).all():
        limit = float(np.finfo(dtype_name).max)
        largest = max(abs(low), abs(high))
        raise InvalidArgumentError(
            f"{name} holds values up to {largest:.8g}, beyond {dtype_name}'s range "
            f"(±{limit:.8g}); {advice}"
        )


def check_narrowing(x: Any, dtype_name: str, name: str, advice: str) -> None:
    """Refuse an array ``x`` (of any backend) that would become infinite as ``dtype_name``.

    Nothing is read unless the dtype narrows (float64 to float32); then its
    extremes, two numbers, are computed where ``x`` lies and checked with
    :func:`check_cast`.
    """
    xp = array_namespace(x)
    if not xp.isdtype(x.dtype, "real floating") or math.prod(x.shape) == 0 or (
            float(xp.finfo(x.dtype).max) <= float(np.finfo(dtype_name).max)):
        return
    low, high = (to_numpy(v).item() for v in (xp.min(x), xp.max(x)))
    check_cast(low, high, dtype_name, name, advice)


def _check_shape(shape: tuple[int, ...], name: str, allow_1d: bool, width: str) -> None:
    if len(shape) not in ((1, 2) if allow_1d else (2,)):
        expected = f"1-D (one sample) or 2-D (n_samples, {width})" if allow_1d else (
            f"2-D (n_samples, {width})"
        )
        raise ValueError(f"{name} must be {expected}, got shape {shape}")
    if len(shape) == 2 and shape[0] == 0:
        raise ValueError(f"{name} has zero samples; at least one is needed")
    if shape[-1] == 0:
        raise ValueError(f"{name} has zero {width}; at least one is needed")


def as_features(
    backend: Backend, x: Any, n_features: int, name: str = "X", allow_1d: bool = False,
    width: str = "num_inputs", *, locate: bool = True,
) -> Any:
    """``x`` checked and on the model's device, with the model's dtype.

    ``width`` is the model's attribute that ``n_features`` is (``"num_inputs"``,
    or ``"num_outputs"`` for the rows of an output), as messages name it. A NaN
    or infinity is an error naming the first one's row and column; not with
    ``locate=False`` (a caller that checks pieces of data, and knows their rows).

    Raises
    ------
    TypeError
        If ``x`` is not real numeric data of a usable kind.
    ValueError
        If its shape, number of features, finiteness or device is wrong.
    """
    arr, on_device = _to_host_or_device(backend, x, name)
    shape = tuple(arr.shape)
    noun = "features" if width == "num_inputs" else "outputs"
    _check_shape(shape, name, allow_1d, f"n_{noun}")
    if shape[-1] != n_features:
        raise ValueError(
            f"{name} has {shape[-1]} {noun}, but the model expects {n_features} ({width})"
        )
    if _is_float(backend, arr, on_device):
        low, high = _summary(backend, arr, on_device)
        _check_finite(backend, arr, on_device, low, high, name, locate, "column")
    if on_device:
        return arr if arr.dtype == backend.dtype else backend.xp.astype(arr, backend.dtype)
    return backend.put(arr, backend.dtype_name, share=True)  # only ever read


def as_parameter(backend: Backend, value: Any, shape: tuple[int, ...], name: str) -> Any:
    """A checked copy of the parameter ``value`` on the model's device, with its dtype.

    Raises
    ------
    TypeError, ValueError
        As :func:`as_features`, and if the shape is not ``shape``.
    """
    arr, on_device = _to_host_or_device(backend, value, name)
    if tuple(arr.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(arr.shape)}")
    if _is_float(backend, arr, on_device):
        low, high = _summary(backend, arr, on_device)
        _check_finite(backend, arr, on_device, low, high, name, True)
    if on_device:
        return backend.xp.astype(arr, backend.dtype, copy=True)
    return backend.asarray(arr)


def as_targets(
    backend: Backend, y: Any, n_samples: int, n_outputs: int, kind: str, name: str = "y",
    features: str = "X", *, locate: bool = True,
) -> Any:
    """Targets ``y`` checked and on the device as a float ``(n_samples, n_outputs)`` array.

    ``kind`` is ``"regression"``, ``"binary"`` (values in [0, 1]) or
    ``"multiclass"`` (integer labels in ``[0, n_outputs)``, or one-hot rows).
    ``name`` and ``features`` are what the caller's user calls the targets and
    the features (``n_samples`` rows) they must match; ``locate`` as for
    :func:`as_features`.

    Raises
    ------
    TypeError, ValueError
        As :func:`as_features`, and for labels out of range.
    """
    xp = backend.xp
    arr, on_device = _to_host_or_device(backend, y, name)
    shape = tuple(arr.shape)
    if len(shape) == 0 or len(shape) > 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_outputs), got shape {shape}")
    if shape[0] != n_samples:
        raise ValueError(f"{name} has {shape[0]} samples, but {features} has {n_samples}")
    if len(shape) == 2 and shape[1] == 0:
        raise ValueError(f"{name} has zero outputs per sample; the model has {n_outputs}")
    labels = kind == "multiclass" and len(shape) == 1
    summary = _summary(backend, arr, on_device, whole=labels)  # one transfer
    if _is_float(backend, arr, on_device):
        _check_finite(backend, arr, on_device, summary[0], summary[1], name, locate, "row")
    if labels:
        return _one_hot(backend, arr, on_device, n_outputs, name, summary)
    if len(shape) == 1:
        if n_outputs != 1:
            raise ValueError(
                f"{name} is 1-D, but the model has {n_outputs} outputs; "
                f"give {name} the shape (n_samples, {n_outputs}), or, if {name} holds "
                "integer class labels, build the model with loss='categorical_cross_entropy' "
                f"(MLP.classifier(num_inputs, hidden_layers, {n_outputs}) does)"
            )
        shape = (shape[0], 1)
    elif shape[1] != n_outputs:
        raise ValueError(
            f"{name} has {shape[1]} outputs per sample, but the model has {n_outputs} "
            "(num_outputs)"
        )
    if kind in ("binary", "multiclass"):
        low, high = summary
        if low < 0 or high > 1:
            raise ValueError(
                f"{name} must hold {kind} targets in [0, 1] (or class labels as a 1-D "
                f"array), got values in [{low:g}, {high:g}]"
            )
    if on_device:  # as the features: the caller's array where it has the dtype (read only)
        out = arr if arr.dtype == backend.dtype else xp.astype(arr, backend.dtype)
        return xp.reshape(out, shape)
    return backend.put(np.reshape(arr, shape), backend.dtype_name, share=True)


def _one_hot(backend: Backend, labels: Any, on_device: bool, n_classes: int, name: str,
             summary: list[float]) -> Any:
    xp = backend.xp
    low, high, whole = summary
    if not whole or low < 0 or high >= n_classes:
        raise ValueError(
            f"{name} holds class labels, which must be integers in [0, {n_classes}) "
            f"(num_outputs), got values in [{low:g}, {high:g}]"
        )
    # Compared in the model's float dtype, which holds these small integers exactly
    # and needs no 64-bit integers (JAX has none by default).
    labels = backend.asarray(labels) if not on_device else xp.astype(labels, backend.dtype)
    classes = xp.arange(n_classes, dtype=backend.dtype, device=backend.device)
    return xp.astype(labels[:, None] == classes[None, :], backend.dtype)
