"""Class labels <-> the network's targets and outputs, as scikit-learn's MLPClassifier
binarizes them.

- **binary** (two classes, or one): one logistic output, the target is
  ``y == classes_[1]``; a label is ``classes_[p > 0.5]``.
- **multiclass**: one softmax output per class, one-hot targets; a label is
  ``classes_[argmax(p)]``.
- **multilabel-indicator** (a 0/1 matrix): one logistic output per label; the
  prediction is the matrix ``p > 0.5``.

Numeric labels of the model's namespace (under array_api_dispatch) stay on the
device; any other labels (strings included) are kept on the host, and only the
encoded targets and the chosen indices cross.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import type_of_target, unique_labels

from .._typing import Array
from ..backends import Backend, to_numpy

__all__ = ["LabelCoder", "as_host"]


def as_host(a: Any) -> np.ndarray:
    """A NumPy array of any namespace's array, or of a list."""
    return to_numpy(a) if array_api_compat.is_array_api_obj(a) else np.asarray(a)


def _on(runtime: Backend, a: Any) -> bool:
    """Whether ``a`` is an array of the runtime's namespace on its device."""
    return runtime.holds(a) or (
        runtime.name == "numpy" and isinstance(a, np.ndarray) and a.dtype.kind in "biuf")


@dataclass(frozen=True)
class LabelCoder:
    """The classes and how targets encode them.

    Attributes
    ----------
    classes : array
        The sorted classes (``classes_``), NumPy or the model's namespace.
    kind : {"binary", "multiclass", "multilabel-indicator"}
    """

    classes: Any
    kind: str

    @classmethod
    def fit(cls, y: Any) -> LabelCoder:
        """The coder of the labels in ``y`` (or of a list of classes).

        Raises
        ------
        ValueError
            For continuous or multi-output multiclass targets, or no sample.
        """
        if sp.issparse(y):
            y = y.toarray()
        kind = type_of_target(y, input_name="y")
        if "multioutput" in kind:
            raise ValueError("Multioutput target data is not supported with label binarization")
        if int(y.shape[0] if hasattr(y, "shape") else len(y)) == 0:
            raise ValueError(f"y has 0 samples: {y!r}")
        return cls(unique_labels(y), kind)  # "Unknown label type" for continuous targets

    @property
    def n_outputs(self) -> int:
        """The network's outputs."""
        return 1 if self.kind == "binary" else int(self.classes.shape[0])

    @property
    def out_activation(self) -> str:
        """scikit-learn's ``out_activation_``."""
        return "softmax" if self.kind == "multiclass" else "logistic"

    def same_classes(self, y: Any) -> bool:
        """Whether the labels of ``y`` are exactly the classes (for warm_start)."""
        return set(as_host(unique_labels(y)).tolist()) == set(as_host(self.classes).tolist())

    def unseen(self, y: Any) -> list[Any]:
        """The labels of ``y`` that are not classes."""
        known = set(as_host(self.classes).tolist())
        return [c for c in as_host(unique_labels(y)).tolist() if c not in known]

    def encode(self, runtime: Backend, y: Any) -> Array:
        """The targets of labels ``y``: a float ``(n_samples, n_outputs)`` device array."""
        if sp.issparse(y):
            y = y.toarray()
        if _on(runtime, y) and _on(runtime, self.classes):
            xp, classes = runtime.xp, self.classes
            if self.kind == "multilabel-indicator":
                hits = y
            elif self.kind == "binary":
                hits = (y == classes[1])[:, None] if classes.shape[0] > 1 else (
                    xp.zeros((y.shape[0], 1), dtype=runtime.dtype, device=runtime.device))
            else:
                hits = y[:, None] == classes[None, :]
            return xp.astype(hits, runtime.dtype)
        host_y, host_classes = as_host(y), as_host(self.classes)
        if self.kind == "multilabel-indicator":
            host = host_y
        elif self.kind == "binary":
            host = ((host_y == host_classes[1])[:, None] if host_classes.shape[0] > 1
                    else np.zeros((host_y.shape[0], 1)))
        else:
            host = host_y[:, None] == host_classes[None, :]
        return runtime.xp.asarray(np.asarray(host, dtype=runtime.dtype_name), device=runtime.device)

    def decode(self, runtime: Backend, p: Array, native: bool) -> Any:
        """Labels from outputs ``p`` (device): in the namespace of ``classes``, or of the
        runtime for a multilabel matrix (NumPy unless ``native``)."""
        xp = runtime.xp
        index_dtype = runtime.index_dtype
        if self.kind == "multilabel-indicator":
            labels = xp.astype(p > 0.5, index_dtype)
            return labels if native else to_numpy(labels)
        if self.kind == "multiclass":
            index = xp.argmax(p, axis=1)
        else:
            index = xp.astype(p[:, 0] > 0.5, index_dtype)
        single = self.kind == "binary" and int(self.classes.shape[0]) == 1
        if _on(runtime, self.classes) and (native or runtime.name == "numpy"):
            classes = self.classes
            if single:
                return xp.take(classes, xp.zeros_like(index), axis=0)
            return xp.take(classes, index, axis=0)
        host_classes = as_host(self.classes)
        host_index = to_numpy(index)
        return host_classes[np.zeros_like(host_index) if single else host_index]
