"""Loss functions, written once against the Array API.

A loss gives per-sample values (left on the device: the training loop sums
them once per epoch) and ``delta``, the gradient of the batch's mean loss with
respect to the output layer's pre-activation ``z``. Classification losses
also say how outputs become class labels. The
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
    target_kind : {"regression", "binary", "multiclass"}
        What targets mean; classifiers report accuracy.
    mean_over_outputs : bool
        Whether :meth:`sample_sums` are to be divided by the number of outputs.
    """

    name = ""
    output_activation: str | None = None
    target_kind = "regression"
    mean_over_outputs = True

    @property
    def classifier(self) -> bool:
        """Whether targets are class labels."""
        return self.target_kind != "regression"

    def labels(self, xp: Any, p: Any, index_dtype: Any) -> Any:
        """Predicted class labels from outputs ``p``."""
        raise TypeError(f"loss {self.name!r} does not classify")

    def probabilities(self, xp: Any, p: Any) -> Any:
        """Class probabilities from outputs ``p``, one column per class."""
        raise TypeError(f"loss {self.name!r} does not classify")

    def correct(self, xp: Any, y: Any, p: Any) -> Any:
        """How many samples' predicted labels all match ``y`` (a 0-d device array)."""
        raise TypeError(f"loss {self.name!r} does not classify")

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
        return xp.vecdot(d, d), self._delta_of(xp, d, a, activation, scale)

    def delta(self, xp: Any, y: Any, a: Any, z: Any, activation: Activation, scale: float) -> Any:
        return self._delta_of(xp, a - y, a, activation, scale)

    def _delta_of(self, xp: Any, d: Any, a: Any, activation: Activation, scale: float) -> Any:
        # Out of place, as Sigmoid.backward: NumPy's in-place operators are slow
        # on one-element arrays.
        return activation.backward(xp, a, d * (self._factor(d.shape) * scale))

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
    target_kind = "binary"

    def labels(self, xp: Any, p: Any, index_dtype: Any) -> Any:
        labels = xp.astype(p >= 0.5, index_dtype)
        return labels[..., 0] if p.shape[-1] == 1 else labels

    def probabilities(self, xp: Any, p: Any) -> Any:
        # One sigmoid output is P(class 1): two columns, as scikit-learn gives.
        return xp.concat([1.0 - p, p], axis=-1) if p.shape[-1] == 1 else p

    def correct(self, xp: Any, y: Any, p: Any) -> Any:
        # A sample counts when all its outputs are right (scikit-learn's subset accuracy).
        hits = xp.all((p >= 0.5) == (y >= 0.5), axis=-1)
        return xp.sum(xp.astype(hits, p.dtype))

    def sample_sums(self, xp: Any, y: Any, a: Any, z: Any) -> Any:
        return xp.sum(xp.logaddexp(0.0, z) - y * z, axis=-1)

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
    target_kind = "multiclass"
    mean_over_outputs = False

    def labels(self, xp: Any, p: Any, index_dtype: Any) -> Any:
        return xp.argmax(p, axis=-1)

    def probabilities(self, xp: Any, p: Any) -> Any:
        return p

    def correct(self, xp: Any, y: Any, p: Any) -> Any:
        hits = xp.argmax(p, axis=-1) == xp.argmax(y, axis=-1)
        return xp.sum(xp.astype(hits, p.dtype))

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
