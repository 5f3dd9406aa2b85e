"""Bad input to every public method: a named, specific exception, and the model untouched.

Each case runs on every backend through the ``backend`` fixture. After each failed
call the weights, biases, optimizer state and random generator are hashed and must
be bit-identical to before. Divergence is checked here too: training stops with a
DivergenceError and the model keeps finite weights.
"""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, SGD, Adam, DivergenceError, EarlyStopping, ModelFileError, get_backend
from agnostic_mlp.data import as_targets
from agnostic_mlp.engine import all_finite

N = 6
X = np.random.default_rng(0).normal(size=(N, 3))
Y = np.random.default_rng(1).random((N, 2))
LABELS = np.array([0, 1, 2, 0, 1, 2])


def _model(backend: str, device: Any, kind: str = "regression", **kwargs: Any) -> MLP:
    loss = {"regression": "mse", "multiclass": "categorical_cross_entropy",
            "binary": "binary_cross_entropy"}[kind]
    outputs = 3 if kind == "multiclass" else 2
    return MLP(3, [4], outputs, backend=backend, device=device, seed=0, loss=loss,
               optimizer=SGD(0.1, momentum=0.9), **kwargs)


def _state(model: MLP) -> str:
    """A hash of everything a failed call must leave as it was."""
    digest = hashlib.sha256()
    for p in [*model.weights, *model.biases]:
        digest.update(host(p).tobytes())
    state = model.optimizer.state
    for group in (state.slots().values() if state is not None else []):
        for s in group:
            digest.update(host(s).tobytes())
    digest.update(repr((model.optimizer.iterations, model.rng.bit_generator.state)).encode())
    return digest.hexdigest()


@functools.cache
def _trained_once(backend: str, device: Any, kind: str) -> MLP:
    model = _model(backend, device, kind)
    targets = {"regression": Y, "multiclass": LABELS, "binary": (Y > 0.5) * 1.0}[kind]
    model.fit(X, targets, epochs=1, batch_size=N, verbose=0)
    return model


def _trained(backend: str, device: Any, kind: str = "regression") -> MLP:
    """A model after a real step, so its optimizer has state worth protecting.

    Trained once per backend and kind (which is slow on JAX), then copied with ``to``.
    """
    return _trained_once(backend, device, kind).to(backend, device)


def _on_device(model: MLP, a: np.ndarray) -> Any:
    return model.xp.asarray(a, device=model.device)


def _other_device(model: MLP, a: np.ndarray) -> Any:
    if model.backend != "array_api_strict":
        pytest.skip("only array_api_strict has several devices on every machine")
    import array_api_strict

    return array_api_strict.asarray(a, device=array_api_strict.Device("device2"))


def _other_backend(model: MLP, a: np.ndarray) -> Any:
    """An array of another library on a device (array-api-strict's stand for a GPU's)."""
    if model.backend == "array_api_strict":
        pytest.skip("no other library has a device on this machine")
    import array_api_strict

    return array_api_strict.asarray(a, device=array_api_strict.Device("device1"))


def _copy(x: Any) -> np.ndarray:
    """A NumPy copy (``host`` returns a NumPy model's own array, which training mutates)."""
    return np.array(host(x), copy=True)


def _with(a: np.ndarray, value: float) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flat[1] = value
    return a


def _expect(exc: type[Exception], argument: str, what: str, call: Callable[[], Any]) -> None:
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert re.search(rf"(?<!\w){re.escape(argument)}(?!\w)", message), message
    assert re.search(what, message), message


def _refused_and_unchanged(method: str, model: MLP, call: Callable[[MLP, Any], Any],
                           make: Callable[[MLP], Any], exc: type[Exception], argument: str,
                           what: str) -> None:
    """``call(model, make(model))`` raises ``exc`` naming ``argument``; ``model`` is as it was."""
    before = _state(model)
    bad = make(model)
    try:
        _expect(exc, argument, what, lambda: call(model, bad))
    except AssertionError as failure:
        raise AssertionError(f"{method}: {failure}") from None
    assert _state(model) == before, method


# -- features: X, inputs -------------------------------------------------------------

# name -> (make the bad value from the model, exception, what the message says)
BAD_FEATURES: dict[str, tuple[Callable[[MLP], Any], type[Exception], str]] = {
    "nan": (lambda m: _with(X, np.nan), ValueError, "NaN or infinity"),
    "inf": (lambda m: _with(X, np.inf), ValueError, "NaN or infinity"),
    "-inf on device": (lambda m: _on_device(m, _with(X, -np.inf)), ValueError, "NaN or inf"),
    "1-D": (lambda m: X[0], ValueError, "2-D"),
    "3-D": (lambda m: X[..., None], ValueError, "2-D"),
    "3-D on device": (lambda m: _on_device(m, X[..., None]), ValueError, "2-D"),
    "0-D": (lambda m: np.float64(1.0), ValueError, "2-D"),
    "zero samples": (lambda m: np.zeros((0, 3)), ValueError, "zero samples"),
    "zero features": (lambda m: np.zeros((N, 0)), ValueError, "zero n_features"),
    "wrong features": (lambda m: np.zeros((N, 4)), ValueError, "4 features.*expects 3"),
    "wrong features on device": (lambda m: _on_device(m, np.zeros((N, 2))), ValueError,
                                 "2 features.*expects 3"),
    "complex": (lambda m: X + 1j, TypeError, "real numbers"),
    "strings": (lambda m: X.astype(str), TypeError, "real numbers"),
    "object": (lambda m: np.array([[object()] * 3] * N), TypeError, "real numbers"),
    "ragged": (lambda m: [[1.0, 2.0, 3.0], [1.0, 2.0]], TypeError, "real numbers"),
    "None": (lambda m: None, TypeError, "real numbers"),
    "other device": (lambda m: _other_device(m, X), ValueError, "device"),
    "other library on a device": (lambda m: _other_backend(m, X), ValueError, "device"),
}

# method -> (model kind, call with bad features, the argument's name, takes one sample)
FEATURE_METHODS: dict[str, tuple[str, Callable[[MLP, Any], Any], str, bool]] = {
    "fit": ("regression", lambda m, x: m.fit(x, Y, epochs=1, verbose=0), "X", False),
    "train": ("regression", lambda m, x: m.train(x, Y, 1, 0.1, verbose=False), "inputs",
              False),
    "predict": ("regression", lambda m, x: m.predict(x), "X", True),
    "predict_proba": ("multiclass", lambda m, x: m.predict_proba(x), "X", True),
    "predict_classes": ("binary", lambda m, x: m.predict_classes(x), "X", True),
    "evaluate": ("regression", lambda m, x: m.evaluate(x, Y), "X", False),
    "score": ("multiclass", lambda m, x: m.score(x, LABELS), "X", False),
    "forward_propagate": ("regression", lambda m, x: m.forward_propagate(x), "inputs", True),
}


@pytest.mark.parametrize("case", sorted(BAD_FEATURES))
def test_bad_features_are_refused_by_every_method(backend, device, case):
    make, exc, what = BAD_FEATURES[case]
    for method, (kind, call, argument, one_sample) in FEATURE_METHODS.items():
        if case == "1-D" and one_sample:
            continue
        _refused_and_unchanged(method, _trained(backend, device, kind), call, make, exc,
                               argument, what)


def test_one_sample_is_accepted_where_the_tutorial_takes_one(backend, device):
    model = _model(backend, device)
    assert tuple(model.predict(X[0]).shape) == (2,)
    assert tuple(model.forward_propagate(list(X[0])).shape) == (2,)
    np.testing.assert_allclose(host(model.predict(X[0])), host(model.predict(X))[0],
                               rtol=1e-6)


# -- targets: y, targets -------------------------------------------------------------

BAD_TARGETS: dict[str, tuple[Callable[[MLP], Any], type[Exception], str]] = {
    "nan": (lambda m: _with(Y, np.nan), ValueError, "NaN or infinity"),
    "inf on device": (lambda m: _on_device(m, _with(Y, np.inf)), ValueError, "NaN or inf"),
    "fewer samples": (lambda m: Y[:-1], ValueError, "5 samples, but X has 6"),
    "more samples on device": (lambda m: _on_device(m, np.vstack([Y, Y])), ValueError,
                               "12 samples, but X has 6"),
    "wrong outputs": (lambda m: np.zeros((N, 3)), ValueError, "3 outputs.*has 2"),
    "1-D for two outputs": (lambda m: Y[:, 0], ValueError, "1-D.*2 outputs"),
    "3-D": (lambda m: Y[..., None], ValueError, "1-D or 2-D"),
    "0-D": (lambda m: np.float64(0.5), ValueError, "1-D or 2-D"),
    "complex": (lambda m: Y * 1j, TypeError, "real numbers"),
    "strings": (lambda m: Y.astype(str), TypeError, "real numbers"),
    "object": (lambda m: np.array([[object()] * 2] * N), TypeError, "real numbers"),
    "None": (lambda m: None, TypeError, "real numbers"),
    "other device": (lambda m: _other_device(m, Y), ValueError, "device"),
    "other library on a device": (lambda m: _other_backend(m, Y), ValueError, "device"),
}

# Each method's names for the targets and for the features they must match.
TARGET_METHODS: dict[str, tuple[Callable[[MLP, Any], Any], str, str]] = {
    "fit": (lambda m, y: m.fit(X, y, epochs=1, verbose=0), "y", "X"),
    "train": (lambda m, y: m.train(X, y, 1, 0.1, verbose=False), "targets", "inputs"),
    "evaluate": (lambda m, y: m.evaluate(X, y), "y", "X"),
    "score": (lambda m, y: m.score(X, y), "y", "X"),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_targets_are_refused_by_every_method(backend, device, case):
    make, exc, what = BAD_TARGETS[case]
    for method, (call, argument, features) in TARGET_METHODS.items():
        _refused_and_unchanged(method, _trained(backend, device), call, make, exc, argument,
                               what.replace("but X has", f"but {features} has"))


BAD_LABELS: dict[str, tuple[str, Callable[[MLP], Any], str]] = {
    "label = num_outputs": ("multiclass", lambda m: np.array([0, 1, 2, 3, 0, 1]),
                            r"class labels.*\[0, 3\)"),
    "negative label": ("multiclass", lambda m: np.array([0, 1, 2, -1, 0, 1]), "class labels"),
    "fractional label": ("multiclass", lambda m: np.array([0, 1, 2, 1.5, 0, 1]),
                         "integers"),
    "label out of range on device": ("multiclass",
                                     lambda m: _on_device(m, np.array([0, 1, 2, 7, 0, 1])),
                                     "class labels"),
    "one-hot above 1": ("multiclass", lambda m: np.eye(3)[LABELS] * 2, r"\[0, 1\]"),
    "binary target 2": ("binary", lambda m: np.where(Y > 0.5, 2.0, 0.0), r"\[0, 1\]"),
    "binary target -1 on device": ("binary", lambda m: _on_device(m, -Y), r"\[0, 1\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_class_labels_out_of_range_are_refused(backend, device, case):
    kind, make, what = BAD_LABELS[case]
    for method in ("fit", "evaluate", "score"):
        call, argument, _ = TARGET_METHODS[method]
        _refused_and_unchanged(method, _trained(backend, device, kind), call, make, ValueError,
                               argument, what)


def test_boolean_labels_on_the_device_are_accepted(backend, device):
    model = _model(backend, device, "multiclass")
    labels = _on_device(model, LABELS == 1)
    assert 0.0 <= model.score(X, labels) <= 1.0
    binary = _model(backend, device, "binary")
    assert 0.0 <= binary.score(X, _on_device(binary, Y > 0.5)) <= 1.0


# -- back_propagate ---------------------------------------------------------------------

BAD_ERRORS: dict[str, tuple[Callable[[MLP], Any], type[Exception], str]] = {
    "nan": (lambda m: _with(Y, np.nan), ValueError, "NaN or infinity"),
    "inf on device": (lambda m: _on_device(m, _with(Y, np.inf)), ValueError, "NaN or inf"),
    "wrong batch": (lambda m: Y[:2], ValueError, "shape of the last output"),
    "wrong width": (lambda m: np.zeros((N, 3)), ValueError,
                    r"3 outputs.*expects 2 \(num_outputs\)"),
    "3-D": (lambda m: Y[..., None], ValueError, "2-D"),
    "complex": (lambda m: Y * 1j, TypeError, "real numbers"),
    "strings": (lambda m: Y.astype(str), TypeError, "real numbers"),
    "other device": (lambda m: _other_device(m, Y), ValueError, "device"),
    "other library on a device": (lambda m: _other_backend(m, Y), ValueError, "device"),
}


@pytest.mark.parametrize("case", sorted(BAD_ERRORS))
def test_back_propagate_refuses_bad_errors(backend, device, case):
    make, exc, what = BAD_ERRORS[case]
    model = _model(backend, device)
    model.forward_propagate(X)
    model.back_propagate(Y - host(model.activations[-1]))
    before = _state(model), [_copy(d) for d in model.derivatives]
    _expect(exc, "error", what, lambda: model.back_propagate(make(model)))
    assert _state(model) == before[0]
    assert all(np.array_equal(host(d), b) for d, b in zip(model.derivatives, before[1],
                                                          strict=True))


# -- parameter setters ------------------------------------------------------------------

W = [np.ones((3, 4)), np.ones((4, 2))]
B = [np.ones(4), np.ones(2)]

BAD_PARAMETERS: dict[str, tuple[Callable[[MLP, list[np.ndarray]], Any], type[Exception],
                                str, str]] = {
    "an array, not a list": (lambda m, p: p[0], TypeError, "", "list of 2 arrays"),
    "an int": (lambda m, p: 5, TypeError, "", "list of 2 arrays"),
    "None": (lambda m, p: None, TypeError, "", "list of 2 arrays"),
    "a string": (lambda m, p: "weights", TypeError, "", "list of 2 arrays"),
    "too few": (lambda m, p: p[:1], ValueError, "", "list of 2 arrays, got 1"),
    "too many": (lambda m, p: [*p, p[0]], ValueError, "", "list of 2 arrays, got 3"),
    "wrong shape": (lambda m, p: [p[0], p[1][:1]], ValueError, "[1]", "must have shape"),
    "transposed": (lambda m, p: [p[0].T, p[1]], ValueError, "[0]", "must have shape"),
    "nan": (lambda m, p: [_with(p[0], np.nan), p[1]], ValueError, "[0]", "NaN"),
    "inf on device": (lambda m, p: [p[0], _on_device(m, _with(p[1], np.inf))], ValueError,
                      "[1]", "NaN or infinity"),
    "complex": (lambda m, p: [p[0] * 1j, p[1]], TypeError, "[0]", "real numbers"),
    "strings": (lambda m, p: [p[0], p[1].astype(str)], TypeError, "[1]", "real numbers"),
    "object": (lambda m, p: [np.array(p[0], dtype=object), p[1]], TypeError, "[0]",
               "real numbers"),
    "other device": (lambda m, p: [_other_device(m, p[0]), p[1]], ValueError, "[0]",
                     "device"),
    "other library on a device": (lambda m, p: [p[0], _other_backend(m, p[1])], ValueError,
                                  "[1]", "device"),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMETERS))
@pytest.mark.parametrize("attribute", ["weights", "biases"])
def test_parameter_setters_refuse_bad_values(backend, device, attribute, case):
    make, exc, index, what = BAD_PARAMETERS[case]
    model = _trained(backend, device)
    before = _state(model)
    bad = make(model, W if attribute == "weights" else B)
    if attribute == "biases" and case == "transposed":  # a 1-D transpose is itself
        bad = [B[0][:2], B[1]]
    _expect(exc, f"{attribute}{index}", what,
            lambda: setattr(model, attribute, bad))
    assert _state(model) == before


def test_parameter_setters_accept_good_values_and_copy_them(backend, device):
    model = _model(backend, device)
    model.weights = [_on_device(model, W[0]), W[1].tolist()]
    model.biases = (B[0].astype(np.int64), B[1])
    W[0][0, 0] = 5.0  # the model holds copies
    try:
        assert all(np.array_equal(host(w), np.ones_like(w0))
                   for w, w0 in zip(model.weights, W, strict=True))
        assert model.weights[0].dtype == model.dtype and model.biases[0].dtype == model.dtype
    finally:
        W[0][0, 0] = 1.0


def test_a_model_without_biases_takes_no_biases(backend, device):
    model = _model(backend, device, bias=False)
    _expect(ValueError, "biases", "list of 0 arrays", lambda: setattr(model, "biases", B))
    model.biases = []


# -- the constructor ----------------------------------------------------------------------

BAD_CONSTRUCTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"num_inputs": 0}, ValueError, "num_inputs"),
    ({"num_inputs": -1}, ValueError, "num_inputs"),
    ({"num_inputs": 2.5}, ValueError, "num_inputs"),
    ({"num_inputs": True}, ValueError, "num_inputs"),
    ({"num_inputs": "3"}, ValueError, "num_inputs"),
    ({"hidden_layers": "34"}, ValueError, "hidden_layers"),
    ({"hidden_layers": 4}, ValueError, "hidden_layers"),
    ({"hidden_layers": [4, 0]}, ValueError, "hidden_layers"),
    ({"num_outputs": 0}, ValueError, "num_outputs"),
    ({"backend": "tensorflow"}, ValueError, "backend"),
    ({"backend": 42}, ValueError, "backend"),
    ({"device": "quantum"}, ValueError, "device"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"dtype": "int32"}, ValueError, "dtype"),
    ({"dtype": None}, ValueError, "dtype"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, ValueError, "seed"),
    ({"seed": "x"}, ValueError, "seed"),
    ({"bias": "yes"}, ValueError, "bias"),
    ({"activation": "swish"}, ValueError, "activation"),
    ({"activation": ["relu", "tanh"]}, ValueError, "activation"),
    ({"activation": "softmax"}, ValueError, "activation"),
    ({"output_activation": "swish"}, ValueError, "output_activation"),
    ({"loss": "hinge"}, ValueError, "loss"),
    ({"loss": "categorical_cross_entropy", "output_activation": "sigmoid"}, ValueError,
     "output_activation"),
    ({"init": "zeros"}, ValueError, "init"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
]


@pytest.mark.parametrize("kwargs, exc, argument", BAD_CONSTRUCTIONS,
                         ids=[repr(c[0]) for c in BAD_CONSTRUCTIONS])
def test_the_constructor_refuses_bad_arguments(backend, device, kwargs, exc, argument):
    options: dict[str, Any] = dict(num_inputs=3, hidden_layers=[4], num_outputs=2,
                                   backend=backend, device=device)
    options.update(kwargs)
    _expect(exc, argument, ".", lambda: MLP(**options))


# -- fit, train and predict arguments --------------------------------------------------

BAD_FIT_ARGUMENTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 1.5}, ValueError, "epochs"),
    ({"epochs": True}, ValueError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "8"}, ValueError, "batch_size"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"validation_split": -0.1}, ValueError, "validation_split"),
    ({"validation_split": "a"}, ValueError, "validation_split"),
    ({"validation_split": 0.1}, ValueError, "validation_split"),
    ({"validation_data": X}, ValueError, "validation_data"),
    ({"validation_data": (X, Y[:2])}, ValueError, "validation_data"),
    ({"validation_data": (_with(X, np.nan), Y)}, ValueError, "validation_data"),
    ({"early_stopping": "yes"}, ValueError, "early_stopping"),
    ({"early_stopping": True, "patience": -1}, ValueError, "patience"),
    ({"early_stopping": EarlyStopping(monitor="val_loss")}, ValueError, "val_loss"),
    ({"callbacks": [1]}, TypeError, "callbacks"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
    ({"optimizer": Adam(beta_1=0.9), "learning_rate": -1.0}, ValueError, "learning_rate"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
]


@pytest.mark.parametrize("kwargs, exc, argument", BAD_FIT_ARGUMENTS,
                         ids=[repr(c[0])[:40] for c in BAD_FIT_ARGUMENTS])
def test_fit_refuses_bad_arguments(backend, device, kwargs, exc, argument):
    model = _trained(backend, device)
    before = (_state(model), model.optimizer.learning_rate)
    options = dict(epochs=2, verbose=0)
    options.update(kwargs)
    _expect(exc, argument, ".", lambda: model.fit(X, Y, **options))
    assert (_state(model), model.optimizer.learning_rate) == before


@pytest.mark.parametrize("kwargs, argument", [
    ({"epochs": 0}, "epochs"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": float("inf")}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
])
def test_train_refuses_bad_arguments(backend, device, kwargs, argument):
    model = _trained(backend, device)
    before = _state(model)
    options: dict[str, Any] = dict(epochs=1, learning_rate=0.1, verbose=False)
    options.update(kwargs)
    _expect(ValueError, argument, ".", lambda: model.train(X, Y, **options))
    assert _state(model) == before


@pytest.mark.parametrize("batch_size", [0, -2, "a", True, 1.5])
def test_predict_refuses_bad_batch_sizes(backend, device, batch_size):
    model = _model(backend, device)
    _expect(ValueError, "batch_size", "int >= 1",
            lambda: model.predict(X, batch_size=batch_size))


# -- divergence ------------------------------------------------------------------------------


def test_divergence_stops_with_the_epoch_and_batch_and_keeps_finite_weights(backend, device):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 2)), rng.normal(size=(64, 1))

    def fresh() -> MLP:
        return MLP(2, [4], 1, activation="relu", output_activation="identity", seed=0,
                   backend=backend, device=device)

    model = fresh()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow warnings
        with pytest.raises(DivergenceError) as info:
            model.fit(x, y, epochs=5, batch_size=8, optimizer=SGD(1e5), shuffle=False,
                      verbose=0)
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert error.epoch == 0 and 0 <= error.batch < 8
    assert f"epoch 1, batch {error.batch + 1} of 8" in str(error)
    params = [_copy(p) for p in [*model.weights, *model.biases]]
    assert all(np.isfinite(p).all() for p in params)
    assert np.isfinite(host(model.predict(x))).all()
    # The weights are those after the batches before the bad one: replay them.
    replay = fresh()
    if error.batch > 0:
        n = 8 * error.batch
        replay.fit(x[:n], y[:n], epochs=1, batch_size=8, optimizer=SGD(1e5), shuffle=False,
                   verbose=0)
    assert all(np.array_equal(p, host(q)) for p, q in
               zip(params, [*replay.weights, *replay.biases], strict=True))


def test_divergence_at_the_first_batch_keeps_the_initial_weights(backend, device):
    model = MLP(2, [4], 1, activation="relu", output_activation="identity", seed=0,
                backend=backend, device=device)
    before = [_copy(p) for p in [*model.weights, *model.biases]]
    x = np.full((4, 2), 1e30)  # finite inputs whose loss overflows float32 at once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(DivergenceError) as info:
            model.fit(x, np.zeros(4), epochs=3, batch_size=2, optimizer=SGD(0.1), verbose=0)
    assert (info.value.epoch, info.value.batch) == (0, 0)
    assert all(np.array_equal(host(p), b) for p, b in
               zip([*model.weights, *model.biases], before, strict=True))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.1", None])
def test_gradient_descent_refuses_a_bad_learning_rate(bad):
    mlp = MLP(2, [3], 1, seed=0)
    mlp.forward_propagate([0.1, 0.2])
    mlp.back_propagate([0.5])
    before = [host(w) for w in mlp.parameters()]
    with pytest.raises(ValueError, match="learningRate"):
        mlp.gradient_descent(bad)
    for b, w in zip(before, mlp.parameters(), strict=True):
        np.testing.assert_array_equal(b, host(w))


def test_values_beyond_float32_are_refused_before_they_become_inf(backend, device):
    mlp = MLP(3, [4], 1, backend=backend, device=device, seed=0)
    before = [host(p) for p in mlp.parameters()]
    with pytest.raises(ValueError, match="X holds values up to 1e\\+39"):
        mlp.fit(np.array([[1e39, 0.0, 0.0]] * 4), np.zeros(4), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="float32's range"):
        mlp.predict([[1e300, 0.0, 0.0]])
    for b, p in zip(before, mlp.parameters(), strict=True):
        np.testing.assert_array_equal(b, host(p))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_an_overflowing_last_update_is_caught(backend, device):
    """Losses all finite, but the epoch's final step leaves inf weights: still divergence."""
    rng = np.random.default_rng(0)
    x = rng.random((8, 3)) * 100
    y = x.sum(axis=1)
    mlp = MLP(3, [4], 1, backend=backend, device=device, seed=0, output_activation="identity")
    with pytest.raises(DivergenceError) as info:
        mlp.fit(x, y, epochs=1, batch_size=8, learning_rate=1e37, verbose=0)
    assert (info.value.epoch, info.value.batch) == (0, 0)
    for p in mlp.parameters():
        assert np.all(np.isfinite(host(p)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_seen_only_in_the_weights_names_its_batch(backend, device):
    """An update overflows the weights while the saturated sigmoid keeps every loss
    finite: the error names that batch, and the model keeps the weights it started
    from, found by one forward replay of the epoch."""
    rng = np.random.default_rng(0)
    x = (rng.random((200, 2)) + 1) * 1e3
    y = rng.random(200) * 0.5
    kwargs = dict(epochs=1, batch_size=1, learning_rate=1e38, shuffle=False, verbose=0)
    mlp = MLP(2, [], 1, backend=backend, device=device, seed=0, bias=False)
    with pytest.raises(DivergenceError) as info:
        mlp.fit(x, y, **kwargs)
    bad = info.value.batch
    assert info.value.epoch == 0 and 0 < bad < 199
    kept = host(mlp.weights[0])
    assert np.all(np.isfinite(kept))
    replay = MLP(2, [], 1, backend=backend, device=device, seed=0, bias=False)
    replay.fit(x[:bad], y[:bad], **kwargs)  # the batches before the bad one: all finite
    np.testing.assert_array_equal(kept, host(replay.weights[0]))
    with pytest.raises(DivergenceError):  # and that one batch more overflows
        replay.fit(x[bad:bad + 1], y[bad:bad + 1], **kwargs)


def test_finite_weights_whose_sum_overflows_are_no_divergence(backend, device):
    """Finite weights too large to sum in their dtype are finite: the epoch's check
    looks at each value (its extremes), not at a sum, and training goes on."""
    mlp = MLP(2, [3], 1, backend=backend, device=device, seed=0)
    big = np.full((3, 1), 3e38, dtype=np.float32)  # finite; its float32 sum is inf
    mlp.weights = [host(mlp.weights[0]), big]
    x = np.random.default_rng(0).random((8, 2))
    history = mlp.fit(x, np.ones(8), epochs=2, batch_size=4, learning_rate=0.0, verbose=0)
    assert len(history.history["loss"]) == 2
    np.testing.assert_array_equal(host(mlp.weights[1]), big)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_one_bad_value_anywhere(backend, device, bad):
    """The check of the weights after an epoch (from the extremes, not a mask): one NaN
    or infinity of either sign, first, inside or last, makes it false."""
    runtime = get_backend(backend, device)
    xp = runtime.xp
    a = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    assert bool(all_finite(xp, xp.asarray(a, device=runtime.device)))
    for index in [(0, 0), (2, 3), (4, 6)]:
        b = a.copy()
        b[index] = bad
        assert not bool(all_finite(xp, xp.asarray(b, device=runtime.device)))


def test_targets_on_the_device_in_the_models_dtype_are_used_not_copied(backend, device):
    """As the features are: fit reads the caller's targets where they are (a copy the
    size of y, held for the whole fit, otherwise)."""
    runtime = get_backend(backend, device, dtype="float64")
    y = runtime.xp.asarray(Y, device=runtime.device)
    view = runtime.host_view(y)
    if view is None:
        pytest.skip(f"{backend} does not show its arrays' memory")
    for given in (y, y[:, 0]):
        t = as_targets(runtime, given, N, 2 if given.ndim == 2 else 1, "regression")
        assert np.shares_memory(runtime.host_view(t), view)
        np.testing.assert_array_equal(host(t), np.reshape(host(given), (N, -1)))
    labels = runtime.xp.asarray(LABELS == 1, device=runtime.device)  # another dtype: converted
    t = as_targets(runtime, labels, N, 1, "binary")
    assert t.dtype == runtime.dtype
    np.testing.assert_array_equal(host(t)[:, 0], (LABELS == 1).astype(float))


def test_a_refused_checkpoint_leaves_the_learning_rate_alone(tmp_path):
    x, y = np.random.default_rng(0).random((8, 2)), np.random.default_rng(1).random(8)
    path = tmp_path / "run.ckpt"
    MLP(2, [3], 1, seed=0).fit(x, y, epochs=1, checkpoint=path, verbose=0)
    other = MLP(2, [4], 1, seed=0)
    with pytest.raises(ModelFileError):
        other.fit(x, y, epochs=1, learning_rate=0.3, checkpoint=path, verbose=0)
    assert other.optimizer.learning_rate == 0.01
