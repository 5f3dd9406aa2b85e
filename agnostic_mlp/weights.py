"""Per-sample weights for :meth:`~agnostic_mlp.Network.fit`: ``sample_weight`` and
``class_weight``, checked and combined as scikit-learn's estimators combine them.

``class_weight`` follows :func:`sklearn.utils.class_weight.compute_sample_weight`:
``"balanced"`` weighs each class by ``n_samples / (n_classes * count)``, a dict
``{label: weight}`` by its entry (1 for a label it leaves out), and each output
of a multi-label model by its own weights, multiplied. No scikit-learn needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from .backends import Backend, to_numpy
from .data import foreign_to_host
from .errors import InvalidArgumentError

__all__ = ["class_weights", "sample_weights"]


def sample_weights(backend: Backend, sample_weight: Any, class_weight: Any, targets: Any,
                   kind: str, n_rows: int, keep: int) -> Any:
    """The weights of the first ``keep`` of ``n_rows`` rows, on the device, or None.

    Parameters
    ----------
    backend : Backend
        The model's.
    sample_weight : array-like of shape (n_rows,), number or None
        Non-negative, finite, not all zero.
    class_weight : None, "balanced" or dict
        For classifiers only (``kind`` ``"binary"`` or ``"multiclass"``).
    targets : array
        The checked training targets of the ``keep`` rows, ``(keep, n_outputs)``
        (one-hot rows for ``"multiclass"``).
    kind : str
        The loss's task: ``"regression"``, ``"binary"`` or ``"multiclass"``.
    n_rows, keep : int
        ``sample_weight``'s length (the rows given to ``fit``), and how many of
        them are trained on (the rest held out by ``validation_split``).

    Raises
    ------
    InvalidArgumentError
        If either is malformed, or ``class_weight`` is given to a regressor.
    """
    if sample_weight is None and class_weight is None:
        return None
    weights = np.ones(keep)
    if sample_weight is not None:
        weights = _checked_sample_weight(backend, sample_weight, n_rows)[:keep]
    if class_weight is not None:
        weights = weights * class_weights(class_weight, to_numpy(targets), kind)
    if not np.any(weights > 0):
        raise InvalidArgumentError(
            "sample_weight (times class_weight) is zero for every training sample; at least "
            "one must weigh more")
    # Their sum, in the model's dtype, divides the loss; if it fits, every weight does.
    name = "sample_weight" if class_weight is None else "class_weight" if (
        sample_weight is None) else "sample_weight times class_weight"
    with np.errstate(over="ignore"):
        total = np.asarray(np.sum(weights), dtype=backend.dtype_name)
    if not math.isfinite(float(total)):
        raise InvalidArgumentError(f"{name} sums to {float(np.sum(weights)):g}, beyond "
                                   f"{backend.dtype_name}'s range; scale the weights down")
    return backend.asarray(weights)


def _checked_sample_weight(backend: Backend, sample_weight: Any, n: int) -> np.ndarray:
    if isinstance(sample_weight, bool):
        raise InvalidArgumentError("sample_weight must be a number or an array, got a bool")
    if isinstance(sample_weight, (int, float, np.number)):
        sample_weight = np.full(n, float(sample_weight))
    if backend.owns(sample_weight):
        sample_weight = to_numpy(sample_weight)
    elif array_api_compat.is_array_api_obj(sample_weight) and not isinstance(
            sample_weight, (np.ndarray, np.generic)):
        sample_weight = foreign_to_host(
            sample_weight, "sample_weight",
            f"the model computes with {backend.name!r} on '{backend.device}'",
            "pass an array of the model's backend")
    try:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf" and not (w.dtype.kind == "V" and w.dtype.fields is None
                                              and np.can_cast(w.dtype, np.float64)):
            # Complex weights would lose their imaginary parts; strings are not numbers.
            raise TypeError(f"got dtype {w.dtype}")
        w = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"sample_weight must be real numbers: {exc}") from exc
    if w.shape != (n,):
        raise InvalidArgumentError(
            f"sample_weight must have one weight per sample of X, shape ({n},), got shape "
            f"{w.shape}")
    if not np.all(np.isfinite(w)):
        first = int(np.argmax(~np.isfinite(w)))
        raise InvalidArgumentError(
            f"sample_weight contains NaN or infinity (the first, {w[first]:g}, at row {first})")
    if np.any(w < 0):
        first = int(np.argmax(w < 0))
        raise InvalidArgumentError(
            f"sample_weight must be non-negative, got {w[first]:g} at row {first}")
    return w


def class_weights(class_weight: Any, targets: np.ndarray, kind: str) -> np.ndarray:
    """Each row's weight from its class (the product over outputs, for multi-label).

    Parameters
    ----------
    class_weight : "balanced" or dict
        A dict maps class indices (``0 .. n_classes - 1``; 0 and 1 for each output of
        ``"binary"``) to weights.
    targets : ndarray
        Encoded targets on the host: one-hot rows (``"multiclass"``), or 0/1 columns.
    kind : str
        ``"binary"`` or ``"multiclass"``.

    Returns
    -------
    ndarray
        Float64 weights, one per row, as scikit-learn's ``compute_sample_weight``.
    """
    if kind not in ("binary", "multiclass"):
        raise InvalidArgumentError(
            "class_weight needs a classifier (a cross-entropy loss, as MLP.classifier "
            f"builds); this model's task is {kind!r}: use sample_weight")
    if not ((isinstance(class_weight, str) and class_weight == "balanced")
            or isinstance(class_weight, Mapping)):
        raise InvalidArgumentError(
            f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got "
            f"{class_weight!r}")
    if kind == "multiclass":
        if not np.all((targets == 0) | (targets == 1)) or not np.all(targets.sum(axis=1) == 1):
            raise InvalidArgumentError(
                "class_weight needs hard class labels; y holds soft (probability) targets")
        columns = [np.argmax(targets, axis=1)]
        n_classes = int(targets.shape[1])
    else:
        if not np.all((targets == 0) | (targets == 1)):
            raise InvalidArgumentError(
                "class_weight needs hard 0/1 labels; y holds soft (probability) targets")
        columns = [targets[:, j].astype(np.int64) for j in range(targets.shape[1])]
        n_classes = 2
    weights = np.ones(targets.shape[0])
    for labels in columns:
        weights *= _per_class(class_weight, labels, n_classes)[labels]
    return weights


def _per_class(class_weight: Any, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The weight of each class ``0 .. n_classes - 1``."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if isinstance(class_weight, str):  # "balanced": over the classes present, as scikit-learn
        present = counts > 0
        out = np.ones(n_classes)
        out[present] = labels.shape[0] / (np.count_nonzero(present) * counts[present])
        return out
    out = np.ones(n_classes)
    for label, weight in class_weight.items():
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not (
                0 <= label < n_classes):
            raise InvalidArgumentError(
                f"class_weight's labels must be the model's classes, integers in "
                f"[0, {n_classes}), got {label!r}")
        value = float(weight)
        if not (math.isfinite(value) and value >= 0):
            raise InvalidArgumentError(
                f"class_weight[{label}] must be a finite non-negative number, got {weight!r}")
        out[int(label)] = value
    return out
