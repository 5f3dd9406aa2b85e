"""Activation functions, written once against the Array API.

Each activation computes its output from the pre-activation ``z`` and its
backward pass from its own output ``a``, so the network keeps only
activations. Everything is computed out of place: the same code runs on
immutable arrays (JAX) and under tracing.
"""

from __future__ import annotations

from typing import Any

from ._typing import Array, Namespace
from .components import Component
from .constraints import Real, check
from .errors import InvalidArgumentError

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]


class Activation(Component):
    """Base class: ``forward(xp, z)`` and ``backward(xp, a, grad)``."""

    def forward(self, xp: Namespace, z: Array) -> Array:
        """The activation of the pre-activation ``z``."""
        raise NotImplementedError

    def derivative(self, xp: Namespace, a: Array) -> Array:
        """The elementwise derivative, expressed through the output ``a``."""
        raise NotImplementedError

    def backward(self, xp: Namespace, a: Array, grad: Array) -> Array:
        """The gradient with respect to ``z``, given the output ``a`` and ``dL/da``."""
        return self.derivative(xp, a) * grad


class Sigmoid(Activation):
    """The logistic function, as ``(tanh(z/2) + 1) / 2``: no overflow, and fast."""

    name = "sigmoid"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.tanh(z * 0.5) * 0.5 + 0.5

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return a * (1.0 - a)

    def backward(self, xp: Namespace, a: Array, grad: Array) -> Array:
        # One expression: the tutorial's one-element arrays feel every temporary
        # (benchmarks/README.md, "Where the time goes").
        return (1.0 - a) * a * grad


class Tanh(Activation):
    """The hyperbolic tangent."""

    name = "tanh"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.tanh(z)

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return 1.0 - a * a


class ReLU(Activation):
    """The rectified linear unit."""

    name = "relu"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.maximum(z, 0.0)

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return xp.astype(a > 0.0, a.dtype)


class LeakyReLU(Activation):
    """The leaky ReLU: ``z`` where positive, ``negative_slope * z`` elsewhere."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = check(negative_slope, "negative_slope",
                                    Real(0.0, 1.0, high_open=True))

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.where(z > 0.0, z, z * self.negative_slope)

    def derivative(self, xp: Namespace, a: Array) -> Array:
        # With a slope in [0, 1) the output has the sign of the input.
        return xp.astype(a > 0.0, a.dtype) * (1.0 - self.negative_slope) + self.negative_slope


class Identity(Activation):
    """The identity, for regression outputs."""

    name = "identity"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return z

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return xp.ones_like(a)

    def backward(self, xp: Namespace, a: Array, grad: Array) -> Array:
        return grad


class Softmax(Activation):
    """The softmax over the last axis, shifted by its maximum for stability."""

    name = "softmax"

    def forward(self, xp: Namespace, z: Array) -> Array:
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        return e / xp.sum(e, axis=-1, keepdims=True)

    def derivative(self, xp: Namespace, a: Array) -> Array:
        raise TypeError("softmax has no elementwise derivative; use backward()")

    def backward(self, xp: Namespace, a: Array, grad: Array) -> Array:
        # Jacobian-vector product: a * (g - <g, a>).
        return a * (grad - xp.sum(grad * a, axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)
}


def get_activation(activation: str | Activation, argument: str = "activation") -> Activation:
    """An :class:`Activation` from its name (or the instance itself).

    Raises
    ------
    InvalidArgumentError
        If it is neither; the message names ``argument``.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]()
    raise InvalidArgumentError(
        f"{argument} must be one of {sorted(ACTIVATIONS)} or an Activation, got {activation!r}")
