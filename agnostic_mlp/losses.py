"""Loss functions, written once against the Array API.

A loss gives its value (a 0-d array, left on the device) and ``delta``, the
gradient with respect to the output layer's pre-activation ``z``. The
cross-entropies are computed from ``z`` (the logits) and fuse their gradient
with the output activation's: ``softmax(z) - y`` and ``sigmoid(z) - y``.
"""

from __future__ import annotations

import math
from typing import Any

from .activations import Activation

__all__ = ["LOSSES", "Loss", "get_loss"]


class Loss:
    """Base class for losses over a batch.

    Attributes
    ----------
    name : str
        The name it is chosen by.
    output_activation : str or None
        The output activation the loss requires (and defaults to), if any.
    classifier : bool
        Whether targets are class labels (accuracy is then reported).
    """

    name = ""
    output_activation: str | None = None
    classifier = False

    def value(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        """The mean loss of outputs ``a`` (pre-activation ``z``) against targets ``y``."""
        raise NotImplementedError

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation
    ) -> tuple[Any, Any]:
        """The mean loss and its gradient with respect to ``z``."""
        raise NotImplementedError


class MeanSquaredError(Loss):
    """The mean over all elements of ``(a - y)**2``, as ``torch.nn.MSELoss``."""

    name = "mse"

    def value(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        d = a - y
        return xp.sum(d * d) / float(math.prod(d.shape))

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation
    ) -> tuple[Any, Any]:
        d = a - y
        value = xp.sum(d * d) / float(math.prod(d.shape))
        d *= 2.0 / math.prod(d.shape)
        return value, activation.backward(xp, a, d)


class TutorialError(MeanSquaredError):
    """The tutorial's convention: reports the MSE, descends half the squared error.

    The gradient is that of ``0.5 * sum((y - a)**2)`` per sample, averaged over
    the batch, which is what the tutorial's ``back_propagate(target - output)``
    followed by ``gradient_descent`` applies.
    """

    name = "tutorial"

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation
    ) -> tuple[Any, Any]:
        d = a - y
        value = xp.sum(d * d) / float(math.prod(d.shape))
        d /= float(d.shape[0])
        return value, activation.backward(xp, a, d)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``.

    The mean over all elements of ``log(1 + exp(z)) - y * z``; it needs a
    sigmoid output.
    """

    name = "binary_cross_entropy"
    output_activation = "sigmoid"
    classifier = True

    def value(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        return xp.sum(xp.logaddexp(xp.zeros_like(z), z) - y * z) / float(math.prod(z.shape))

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation
    ) -> tuple[Any, Any]:
        delta = a - y
        delta /= float(math.prod(z.shape))
        return self.value(xp, y, a, z), delta


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    The mean over samples of ``logsumexp(z) - sum(y * z)`` for one-hot (or
    probability) targets ``y``; it needs a softmax output.
    """

    name = "categorical_cross_entropy"
    output_activation = "softmax"
    classifier = True

    def value(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        m = xp.max(z, axis=-1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(z - m), axis=-1)) + m[:, 0]
        return xp.sum(lse - xp.sum(y * z, axis=-1)) / float(z.shape[0])

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation
    ) -> tuple[Any, Any]:
        delta = a - y
        delta /= float(z.shape[0])
        return self.value(xp, y, a, z), delta


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (MeanSquaredError, BinaryCrossEntropy, CategoricalCrossEntropy)
}


def get_loss(loss: str | Loss) -> Loss:
    """A :class:`Loss` from its name (or the instance itself).

    Raises
    ------
    ValueError
        If the name is unknown.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
