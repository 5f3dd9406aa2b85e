"""Backpropagation against central finite differences, in float64, on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP
from agnostic_mlp.losses import TutorialError

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
    a, z = mlp._forward(x, store=False)
    return float(mlp.loss.value(mlp.xp, t, a, z))


@pytest.mark.parametrize(("hidden", "out", "loss"), CASES)
def test_gradients_match_finite_differences(backend, device, hidden, out, loss):
    mlp = _model(backend, device, hidden, out, loss)
    from agnostic_mlp import data

    xh, yh = _data(loss)
    x = data.as_features(mlp._backend, xh, 3)
    t = data.as_targets(mlp._backend, yh, 5, 3, mlp.loss.target_kind)
    a, z = mlp._forward(x, store=True)
    _, delta = mlp.loss.value_and_delta(mlp.xp, t, a, z, mlp.layer_activations[-1])
    grad_w, grad_b = mlp._backward(delta, mlp.activations)
    analytic = [host(g) for g in grad_w + grad_b]

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
    from agnostic_mlp import data

    xd = data.as_features(mlp._backend, x, 2)
    td = data.as_targets(mlp._backend, y, 4, 2, "regression")
    a, z = mlp._forward(xd, store=True)
    _, delta = TutorialError().value_and_delta(mlp.xp, td, a, z, mlp.layer_activations[-1])
    grad_w, grad_b = mlp._backward(delta, mlp.activations)
    for d, g in zip(mlp.derivatives + mlp.bias_derivatives, grad_w + grad_b, strict=True):
        np.testing.assert_allclose(host(d), -host(g), rtol=1e-12, atol=1e-15)
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
