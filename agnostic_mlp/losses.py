"""Loss functions, written once against the Array API.

A loss gives per-sample sums (kept on the device: the training loop adds
them up once per epoch) and ``delta``, the gradient of the batch's mean loss
with respect to the output layer's pre-activation ``z``. The cross-entropies
are computed from ``z`` (the logits) and fuse their gradient with the output
activation's: ``softmax(z) - y`` and ``sigmoid(z) - y``.
"""

from __future__ import annotations

import math

from ._typing import Array, Namespace
from .activations import Activation
from .components import Component
from .errors import InvalidArgumentError
from .tasks import TASKS, Task

__all__ = ["LOSSES", "Loss", "get_loss"]


class Loss(Component):
    """Base class for losses over a batch.

    A loss is the mean over samples of per-sample losses; for the elementwise
    losses (MSE, binary cross-entropy) each sample's loss is itself the mean
    over its outputs, as PyTorch's default ``reduction="mean"``.

    Attributes
    ----------
    output_activation : str or None
        The output activation the loss requires (and defaults to), if any.
    task : str
        The name of its :class:`~agnostic_mlp.tasks.Task`: ``"regression"``,
        ``"binary"`` or ``"multiclass"``.
    mean_over_outputs : bool
        Whether :meth:`sample_sums` are divided by the number of outputs for the mean.
    """

    output_activation: str | None = None
    task = "regression"
    mean_over_outputs = True

    @property
    def head(self) -> Task:
        """The :class:`~agnostic_mlp.tasks.Task` of this loss's targets."""
        return TASKS[self.task]

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        """Per-sample losses, summed over outputs: shape ``(n_samples,)``."""
        raise NotImplementedError

    def delta(self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
              scale: float = 1.0) -> Array:
        """The gradient of the batch's mean loss with respect to ``z``, times ``scale``.

        ``scale`` (a step size folded in by plain SGD, or -1 for momentum's
        buffers) joins the loss's own constant factor, so it costs no pass of
        its own.
        """
        raise NotImplementedError

    def sums_and_delta(
        self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
        scale: float = 1.0,
    ) -> tuple[Array, Array]:
        """:meth:`sample_sums` and :meth:`delta` together, sharing their work."""
        return self.sample_sums(xp, y, a, z), self.delta(xp, y, a, z, activation, scale)

    def per_sample(self, n_outputs: int) -> int:
        """What one sample's sum is divided by for its loss (its outputs, or 1)."""
        return n_outputs if self.mean_over_outputs else 1

    def value(self, xp: Namespace, y: Array, a: Array, z: Array,
              weights: Array | None = None) -> Array:
        """The mean loss of outputs ``a`` (pre-activation ``z``) against targets ``y``.

        With per-sample ``weights`` the mean is weighted: ``sum(w * loss) / sum(w)``.
        A loss may override it to reduce in another order: full-batch L-BFGS
        compares these values in its line search, to the last bit.
        """
        sums = self.sample_sums(xp, y, a, z)
        if weights is None:
            return xp.sum(sums) / float(y.shape[0] * self.per_sample(y.shape[-1]))
        return xp.sum(weights * sums) / (xp.sum(weights) * float(self.per_sample(y.shape[-1])))


class MeanSquaredError(Loss):
    """The mean over all elements of ``(a - y)**2``, as ``torch.nn.MSELoss``."""

    name = "mse"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        d = a - y
        return xp.vecdot(d, d)

    def sums_and_delta(
        self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
        scale: float = 1.0,
    ) -> tuple[Array, Array]:
        d = a - y
        return xp.vecdot(d, d), self._delta_of(xp, d, a, activation, scale)

    def delta(self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
              scale: float = 1.0) -> Array:
        return self._delta_of(xp, a - y, a, activation, scale)

    def _delta_of(self, xp: Namespace, d: Array, a: Array, activation: Activation,
                  scale: float) -> Array:
        return activation.backward(xp, a, d * (self._factor(d.shape) * scale))

    def _factor(self, shape: tuple[int, ...]) -> float:
        return 2.0 / math.prod(shape)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``.

    The mean over all elements of ``log(1 + exp(z)) - y * z``; it needs a
    sigmoid output.
    """

    name = "binary_cross_entropy"
    output_activation = "sigmoid"
    task = "binary"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        return xp.sum(xp.logaddexp(0.0, z) - y * z, axis=-1)

    def delta(self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
              scale: float = 1.0) -> Array:
        return (a - y) * (scale / math.prod(z.shape))


class CategoricalCrossEntropy(Loss):
    """Categorical cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    The mean over samples of ``logsumexp(z) - sum(y * z)`` for one-hot (or
    probability) targets ``y``; it needs a softmax output.
    """

    name = "categorical_cross_entropy"
    output_activation = "softmax"
    task = "multiclass"
    mean_over_outputs = False

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        m = xp.max(z, axis=-1, keepdims=True)
        lse = xp.log(xp.sum(xp.exp(z - m), axis=-1)) + m[:, 0]
        # sum, not vecdot: array-api-compat's vecdot for PyTorch costs 4 times as much
        return lse - xp.sum(y * z, axis=-1)

    def delta(self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
              scale: float = 1.0) -> Array:
        return (a - y) * (scale / z.shape[0])


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MeanSquaredError, BinaryCrossEntropy, CategoricalCrossEntropy)
}


def get_loss(loss: str | Loss) -> Loss:
    """A :class:`Loss` from its name (or the instance itself).

    Raises
    ------
    InvalidArgumentError
        If it is neither.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise InvalidArgumentError(f"loss must be one of {sorted(LOSSES)} or a Loss, got {loss!r}")
