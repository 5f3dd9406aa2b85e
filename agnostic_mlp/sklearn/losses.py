"""scikit-learn's MLP losses, as Array API :class:`~agnostic_mlp.Loss` subclasses.

Each gives per-sample losses (their weighted mean is scikit-learn's batch loss,
before the L2 term) and ``delta``, the gradient that scikit-learn back-propagates:
``(out - y) / n`` for every pair of output activation and loss it uses (softmax
and log-loss, logistic and binary log-loss, identity and half squared error,
exp and half Poisson deviance). The engine scales ``delta`` by sample weights
and adds ``alpha``'s term, as scikit-learn does.

The log-losses are scikit-learn's formulas on the output probabilities,
clipped to ``[eps, 1 - eps]`` before the logarithm: nothing overflows and
nothing is ``log(0)``, and the values are scikit-learn's.

Each loss's :meth:`~agnostic_mlp.Loss.value` (the batch's mean loss) reduces in
scikit-learn's order: each output's (weighted) mean over the samples, as
``np.average(..., axis=0)``, then their sum (or mean). Full-batch L-BFGS
compares these values in its line search, and a decision that flips at the
last bit sends the optimisation elsewhere: in this order, on NumPy in float64,
``solver="lbfgs"`` gives scikit-learn's model.
"""

from __future__ import annotations

from .._typing import Array, Namespace
from ..activations import Activation
from ..losses import Loss

__all__ = ["BinaryLogLoss", "HalfPoissonDeviance", "HalfSquaredError", "LogLoss", "loss_for"]


class _SklearnLoss(Loss):
    """Per-sample losses (no further mean over outputs) and scikit-learn's delta."""

    mean_over_outputs = False

    def delta(self, xp: Namespace, y: Array, a: Array, z: Array, activation: Activation,
              scale: float = 1.0) -> Array:
        if scale == 1.0:  # scikit-learn's own rounding: a division by n
            return (a - y) / a.shape[0]
        return (a - y) * (scale / a.shape[0])


def _column_means(xp: Namespace, e: Array, weights: Array | None) -> Array:
    """Each column's mean over the samples, weighted: ``np.average(e, axis=0, weights=...)``
    in its order of operations."""
    if weights is None:
        return xp.sum(e, axis=0) / float(e.shape[0])
    return xp.sum(e * weights[:, None], axis=0) / xp.sum(weights[:, None], axis=0)


def _clipped(xp: Namespace, p: Array) -> Array:
    eps = float(xp.finfo(p.dtype).eps)
    return xp.clip(p, eps, 1.0 - eps)


def _clipped_log(xp: Namespace, p: Array) -> Array:
    """``log(clip(p, eps, 1 - eps))``, eps of ``p``'s dtype: scikit-learn's guard."""
    eps = float(xp.finfo(p.dtype).eps)
    return xp.log(xp.clip(p, eps, 1.0 - eps))


class HalfSquaredError(_SklearnLoss):
    """``0.5 * mean over outputs of (out - y)**2`` per sample (scikit-learn's ``squared_error``).

    The delta is ``(out - y) / n`` whatever the number of outputs, as scikit-learn's.
    """

    name = "half_squared_error"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        d = a - y
        return xp.sum(d * d, axis=-1) * (0.5 / d.shape[-1])

    def value(self, xp: Namespace, y: Array, a: Array, z: Array,
              weights: Array | None = None) -> Array:
        d = y - a
        return 0.5 * xp.mean(_column_means(xp, d * d, weights))


class HalfPoissonDeviance(_SklearnLoss):
    """``sum over outputs of y * log(y / out) - y + out`` per sample, ``out = exp(z)``."""

    name = "half_poisson_deviance"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        positive = y > 0.0
        # y * log(y / exp(z)), taken as 0 where y is 0 (scipy's xlogy)
        xlogy = xp.where(positive, y * (xp.log(xp.where(positive, y, 1.0)) - z), 0.0)
        return xp.sum(xlogy - y + a, axis=-1)

    def value(self, xp: Namespace, y: Array, a: Array, z: Array,
              weights: Array | None = None) -> Array:
        positive = y > 0.0
        xlogy = xp.where(positive, y * xp.log(xp.where(positive, y, 1.0) / a), 0.0)
        return xp.sum(_column_means(xp, xlogy - y + a, weights))


class LogLoss(_SklearnLoss):
    """The categorical cross-entropy of a softmax output, ``-sum(y * log p)`` per sample."""

    name = "log_loss"
    output_activation = "softmax"
    task = "multiclass"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        return -xp.vecdot(y, _clipped_log(xp, a))

    def value(self, xp: Namespace, y: Array, a: Array, z: Array,
              weights: Array | None = None) -> Array:
        return -xp.sum(_column_means(xp, y * xp.log(_clipped(xp, a)), weights))


class BinaryLogLoss(_SklearnLoss):
    """The binary cross-entropy of logistic outputs, summed over outputs (labels) per sample."""

    name = "binary_log_loss"
    output_activation = "logistic"
    task = "binary"

    def sample_sums(self, xp: Namespace, y: Array, a: Array, z: Array) -> Array:
        log_p, log_q = _clipped_log(xp, a), _clipped_log(xp, 1.0 - a)
        return -xp.sum(y * log_p + (1.0 - y) * log_q, axis=-1)

    def value(self, xp: Namespace, y: Array, a: Array, z: Array,
              weights: Array | None = None) -> Array:
        p = _clipped(xp, a)
        return -xp.sum(_column_means(xp, y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p), weights))


_BY_OUTPUT: dict[str, type[Loss]] = {
    "softmax": LogLoss, "logistic": BinaryLogLoss, "identity": HalfSquaredError,
    "exp": HalfPoissonDeviance,
}


def loss_for(out_activation: str) -> Loss:
    """The loss scikit-learn pairs with the output activation ``out_activation_``."""
    return _BY_OUTPUT[out_activation]()
