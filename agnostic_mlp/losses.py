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

    A loss is the mean over samples of per-sample losses; for the elementwise
    losses (MSE, binary cross-entropy) each sample's loss is itself the mean
    over its outputs, as PyTorch's default ``reduction="mean"``.

    Attributes
    ----------
    name : str
        The name it is chosen by.
    output_activation : str or None
        The output activation the loss requires (and defaults to), if any.
    classifier : bool
        Whether targets are class labels (accuracy is then reported).
    mean_over_outputs : bool
        Whether :meth:`sample_sums` are to be divided by the number of outputs.
    """

    name = ""
    output_activation: str | None = None
    classifier = False
    mean_over_outputs = True

    def sample_sums(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        """Per-sample losses, summed over outputs: shape ``(n_samples,)``."""
        raise NotImplementedError

    def delta(self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float) -> Any:
        """The gradient of the batch's mean loss with respect to ``z``, times ``scale``."""
        raise NotImplementedError

    def divisor(self, y: Any) -> int:
        """What a sum of :meth:`sample_sums` over ``y``'s samples is divided by for the mean."""
        return math.prod(y.shape) if self.mean_over_outputs else int(y.shape[0])

    def value(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        """The mean loss of outputs ``a`` (pre-activation ``z``) against targets ``y``."""
        return xp.sum(self.sample_sums(xp, y, a, z)) / float(self.divisor(y))

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float = 1.0
    ) -> tuple[Any, Any]:
        """:meth:`sample_sums` and :meth:`delta` together, sharing their work.

        The training loop sums the per-sample losses over an epoch on the
        device, so no step needs a reduction to a scalar of its own.
        """
        return self.sample_sums(xp, y, a, z), self.delta(xp, y, a, z, activation, scale)


class MeanSquaredError(Loss):
    """The mean over all elements of ``(a - y)**2``, as ``torch.nn.MSELoss``."""

    name = "mse"

    def sample_sums(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        d = a - y
        return xp.vecdot(d, d)

    def value_and_delta(
        self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float = 1.0
    ) -> tuple[Any, Any]:
        d = a - y
        sums = xp.vecdot(d, d)
        d *= self._factor(d.shape) * scale
        return sums, activation.backward(xp, a, d)

    def delta(self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float) -> Any:
        return self.value_and_delta(xp, y, a, z, activation, scale)[1]

    def _factor(self, shape: tuple[int, ...]) -> float:
        return 2.0 / math.prod(shape)


class TutorialError(MeanSquaredError):
    """The tutorial's convention: reports the MSE, descends half the squared error.

    The gradient is that of ``0.5 * sum((y - a)**2)`` per sample, averaged over
    the batch, which is what the tutorial's ``back_propagate(target - output)``
    followed by ``gradient_descent`` applies.
    """

    name = "tutorial"

    def _factor(self, shape: tuple[int, ...]) -> float:
        return 1.0 / shape[0]


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``.

    The mean over all elements of ``log(1 + exp(z)) - y * z``; it needs a
    sigmoid output.
    """

    name = "binary_cross_entropy"
    output_activation = "sigmoid"
    classifier = True

    def sample_sums(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        return xp.sum(xp.logaddexp(xp.zeros_like(z), z) - y * z, axis=-1)

    def delta(self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float) -> Any:
        d = a - y
        d *= scale / math.prod(z.shape)
        return d


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    The mean over samples of ``logsumexp(z) - sum(y * z)`` for one-hot (or
    probability) targets ``y``; it needs a softmax output.
    """

    name = "categorical_cross_entropy"
    output_activation = "softmax"
    classifier = True
    mean_over_outputs = False

    def sample_sums(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        m = xp.max(z, axis=-1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(z - m), axis=-1)) + m[:, 0]
        return lse - xp.vecdot(y, z)

    def delta(self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float) -> Any:
        d = a - y
        d *= scale / z.shape[0]
        return d


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
