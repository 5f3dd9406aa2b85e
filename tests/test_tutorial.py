"""The tutorial's surface and arithmetic, on every backend."""

from __future__ import annotations

import numpy as np
from conftest import host

from agnostic_mlp import MLP


def reference_training(weights, inputs, targets, epochs, lr):
    """The tutorial's per-sample loop, written from its description: sigmoid
    layers without biases, error = target - output, derivative a_prev^T (error *
    a(1 - a)), weights += lr * derivative, MSE per sample averaged per epoch."""
    weights = [w.copy() for w in weights]
    errors = []
    for _ in range(epochs):
        total = 0.0
        for x, t in zip(inputs, targets, strict=True):
            acts = [x]
            for w in weights:
                acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ w))))
            error = t - acts[-1]
            total += np.mean(error**2)
            for i in reversed(range(len(weights))):
                delta = error * acts[i + 1] * (1.0 - acts[i + 1])
                grad = np.outer(acts[i], delta)
                error = delta @ weights[i].T
                weights[i] += grad * lr
        errors.append(total / len(inputs))
    return weights, errors


def _sum_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    items = rng.random((n, 2)) / 2
    return items, items.sum(axis=1, keepdims=True)


def test_per_sample_training_reproduces_the_tutorial(backend, device):
    items, targets = _sum_data()
    start = [np.random.default_rng(5).random((2, 5)), np.random.default_rng(6).random((5, 1))]
    expected_w, expected_err = reference_training(start, items, targets, 3, 0.1)

    mlp = MLP(2, [5], 1, backend=backend, device=device, dtype="float64", bias=False)
    mlp.weights = start
    errors = mlp.train(items, targets, 3, 0.1, verbose=False)
    for got, want in zip(mlp.weights, expected_w, strict=True):
        np.testing.assert_allclose(host(got), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(errors, expected_err, rtol=1e-11)


def test_batch_derivatives_are_the_mean_of_per_sample_ones(backend, device):
    items, targets = _sum_data(6)
    mlp = MLP(2, [3, 4], 1, backend=backend, device=device, dtype="float64", seed=2)
    out = mlp.forward_propagate(items)
    mlp.back_propagate(targets - host(out))
    batch = [host(d) for d in mlp.derivatives + mlp.bias_derivatives]
    per_sample = []
    for x, t in zip(items, targets, strict=True):
        o = mlp.forward_propagate(x)
        assert tuple(o.shape) == (1,)
        mlp.back_propagate(t - host(o))
        per_sample.append([host(d) for d in mlp.derivatives + mlp.bias_derivatives])
    for k, b in enumerate(batch):
        np.testing.assert_allclose(b, np.mean([p[k] for p in per_sample], axis=0), rtol=1e-12)


def test_tutorial_attributes_and_gradient_descent(backend, device):
    mlp = MLP(backend=backend, device=device, dtype="float64", bias=False, seed=0)
    assert (mlp.num_inputs, mlp.hidden_layers, mlp.num_outputs) == (3, [3, 3], 2)
    assert [tuple(w.shape) for w in mlp.weights] == [(3, 3), (3, 3), (3, 2)]
    assert [tuple(d.shape) for d in mlp.derivatives] == [(3, 3), (3, 3), (3, 2)]
    assert [tuple(a.shape) for a in mlp.activations] == [(3,), (3,), (3,), (2,)]
    x = np.random.default_rng(0).random(3)
    out = mlp.forward_propagate(x)
    assert tuple(out.shape) == (2,)
    np.testing.assert_allclose(host(mlp.activations[0]), x)
    before = [host(w).copy() for w in mlp.weights]
    mlp.back_propagate(np.array([0.5, 0.5]) - host(out))
    mlp.gradient_descent(0.5)
    for w0, w1, d in zip(before, mlp.weights, mlp.derivatives, strict=True):
        np.testing.assert_allclose(host(w1), w0 + 0.5 * host(d), rtol=1e-14)


TUTORIAL_MAIN = '''
import numpy as np
from random import random
from agnostic_mlp import MLP

items = np.array([[random()/2 for _ in range(2)] for _ in range(1000)])
targets = np.array([[i[0] + i[1]] for i in items])
mlp = MLP(2, [5], 1)
mlp.train(items, targets, 50, 0.1)
input = np.array([0.3, 0.1])
target = np.array([0.4])
output = mlp.forward_propagate(input)
print()
print("Our network believes that {} + {} is equal to {}".format(input[0], input[1], output[0]))
'''


def test_the_tutorials_script_runs_with_only_its_import_changed(capsys, monkeypatch):
    # The script draws its data with Python's random and its weights unseeded: both are
    # seeded here, from outside, so that the test cannot fail by chance.
    import random

    random.seed(0)
    default_rng = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng",
                        lambda seed=None: default_rng(0 if seed is None else seed))
    namespace: dict = {}
    exec(compile(TUTORIAL_MAIN, "tutorial", "exec"), namespace)
    text = capsys.readouterr().out
    assert "Error: " in text and "at epoch 50" in text and "Training complete!" in text
    believed = float(text.strip().rsplit(" ", 1)[-1])
    assert abs(believed - 0.4) < 0.05
