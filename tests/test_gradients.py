"""Backpropagation against central finite differences, in float64, on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, engine
from agnostic_mlp.data import as_features, as_targets
from agnostic_mlp.engine import Objective
from agnostic_mlp.tutorial import TutorialError

CASES = [
    # (hidden activation, output activation, loss)
    ("sigmoid", "sigmoid", "mse"),
    ("tanh", "identity", "mse"),
    ("relu", "identity", "mse"),
    ("leaky_relu", "tanh", "mse"),
    ("identity", "relu", "mse"),
    ("sigmoid", "softmax", "mse"),
    ("tanh", "sigmoid", "binary_cross_entropy"),
    ("relu", "softmax", "categorical_cross_entropy"),
]


def _model(backend: str, device: Any, hidden: str, out: str, loss: str) -> MLP:
    return MLP(3, [4, 3], 3, backend=backend, device=device, dtype="float64", seed=1,
               activation=hidden, output_activation=out, loss=loss)


def _data(loss: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5, 3))
    if loss == "categorical_cross_entropy":
        return x, rng.integers(0, 3, size=5)
    return x, rng.random((5, 3))


def _loss_at(mlp: MLP, x: Any, t: Any) -> float:
    a, z = engine.forward(mlp.xp, mlp.layer_activations, mlp.params, x)
    return float(mlp.loss.value(mlp.xp, t, a, z))


def _gradients(mlp: MLP, loss: Any, x: Any, t: Any) -> list[np.ndarray]:
    objective = Objective(tuple(mlp.layer_activations), loss)
    _, grads, _ = engine.loss_and_gradients(mlp.xp, objective, mlp.params, x, t)
    return [host(g) for g in grads.flat()]


@pytest.mark.parametrize(("hidden", "out", "loss"), CASES)
def test_gradients_match_finite_differences(backend, device, hidden, out, loss):
    mlp = _model(backend, device, hidden, out, loss)
    xh, yh = _data(loss)
    x = as_features(mlp.runtime, xh, 3)
    t = as_targets(mlp.runtime, yh, 5, 3, mlp.loss.task)
    analytic = _gradients(mlp, mlp.loss, x, t)

    params = [host(p).copy() for p in mlp.parameters()]
    eps = 1e-6
    for k, p in enumerate(params):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            values = []
            for sign in (1.0, -1.0):
                trial = [q.copy() for q in params]
                trial[k][idx] += sign * eps
                mlp.weights, mlp.biases = trial[:3], trial[3:]
                values.append(_loss_at(mlp, x, t))
            numeric[idx] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(analytic[k], numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=f"parameter {k}")


def test_tutorial_derivatives_are_the_negative_half_sse_gradient(backend, device):
    """back_propagate(target - output) stores -d(0.5*SSE)/dW, averaged over the batch."""
    mlp = MLP(2, [3], 2, backend=backend, device=device, dtype="float64", seed=3)
    x, y = np.random.default_rng(0).random((4, 2)), np.random.default_rng(1).random((4, 2))
    out = host(mlp.forward_propagate(x))
    mlp.back_propagate(y - out)
    xd = as_features(mlp.runtime, x, 2)
    td = as_targets(mlp.runtime, y, 4, 2, "regression")
    grads = _gradients(mlp, TutorialError(), xd, td)
    for d, g in zip(mlp.derivatives + mlp.bias_derivatives, grads, strict=True):
        np.testing.assert_allclose(host(d), -g, rtol=1e-12, atol=1e-15)
    # ... and the half-SSE gradient itself, by finite differences on one weight
    eps = 1e-6
    w = host(mlp.weights[0]).copy()
    vals = []
    for sign in (1.0, -1.0):
        trial = w.copy()
        trial[0, 0] += sign * eps
        mlp.weights = [trial, host(mlp.weights[1])]
        o = host(mlp.predict(x))
        vals.append(0.5 * np.sum((y - o) ** 2) / 4)
    assert host(mlp.derivatives[0])[0, 0] == pytest.approx(-(vals[0] - vals[1]) / (2 * eps),
                                                            rel=1e-6)
