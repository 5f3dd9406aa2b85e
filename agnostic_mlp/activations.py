"""Activation functions, written once against the Array API.

Each activation computes its output from the pre-activation ``z`` and its
backward pass from its own output ``a``, so the network stores only
activations. In-place operators are applied to fresh temporaries only: on an
immutable backend (JAX) Python falls back to rebinding, with the same result.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]


class Activation:
    """Base class: ``forward(xp, z)`` and ``backward(xp, a, grad)``.

    Attributes
    ----------
    name : str
        The name it is chosen by.
    """

    name = ""

    def forward(self, xp: Any, z: Any) -> Any:
        """The activation of the pre-activation ``z``."""
        raise NotImplementedError

    def derivative(self, xp: Any, a: Any) -> Any:
        """The elementwise derivative, expressed through the output ``a``.

        It must be a new array: :meth:`backward` multiplies it in place.
        """
        raise NotImplementedError

    def backward(self, xp: Any, a: Any, grad: Any) -> Any:
        """The gradient with respect to ``z``, given the output ``a`` and ``dL/da``."""
        d = self.derivative(xp, a)
        d *= grad
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """The logistic function, as ``(tanh(z/2) + 1) / 2``: no overflow, and fast."""

    name = "sigmoid"

    def forward(self, xp: Any, z: Any) -> Any:
        return xp.tanh(z * 0.5) * 0.5 + 0.5

    def derivative(self, xp: Any, a: Any) -> Any:
        return a * (1.0 - a)

    def backward(self, xp: Any, a: Any, grad: Any) -> Any:
        # The hot path of the tutorial's networks. Out of place: NumPy's
        # in-place operators cost twice as much on one-element arrays (the
        # tutorial's output, one sample at a time), and measured no faster on
        # large ones, whose temporaries NumPy reuses itself (PyTorch and CuPy
        # take the two extra temporaries from their caching allocators).
        return (1.0 - a) * a * grad


class Tanh(Activation):
    """The hyperbolic tangent."""

    name = "tanh"

    def forward(self, xp: Any, z: Any) -> Any:
        return xp.tanh(z)

    def derivative(self, xp: Any, a: Any) -> Any:
        d = a * a
        d *= -1.0
        d += 1.0
        return d


class ReLU(Activation):
    """The rectified linear unit."""

    name = "relu"

    def forward(self, xp: Any, z: Any) -> Any:
        return xp.where(z > 0.0, z, 0.0)

    def derivative(self, xp: Any, a: Any) -> Any:
        return xp.astype(a > 0.0, a.dtype)


class LeakyReLU(Activation):
    """The leaky ReLU: ``z`` where positive, ``negative_slope * z`` elsewhere."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        if not 0.0 <= negative_slope < 1.0:
            raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, xp: Any, z: Any) -> Any:
        return xp.where(z > 0.0, z, z * self.negative_slope)

    def derivative(self, xp: Any, a: Any) -> Any:
        # With a slope in [0, 1) the output has the sign of the input.
        d = xp.astype(a > 0.0, a.dtype)
        d *= 1.0 - self.negative_slope
        d += self.negative_slope
        return d

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Identity(Activation):
    """The identity, for regression outputs."""

    name = "identity"

    def forward(self, xp: Any, z: Any) -> Any:
        return z

    def derivative(self, xp: Any, a: Any) -> Any:
        return xp.ones_like(a)

    def backward(self, xp: Any, a: Any, grad: Any) -> Any:
        return grad


class Softmax(Activation):
    """The softmax over the last axis, shifted by its maximum for stability."""

    name = "softmax"

    def forward(self, xp: Any, z: Any) -> Any:
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        e /= xp.sum(e, axis=-1, keepdims=True)
        return e

    def derivative(self, xp: Any, a: Any) -> Any:
        raise TypeError("softmax has no elementwise derivative; use backward()")

    def backward(self, xp: Any, a: Any, grad: Any) -> Any:
        # Jacobian-vector product: a * (g - <g, a>).
        g = grad - xp.sum(grad * a, axis=-1, keepdims=True)
        g *= a
        return g


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)
}


def get_activation(activation: str | Activation, argument: str = "activation") -> Activation:
    """An :class:`Activation` from its name (or the instance itself).

    Raises
    ------
    ValueError
        If the name is unknown; the message names ``argument``.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]()
    raise ValueError(f"{argument} must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
