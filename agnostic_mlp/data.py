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

from .backends import Backend, on_host, to_numpy

__all__ = ["as_features", "as_parameter", "as_targets", "foreign_to_host"]

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
    return to_numpy(x)


def _summary(backend: Backend, x: Any, on_device: bool, whole: bool = False) -> list[float]:
    """``[min, max]`` of ``x`` (and 1.0 if every value is a whole number, with ``whole``).

    On the device they come back in one transfer. ``min`` and ``max``
    propagate NaN and see infinities: two reductions check the data without a
    temporary as large as it.
    """
    if not on_device:
        out = [float(np.min(x)), float(np.max(x))]
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


def _check_finite(backend: Backend, x: Any, on_device: bool, low: float, high: float,
                  name: str, locate: bool, along: str = "index") -> None:
    """NaN or infinity now, or after the cast to the model's dtype, is an error.

    With ``locate``, the message names the first bad entry (its row and column;
    of a 1-D ``x``, its ``along``: "row", "column"), searched for only when there is one.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        where = _first(backend, x, on_device, None, along) if locate else ""
        raise ValueError(f"{name} contains NaN or infinity{where}")
    limit = float(np.finfo(backend.dtype_name).max)
    largest = max(-low, high)
    if largest > limit:
        where = _first(backend, x, on_device, limit, along) if locate else ""
        raise ValueError(
            f"{name} holds values up to {largest:g}, beyond {backend.dtype_name}'s range "
            f"(±{limit:g}){where}; scale the data or use dtype='float64'"
        )


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
    *, locate: bool = True,
) -> Any:
    """``x`` checked and on the model's device, with the model's dtype.

    A NaN or infinity is an error naming the first one's row and column; not
    with ``locate=False`` (a caller that checks pieces of data, and knows their rows).

    Raises
    ------
    TypeError
        If ``x`` is not real numeric data of a usable kind.
    ValueError
        If its shape, number of features, finiteness or device is wrong.
    """
    arr, on_device = _to_host_or_device(backend, x, name)
    shape = tuple(arr.shape)
    _check_shape(shape, name, allow_1d, "n_features")
    if shape[-1] != n_features:
        raise ValueError(
            f"{name} has {shape[-1]} features, but the model expects {n_features} "
            "(num_inputs)"
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
    *, locate: bool = True,
) -> Any:
    """Targets ``y`` checked and on the device as a float ``(n_samples, n_outputs)`` array.

    ``kind`` is ``"regression"``, ``"binary"`` (values in [0, 1]) or
    ``"multiclass"`` (integer labels in ``[0, n_outputs)``, or one-hot rows);
    ``locate`` as for :func:`as_features`.

    Raises
    ------
    TypeError, ValueError
        As :func:`as_features`, and for labels out of range.
    """
    xp = backend.xp
    arr, on_device = _to_host_or_device(backend, y, name)
    if on_device and xp.isdtype(arr.dtype, "bool"):
        # Strict namespaces have no min, max or round for booleans.
        arr = xp.astype(arr, backend.dtype)
    shape = tuple(arr.shape)
    if len(shape) == 0 or len(shape) > 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_outputs), got shape {shape}")
    if shape[0] != n_samples:
        raise ValueError(f"{name} has {shape[0]} samples, but X has {n_samples}")
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
    if on_device:
        out = xp.astype(arr, backend.dtype)
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
