"""What targets mean: regression values, binary labels or one class among several.

A task says how a model's outputs become class labels and probabilities and
how many predictions are right; a loss names its task.
"""

from __future__ import annotations

from ._typing import Array, DType, Namespace

__all__ = ["TASKS", "Task"]


class Task:
    """Regression: targets are values; nothing to classify.

    Attributes
    ----------
    name : {"regression", "binary", "multiclass"}
        What targets mean; it is also how :mod:`agnostic_mlp.data` checks them.
    classifier : bool
        Whether targets are class labels (and accuracy is reported).
    """

    name = "regression"
    classifier = False

    def labels(self, xp: Namespace, p: Array, index_dtype: DType) -> Array:
        """Predicted class labels from outputs ``p``."""
        raise TypeError(f"a {self.name} model does not classify")

    def probabilities(self, xp: Namespace, p: Array) -> Array:
        """Class probabilities from outputs ``p``, one column per class."""
        raise TypeError(f"a {self.name} model does not classify")

    def hits(self, xp: Namespace, y: Array, p: Array) -> Array:
        """Whether each sample's predicted labels all match ``y`` (a boolean device array)."""
        raise TypeError(f"a {self.name} model does not classify")

    def correct(self, xp: Namespace, y: Array, p: Array) -> Array:
        """How many samples' predicted labels all match ``y`` (a 0-d device array)."""
        return xp.sum(xp.astype(self.hits(xp, y, p), p.dtype))


class Binary(Task):
    """One or more independent yes/no labels, from sigmoid outputs."""

    name = "binary"
    classifier = True

    def labels(self, xp: Namespace, p: Array, index_dtype: DType) -> Array:
        labels = xp.astype(p >= 0.5, index_dtype)
        return labels[..., 0] if p.shape[-1] == 1 else labels

    def probabilities(self, xp: Namespace, p: Array) -> Array:
        # One sigmoid output is P(class 1): two columns, as scikit-learn gives.
        return xp.concat([1.0 - p, p], axis=-1) if p.shape[-1] == 1 else p

    def hits(self, xp: Namespace, y: Array, p: Array) -> Array:
        # A sample counts when all its outputs are right (scikit-learn's subset accuracy).
        return xp.all((p >= 0.5) == (y >= 0.5), axis=-1)


class Multiclass(Task):
    """One class among several, from softmax outputs (one-hot targets)."""

    name = "multiclass"
    classifier = True

    def labels(self, xp: Namespace, p: Array, index_dtype: DType) -> Array:
        return xp.argmax(p, axis=-1)

    def probabilities(self, xp: Namespace, p: Array) -> Array:
        return p

    def hits(self, xp: Namespace, y: Array, p: Array) -> Array:
        return xp.argmax(p, axis=-1) == xp.argmax(y, axis=-1)


TASKS: dict[str, Task] = {task.name: task for task in (Task(), Binary(), Multiclass())}
