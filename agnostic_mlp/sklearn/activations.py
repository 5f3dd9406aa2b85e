"""scikit-learn's activation names, as Array API activations that compute what it computes.

``identity``, ``tanh``, ``relu`` and ``softmax`` are the library's own (the same
formulas, in the same order of operations). ``logistic`` is scipy's ``expit``,
``1 / (1 + exp(-z))``, not the library's tanh form of the sigmoid, so that the
last bits agree with scikit-learn; ``exp`` is the Poisson loss's output.
"""

from __future__ import annotations

import math

from .._typing import Array, Namespace
from ..activations import Activation, Identity, ReLU, Softmax, Tanh

__all__ = ["HIDDEN", "Exp", "Logistic", "activation"]

#: The hidden activations scikit-learn's MLPs take, by its names.
HIDDEN = ("identity", "logistic", "tanh", "relu")


class Logistic(Activation):
    """``1 / (1 + exp(-z))``, scipy's ``expit`` formula, without overflow."""

    name = "logistic"

    def forward(self, xp: Namespace, z: Array) -> Array:
        # exp(-z) overflows below -log(max); there expit is below the dtype's smallest
        # normal number, so clamping z (a margin of 1 below) changes nothing that counts.
        low = 1.0 - math.log(float(xp.finfo(z.dtype).max))
        return 1.0 / (1.0 + xp.exp(-xp.maximum(z, low)))

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return a * (1.0 - a)

    def backward(self, xp: Namespace, a: Array, grad: Array) -> Array:
        return grad * a * (1.0 - a)  # scikit-learn's order: (grad * a) * (1 - a)


class Exp(Activation):
    """``exp(z)``: the output of the Poisson loss (its delta comes from the loss)."""

    name = "exp"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.exp(z)

    def derivative(self, xp: Namespace, a: Array) -> Array:
        return a


_ACTIVATIONS: dict[str, type[Activation]] = {
    "identity": Identity, "logistic": Logistic, "tanh": Tanh, "relu": ReLU,
    "softmax": Softmax, "exp": Exp,
}


def activation(name: str) -> Activation:
    """The activation scikit-learn calls ``name``: one of :data:`HIDDEN`, or an
    ``out_activation_`` (``softmax``, ``logistic``, ``identity``, ``exp``)."""
    return _ACTIVATIONS[name]()
