"""The tutorial's NumPy network, re-implemented step for step as a timing reference.

The tutorial trains one sample at a time: a forward pass of ``np.dot`` and the
logistic function ``1 / (1 + exp(-x))``, a backward pass that reshapes the
1-D activations and deltas into columns and rows for ``np.dot``, then
``weights += derivatives * learning_rate``; it sums ``np.average`` of the
squared error per sample. Its layers have no biases and its weights start
uniform on [0, 1). This module keeps all of that, with its inefficiencies: it
is what ``agnostic_mlp`` is measured against, not an implementation to use.

Unlike the tutorial it draws weights from a seeded ``numpy.random.Generator``
and can compute in float32 (the tutorial's arrays are float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

__all__ = ["TutorialMLP"]


class TutorialMLP:
    """The tutorial's multilayer perceptron: sigmoid layers, no biases, per-sample SGD.

    Parameters
    ----------
    num_inputs : int
        Number of inputs.
    hidden_layers : sequence of int
        Width of each hidden layer.
    num_outputs : int
        Number of outputs.
    dtype : str
        ``"float64"`` (the tutorial's) or ``"float32"``.
    seed : int, optional
        Seed of the generator that draws the initial weights.
    """

    def __init__(self, num_inputs: int = 3, hidden_layers: Sequence[int] = (3, 3),
                 num_outputs: int = 2, *, dtype: str = "float64",
                 seed: int | None = None) -> None:
        rng = np.random.default_rng(seed)
        self.layers = [num_inputs, *hidden_layers, num_outputs]
        pairs = list(pairwise(self.layers))
        self.weights = [rng.random((n_in, n_out)).astype(dtype) for n_in, n_out in pairs]
        self.derivatives = [np.zeros((n_in, n_out), dtype=dtype) for n_in, n_out in pairs]
        self.activations = [np.zeros(n, dtype=dtype) for n in self.layers]

    def forward_propagate(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs for one sample; keeps every layer's activations."""
        activations = inputs
        self.activations[0] = activations
        for i, w in enumerate(self.weights):
            net_inputs = np.dot(activations, w)
            activations = self._sigmoid(net_inputs)
            self.activations[i + 1] = activations
        return activations

    def back_propagate(self, error: np.ndarray) -> np.ndarray:
        """Fill ``derivatives`` from ``error = target - output`` of the last forward pass."""
        for i in reversed(range(len(self.derivatives))):
            activations = self.activations[i + 1]
            delta = error * self._sigmoid_derivative(activations)
            delta_row = delta.reshape(delta.shape[0], -1).T
            current = self.activations[i]
            current_column = current.reshape(current.shape[0], -1)
            self.derivatives[i] = np.dot(current_column, delta_row)
            error = np.dot(delta, self.weights[i].T)
        return error

    def gradient_descent(self, learning_rate: float = 1.0) -> None:
        """Step every weight matrix along its ``derivatives``, in place."""
        for i in range(len(self.weights)):
            weights = self.weights[i]
            derivatives = self.derivatives[i]
            weights += derivatives * learning_rate

    def train(self, inputs: np.ndarray, targets: np.ndarray, epochs: int,
              learning_rate: float, verbose: bool = False) -> list[float]:
        """Per-sample SGD over ``inputs``; returns each epoch's mean squared error.

        With ``verbose`` it prints the error of each epoch, as the tutorial does.
        """
        errors = []
        for epoch in range(epochs):
            sum_errors: float | np.floating = 0.0
            for j, sample in enumerate(inputs):
                target = targets[j]
                output = self.forward_propagate(sample)
                error = target - output
                self.back_propagate(error)
                self.gradient_descent(learning_rate)
                sum_errors += self._mse(target, output)
            errors.append(float(sum_errors / len(inputs)))
            if verbose:
                print(f"Error: {errors[-1]} at epoch {epoch + 1}")
        return errors

    def _sigmoid(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1 + np.exp(-x))

    def _sigmoid_derivative(self, x: np.ndarray) -> np.ndarray:
        return x * (1.0 - x)

    def _mse(self, target: np.ndarray, output: np.ndarray) -> np.floating:
        return np.average((target - output) ** 2)
