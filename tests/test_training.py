"""fit, train and inference: convergence, reproducibility across backends, the training API."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, SGD, Adam, Callback, EarlyStopping, get_backend
from agnostic_mlp.backends import writeable

# Measured (seed 0, 30 epochs, batch 10, lr 1.0, float32): test MSE 2.6e-4 on numpy,
# array_api_strict, torch and jax alike; predictions agree across backends to 1.2e-7.
ADD_TEST_MSE = 1e-3
CROSS_BACKEND_ATOL = 1e-5


def _sum_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).random((n, 2)) / 2
    return x, x.sum(axis=1, keepdims=True)


def _trained_adder(backend, device) -> MLP:
    x, y = _sum_data(1000, 0)
    mlp = MLP(2, [5], 1, backend=backend, device=device, seed=0)
    mlp.train(x, y, 30, 1.0, batch_size=10, verbose=False)
    return mlp


def test_add_two_numbers_converges(backend, device):
    mlp = _trained_adder(backend, device)
    xt, yt = _sum_data(200, 1)
    assert np.mean((host(mlp.predict(xt)) - yt) ** 2) < ADD_TEST_MSE
    assert float(host(mlp.predict([0.3, 0.1]))[0]) == pytest.approx(0.4, abs=0.05)


def test_same_predictions_after_training_on_every_backend(backend, device):
    xt, _ = _sum_data(200, 1)
    ours = host(_trained_adder(backend, device).predict(xt))
    reference = host(_trained_adder("numpy", None).predict(xt))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=CROSS_BACKEND_ATOL)


def _classification(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.5).astype(int)
    return x, labels


# Measured over 20 shuffled epochs: float32 losses agree across backends to 2.1e-7
# (relative), accuracies exactly; float64 to rounding.
@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-9), ("float32", 1e-5)])
def test_fit_history_is_the_same_on_every_backend(backend, device, dtype, rtol):
    x, labels = _classification()
    kwargs = dict(epochs=5, batch_size=16, validation_split=0.2, verbose=0, shuffle=True)
    runs = []
    for name, dev in (("numpy", None), (backend, device)):
        mlp = MLP(4, [8], 3, backend=name, device=dev, dtype=dtype, seed=3,
                  activation="relu", loss="categorical_cross_entropy", optimizer=Adam(0.01))
        runs.append(mlp.fit(x, labels, **kwargs).history)
    assert set(runs[0]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in runs[0]:
        np.testing.assert_allclose(runs[1][key], runs[0][key], rtol=rtol, err_msg=key)


def test_classifier_api(backend, device):
    x, labels = _classification()
    mlp = MLP(4, [16], 3, backend=backend, device=device, seed=0, activation="tanh",
              loss="categorical_cross_entropy", optimizer="adam")
    mlp.fit(x, labels, epochs=40, batch_size=32, learning_rate=0.01, verbose=0)
    proba = host(mlp.predict_proba(x))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    classes = host(mlp.predict_classes(x))
    accuracy = float(np.mean(classes == labels))
    assert accuracy > 0.9
    assert mlp.score(x, labels) == pytest.approx(accuracy)
    assert mlp.evaluate(x, labels)["accuracy"] == pytest.approx(accuracy)
    with pytest.raises(TypeError, match="classifier"):
        MLP(2, [2], 1, backend=backend, device=device).predict_proba([[0.0, 0.0]])


def test_binary_classifier(backend, device):
    x, labels = _classification()
    y = (labels > 0).astype(float)
    mlp = MLP(4, [8], 1, backend=backend, device=device, seed=0, loss="binary_cross_entropy",
              optimizer=Adam(0.02))
    history = mlp.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    proba = host(mlp.predict_proba(x))
    assert proba.shape == (300, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert float(np.mean(host(mlp.predict_classes(x)) == y)) > 0.85


def test_regression_score_is_r2(backend, device):
    x, y = _sum_data(300, 0)
    mlp = MLP(2, [8], 1, backend=backend, device=device, seed=0, output_activation="identity")
    mlp.fit(x, y, epochs=60, batch_size=16, optimizer=Adam(0.02), verbose=0)
    pred = host(mlp.predict(x))
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert mlp.score(x, y) == pytest.approx(r2, rel=1e-4)
    assert r2 > 0.95


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_activations_are_stable_at_extreme_inputs(backend, device, activation):
    for out in ("sigmoid", "softmax", "identity"):
        mlp = MLP(2, [3], 2, backend=backend, device=device, seed=0, activation=activation,
                  output_activation=out)
        mlp.weights = [np.ones((2, 3)) * 10, np.ones((3, 2)) * np.array([10.0, -10.0])]
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            y = host(mlp.predict([[1000.0, 1000.0], [-1000.0, -1000.0]]))
        assert np.all(np.isnan(y) == False), (activation, out)  # noqa: E712


def test_cross_entropy_is_finite_for_confident_wrong_logits(backend, device):
    mlp = MLP(2, [], 2, backend=backend, device=device, bias=False,
              loss="categorical_cross_entropy")
    mlp.weights = [np.array([[500.0, -500.0], [0.0, 0.0]])]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss = mlp.evaluate([[1.0, 0.0]], [1])["loss"]
    assert loss == pytest.approx(1000.0, rel=1e-6)


def test_early_stopping_restores_the_best_weights(backend, device):
    x, labels = _classification(200)
    seen: list[list[np.ndarray]] = []

    class Keep(Callback):
        def on_epoch_end(self, model, epoch, logs):
            seen.append([host(p).copy() for p in model.parameters()])

    mlp = MLP(4, [32], 3, backend=backend, device=device, seed=0, dtype="float64",
              loss="categorical_cross_entropy", activation="relu")
    # A large learning rate overfits and oscillates, so the best epoch is not the last.
    history = mlp.fit(x, labels, epochs=60, batch_size=8, optimizer=Adam(0.05),
                      validation_split=0.3, early_stopping=EarlyStopping(patience=3),
                      callbacks=[Keep()], verbose=0)
    assert history.stopped_epoch is not None and history.stopped_epoch < 59
    best = history.best_epoch
    assert best == int(np.argmin(history["val_loss"]))
    assert best < history.stopped_epoch
    for got, want in zip(mlp.parameters(), seen[best], strict=True):
        np.testing.assert_array_equal(host(got), want)


def test_callables_and_callbacks_can_stop_training(backend, device):
    x, y = _sum_data(50, 0)
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0)
    calls = []
    history = mlp.fit(x, y, epochs=10, verbose=0,
                      callbacks=[lambda model, epoch, logs: calls.append(epoch) or epoch == 2])
    assert calls == [0, 1, 2]
    assert history.epoch == [0, 1, 2]


def test_validation_split_holds_out_the_last_samples():
    x, y = _sum_data(100, 0)
    a = MLP(2, [3], 1, seed=0, dtype="float64")
    ha = a.fit(x, y, epochs=2, batch_size=10, validation_split=0.25, verbose=0)
    b = MLP(2, [3], 1, seed=0, dtype="float64")
    hb = b.fit(x[:75], y[:75], epochs=2, batch_size=10, validation_data=(x[75:], y[75:]),
               verbose=0)
    assert ha.history == hb.history


def test_verbose_levels(capsys):
    x, y = _sum_data(20, 0)
    MLP(2, [3], 1, seed=0).fit(x, y, epochs=3, verbose=0)
    assert capsys.readouterr() == ("", "")
    MLP(2, [3], 1, seed=0).fit(x, y, epochs=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(" - ")[0] for ln in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    errors = MLP(2, [3], 1, seed=0).train(x, y, 2, 0.1)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Error: {errors[0]} at epoch 1", f"Error: {errors[1]} at epoch 2",
                   "Training complete!", "====="]


def test_mini_batch_train_is_the_mean_of_per_sample_derivatives():
    """One batch of 4 moves the weights by the mean of the 4 per-sample derivatives."""
    x, y = _sum_data(4, 0)
    a = MLP(2, [3], 1, seed=0, dtype="float64")
    a.train(x, y, 1, 0.5, batch_size=4, verbose=False)
    b = MLP(2, [3], 1, seed=0, dtype="float64")
    steps = []
    for xi, yi in zip(x, y, strict=True):
        out = b.forward_propagate(xi)
        b.back_propagate(yi - host(out))
        steps.append([host(d) for d in b.derivatives + b.bias_derivatives])
    start = [host(p) for p in b.parameters()]
    for k, (p, got) in enumerate(zip(start, a.parameters(), strict=True)):
        np.testing.assert_allclose(host(got), p + 0.5 * np.mean([s[k] for s in steps], axis=0),
                                   rtol=1e-13)


def test_sgd_momentum_state_lives_on_the_models_device(backend, device):
    import array_api_compat

    x, y = _sum_data(32, 0)
    opt = SGD(0.1, momentum=0.9)
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0, optimizer=opt)
    mlp.fit(x, y, epochs=1, verbose=0)
    assert opt.iterations == 1
    for group in opt.state.slots().values():
        for s in group:
            assert array_api_compat.device(s) == mlp.device


def test_one_hot_targets_train_as_integer_labels(backend, device):
    x, labels = _classification(60)
    one_hot = np.eye(3)[labels]
    runs = []
    for y in (labels, one_hot, labels.astype(float)):
        mlp = MLP(4, [5], 3, backend=backend, device=device, seed=1, dtype="float64",
                  loss="categorical_cross_entropy")
        runs.append(mlp.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"])
    assert runs[0] == runs[1] == runs[2]


def test_early_stopping_maximises_accuracy_and_checks_its_monitor(backend, device):
    x, labels = _classification(200)
    mlp = MLP(4, [16], 3, backend=backend, device=device, seed=0, dtype="float64",
              loss="categorical_cross_entropy", activation="relu")
    history = mlp.fit(x, labels, epochs=30, batch_size=16, optimizer=Adam(0.01),
                      validation_split=0.25, verbose=0,
                      early_stopping=EarlyStopping(monitor="val_accuracy", patience=5))
    best = history.best_epoch
    assert history["val_accuracy"][best] == max(history["val_accuracy"])
    before = [host(p) for p in mlp.parameters()]
    with pytest.raises(ValueError, match="val_acc"):
        mlp.fit(x, labels, epochs=3, validation_split=0.25, verbose=0,
                early_stopping=EarlyStopping(monitor="val_acc"))
    for b, p in zip(before, mlp.parameters(), strict=True):
        np.testing.assert_array_equal(b, host(p))


def test_a_failed_fit_leaves_the_learning_rate_alone():
    opt = SGD(0.1)
    mlp = MLP(2, [3], 1, seed=0, optimizer=opt)
    x, y = _sum_data(10, 0)
    with pytest.raises(ValueError, match="samples"):
        mlp.fit(x, y[:3], learning_rate=0.5, verbose=0)
    assert opt.learning_rate == 0.1
    mlp.fit(x, y, learning_rate=0.5, epochs=1, verbose=0)
    assert opt.learning_rate == 0.5  # a successful fit sets it, as Keras's assignment


def test_softmax_over_one_output_is_refused():
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        MLP(2, [3], 1, loss="categorical_cross_entropy")


def test_r2_of_constant_targets_follows_scikit_learn():
    mlp = MLP(1, [], 1, bias=True, output_activation="identity", seed=0)
    mlp.weights, mlp.biases = [np.zeros((1, 1))], [np.array([2.0])]
    x = np.arange(4.0).reshape(-1, 1)
    assert mlp.score(x, np.full(4, 2.0)) == 1.0
    assert mlp.score(x, np.full(4, 3.0)) == 0.0


class _Unfused(SGD):
    """Plain SGD through ``update`` with the true gradients, not applied during backprop."""

    def update(self, xp, params, grads, state, lr):
        return super().update(xp, params, grads, state, lr)


def test_plain_sgd_applied_during_backprop_equals_the_optimizer_step(
        backend, device, monkeypatch):
    import agnostic_mlp.backends.inplace as backends_module

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(24, 7)), rng.random((24, 3))
    real_descend = backends_module.descend_in_place
    asked: list[object] = []  # layers descended in place, in row blocks or whole

    def spy(xp, w, a, delta):
        asked.append(w)
        return real_descend(xp, w, a, delta)

    monkeypatch.setattr(backends_module, "descend_in_place", spy)
    # The row blocks are what this test checks; the fused GEMMs have tests/test_fast.py.
    from agnostic_mlp.backends import LIBRARIES

    for library in LIBRARIES.values():
        monkeypatch.setattr(library, "fused_descent", lambda self: None)

    def trained(optimizer: SGD, block_bytes: int) -> list[np.ndarray]:
        monkeypatch.setattr(backends_module, "DESCENT_BLOCK_BYTES", block_bytes)
        mlp = MLP(7, [9], 3, backend=backend, device=device, dtype="float64", seed=1)
        mlp.fit(x, y, epochs=3, batch_size=8, optimizer=optimizer, shuffle=False, verbose=0)
        assert optimizer.iterations == 9
        return [host(p) for p in mlp.parameters()]

    start = [host(p) for p in MLP(7, [9], 3, dtype="float64", seed=1).parameters()]
    reference = trained(_Unfused(0.3), 2**40)
    assert not asked  # the optimizer's update never descends in place
    whole = trained(SGD(0.3), 2**40)
    in_blocks = trained(SGD(0.3), 16)  # one row per block, on CPU where arrays are writeable
    runtime = get_backend(backend, device)
    assert bool(asked) == (runtime.on_cpu and writeable(runtime.asarray(np.zeros((2, 2)))))
    assert not np.allclose(reference[0], start[0])
    for ref, a, b in zip(reference, whole, in_blocks, strict=True):
        np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, ref, rtol=1e-12, atol=1e-14)


def test_an_sgd_subclass_that_overrides_step_sees_the_gradients(backend, device):
    class Clipped(SGD):
        calls = 0

        def update(self, xp, params, grads, state, lr):
            Clipped.calls += 1
            clipped = tuple(xp.clip(g, -0.01, 0.01) for g in grads)
            return super().update(xp, params, clipped, state, lr)

    x, y = _sum_data(40, 0)
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0)
    start = [host(p) for p in mlp.parameters()]
    mlp.fit(x, y, epochs=1, batch_size=10, optimizer=Clipped(10.0), shuffle=False, verbose=0)
    # JAX compiles the step, so Python runs update once per compiled shape, not per step.
    assert Clipped.calls == 4 if backend != "jax" else Clipped.calls >= 1
    for before, after in zip(start, mlp.parameters(), strict=True):
        assert np.max(np.abs(host(after) - before)) <= 4 * 10.0 * 0.01 + 1e-6


_OPTIMIZERS = {"sgd": lambda: SGD(0.1), "momentum": lambda: SGD(0.1, momentum=0.5),
               "adam": lambda: Adam(0.01)}


def _transfers_by_fit_length(fit_and_count) -> tuple[int, int, int, int]:
    """Host transfers of fits of 2 batches x 1 epoch, and of 30 batches x 1, 2, 3 epochs."""
    return (fit_and_count(16, 1), fit_and_count(240, 1), fit_and_count(240, 2),
            fit_and_count(240, 3))


@pytest.mark.parametrize("optimizer", sorted(_OPTIMIZERS))
def test_an_epoch_reaches_the_host_once_however_many_batches_it_has(monkeypatch, optimizer):
    """No per-step synchronisation: array_api_strict on a non-default device counts
    every conversion to a Python scalar and every transfer off the device."""
    strict = pytest.importorskip("array_api_strict")
    array_type = type(strict.asarray(0.0))
    transfers: list[str] = []
    for name in ("__float__", "__int__", "__bool__", "__index__", "__complex__",
                 "__array__", "__dlpack__", "to_device"):
        real = getattr(array_type, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            transfers.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(array_type, name, counted)

    x, labels = _classification(300)

    def fit_and_count(n_samples: int, epochs: int) -> int:
        mlp = MLP(4, [6], 3, backend="array_api_strict", device=strict.Device("device1"),
                  seed=0, output_activation="softmax", loss="categorical_cross_entropy",
                  optimizer=_OPTIMIZERS[optimizer]())
        transfers.clear()
        mlp.fit(x[:n_samples], labels[:n_samples], epochs=epochs, batch_size=8,
                validation_data=(x[250:], labels[250:]), verbose=0)
        return len(transfers)

    short, one, two, three = _transfers_by_fit_length(fit_and_count)
    assert 0 < short <= 2  # one to_numpy: to_device, then __dlpack__
    assert one == short  # 30 batches cost what 2 do
    assert three - two == two - one == one  # the same for every epoch


@pytest.mark.needs("jax")
def test_a_compiled_jax_epoch_reaches_the_host_once(monkeypatch):
    """JAX runs each epoch as one compiled scan: the epoch's numbers are its only trip to
    the host, counted at jax.device_get and at each conversion of a JAX array to a Python
    value (NumPy's own conversion of a CPU array runs in C, out of a test's sight)."""
    jax = pytest.importorskip("jax")
    array_type = type(jax.numpy.zeros(1))
    transfers: list[str] = []
    for owner, name in [(array_type, n) for n in (
            "__float__", "__int__", "__bool__", "__index__", "__complex__", "tolist", "item",
            "block_until_ready")] + [(jax, "device_get")]:
        real = getattr(owner, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            transfers.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
    x, labels = _classification(300)
    mlp = MLP(4, [6], 3, backend="jax", seed=0, loss="categorical_cross_entropy",
              optimizer=Adam(0.01))
    xd, yd = mlp.xp.asarray(x), mlp.xp.asarray(labels)

    def fit_and_count(n_samples: int, epochs: int) -> int:
        transfers.clear()
        mlp.fit(xd[:n_samples], yd[:n_samples], epochs=epochs, batch_size=8,
                validation_data=(xd[250:], yd[250:]), verbose=0)
        return len(transfers)

    fit_and_count(16, 1)  # compile
    short, one, two, three = _transfers_by_fit_length(fit_and_count)
    assert 0 < short <= 5  # each array's check once (X, y and the validation pair), the epoch
    assert one == short  # 30 batches cost what 2 do
    assert three - two == two - one == 1  # one transfer for each epoch


@pytest.mark.needs("torch")
def test_an_epoch_synchronises_once_on_cuda():
    """The same on a GPU, as PyTorch's sync debug mode counts synchronising calls."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    x, labels = _classification(300)
    xd, labels_d = torch.as_tensor(x, device="cuda"), torch.as_tensor(labels, device="cuda")

    def fit_and_count(n_samples: int, epochs: int) -> int:
        mlp = MLP(4, [6], 3, backend="torch", device="cuda", dtype="float64", seed=0,
                  output_activation="softmax", loss="categorical_cross_entropy",
                  optimizer=SGD(0.1))
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                mlp.fit(xd[:n_samples], labels_d[:n_samples], epochs=epochs, batch_size=8,
                        shuffle=False, verbose=0)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    short, one, two, three = _transfers_by_fit_length(fit_and_count)
    assert short > 0  # the epoch's numbers do reach the host, and are seen doing it
    assert one == short
    assert three - two == two - one


def test_an_optimizer_changed_after_a_fit_leaves_other_fits_alone(backend, device):
    """Compiled epochs (JAX) are cached by the optimizer's settings: one whose settings are
    changed after a fit must not change what a fresh optimizer with the old settings does
    (a retrace at new shapes once ran the changed instance: momentum without buffers)."""
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 3)), rng.random((32, 1))
    settings = dict(learning_rate=0.1, weight_decay=1.25e-7)  # a key no other test uses

    def trained(optimizer: SGD, width: int, on: str = backend, at: object = device) -> list:
        mlp = MLP(3, [width], 1, backend=on, device=at, seed=0)
        mlp.fit(x, y, epochs=2, batch_size=8, optimizer=optimizer, verbose=0)
        return [host(p) for p in mlp.parameters()]

    changed = SGD(**settings)
    trained(changed, 4)
    changed.momentum = 0.9
    got = trained(SGD(**settings), 5)  # new shapes: traced again, if compiled
    for a, b in zip(got, trained(SGD(**settings), 5, "numpy", None), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
