"""ONNX export, run in onnxruntime: the graphs compute what the models compute.

``agnostic_mlp.onnx.to_onnx`` for MLPs of every backend, activation, loss and
dtype; skl2onnx's ``to_onnx`` for MLPClassifier and MLPRegressor, alone and in
pipelines, with each ``zipmap`` layout. Outputs and probabilities agree with
``predict`` and ``predict_proba`` to 1e-5 in float32 (1e-12 in float64), labels
exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import READONLY, host

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

import onnx
import onnxruntime as ort
import skl2onnx
import sklearn
from sklearn.neural_network import MLPClassifier as ScikitMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from agnostic_mlp import MLP, Activation, InvalidArgumentError, MLPClassifier, MLPRegressor
from agnostic_mlp.activations import LeakyReLU
from agnostic_mlp.backends import get_backend
from agnostic_mlp.onnx import DEFAULT_OPSET, MIN_OPSET, to_onnx

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 4))
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
HIDDEN = ["sigmoid", "tanh", "relu", LeakyReLU(0.2), "identity"]


def session(proto: Any) -> Any:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(proto: Any, x: np.ndarray) -> dict[str, Any]:
    s = session(proto)
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(None, {s.get_inputs()[0].name: x}), strict=True))


# -- to_onnx: the library's MLP ----------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("loss", "output", "n_out"), [
    ("mse", "sigmoid", 3), ("mse", "identity", 2), ("mse", "tanh", 1), ("mse", "relu", 2),
    ("mse", "softmax", 3), ("binary_cross_entropy", None, 1),
    ("binary_cross_entropy", None, 3), ("categorical_cross_entropy", None, 4)])
def test_an_mlps_graph_computes_its_outputs_probabilities_and_labels(
        backend: str, device: Any, dtype: str, loss: str, output: str | None,
        n_out: int) -> None:
    mlp = MLP(4, [6, 5], n_out, backend=backend, device=device, dtype=dtype, seed=1,
              activation=["tanh", "relu"], output_activation=output, loss=loss)
    proto = to_onnx(mlp)
    got = run(proto, X.astype(dtype))
    x = mlp.runtime.asarray(X)
    np.testing.assert_allclose(got["outputs"], host(mlp.predict(x)), rtol=0,
                               atol=TOLERANCE[dtype])
    assert got["outputs"].dtype == np.dtype(dtype)
    if mlp.loss.head.classifier:
        np.testing.assert_allclose(got["probabilities"], host(mlp.predict_proba(x)), rtol=0,
                                   atol=TOLERANCE[dtype])
        labels = host(mlp.predict_classes(x))
        assert got["labels"].dtype == np.int64
        np.testing.assert_array_equal(got["labels"], labels)
    else:
        assert set(got) == {"outputs"}


@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_every_hidden_activation_is_exported(backend: str, device: Any, hidden: Any,
                                             bias: bool) -> None:
    mlp = MLP(4, [7, 3], 2, backend=backend, device=device, seed=2, bias=bias,
              activation=hidden, loss="mse", output_activation="identity")
    got = run(to_onnx(mlp), X.astype(np.float32))["outputs"]
    np.testing.assert_allclose(got, host(mlp.predict(mlp.runtime.asarray(X))), rtol=0,
                               atol=1e-5)


def test_the_batch_dimension_is_dynamic_and_the_opset_documented() -> None:
    mlp = MLP(4, [3], 2, seed=0, loss="categorical_cross_entropy")
    proto = to_onnx(mlp)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", DEFAULT_OPSET)]
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(proto.opset_import)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 4
    s = session(proto)
    for n in (1, 5, 300):
        x = RNG.normal(size=(n, 4)).astype(np.float32)
        (out,) = s.run(["outputs"], {"X": x})
        np.testing.assert_allclose(out, host(mlp.predict(x)), rtol=0, atol=1e-5)
    oldest = to_onnx(mlp, opset=MIN_OPSET)
    assert oldest.opset_import[0].version == MIN_OPSET
    np.testing.assert_allclose(run(oldest, X.astype(np.float32))["probabilities"],
                               host(mlp.predict_proba(X)), rtol=0, atol=1e-5)


def test_a_float32_model_exported_in_float64() -> None:
    mlp = MLP(4, [5], 3, seed=0, loss="categorical_cross_entropy")  # float32
    got = run(to_onnx(mlp, dtype="float64"), X)
    assert got["probabilities"].dtype == np.float64
    np.testing.assert_allclose(got["probabilities"], host(mlp.predict_proba(X)), atol=1e-6)


def test_bad_arguments_are_refused_naming_them() -> None:
    mlp = MLP(4, [3], 2, seed=0)
    for opset in (MIN_OPSET - 1, 10_000, "18", 18.0, True):
        with pytest.raises(InvalidArgumentError, match="opset"):
            to_onnx(mlp, opset=opset)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="dtype"):
        to_onnx(mlp, dtype="float16")
    with pytest.raises(InvalidArgumentError, match="name"):
        to_onnx(mlp, name="")
    with pytest.raises(TypeError, match="skl2onnx"):
        to_onnx(MLPClassifier())  # type: ignore[arg-type]


def test_an_activation_without_an_onnx_form_is_refused() -> None:
    class Cube(Activation):
        name = "cube"

        def forward(self, xp: Any, z: Any) -> Any:
            return z * z * z

        def derivative(self, xp: Any, a: Any) -> Any:
            return 3.0 * a

    mlp = MLP(4, [3], 2, seed=0, activation=Cube())
    with pytest.raises(TypeError, match=r"layer 0's activation .*Cube"):
        to_onnx(mlp)


# -- skl2onnx: MLPClassifier and MLPRegressor --------------------------------------


def labels_of(kind: str, n: int = X.shape[0]) -> np.ndarray:
    rng = np.random.default_rng(3)
    return {
        "binary": rng.integers(0, 2, n),
        "multiclass": rng.integers(0, 4, n) * 10 - 5,
        "strings": np.array(["cat", "dog", "emu"])[rng.integers(0, 3, n)],
        "string_pair": np.array(["no", "yes"])[rng.integers(0, 2, n)],
        "floats": rng.integers(0, 3, n).astype(np.float64),
        "booleans": rng.integers(0, 2, n).astype(bool),
        "multilabel": rng.integers(0, 2, (n, 3)),
    }[kind]


def converted(model: Any, dtype: str, **options: Any) -> dict[str, Any]:
    proto = skl2onnx.to_onnx(model, X[:1].astype(dtype), options=options or None)
    return run(proto, X.astype(dtype))


KINDS = ["binary", "multiclass", "strings", "string_pair", "floats", "booleans", "multilabel"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_classifier_pipeline_gives_predict_and_predict_proba(kind: str, dtype: str) -> None:
    y = labels_of(kind)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(8, 5), activation="tanh", max_iter=30, random_state=0)).fit(X, y)
    got = converted(pipe, dtype, zipmap=False)
    assert set(got) == {"label", "probabilities"}
    expected = pipe.predict(X)
    if kind == "strings" or kind == "string_pair":
        assert got["label"].tolist() == expected.tolist()  # strings, as strings
    else:
        assert got["label"].dtype == np.int64
        np.testing.assert_array_equal(got["label"], expected)
    assert got["probabilities"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(got["probabilities"], pipe.predict_proba(X), rtol=0,
                               atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["binary", "strings", "multilabel"])
def test_zipmap_lays_probabilities_out_as_for_scikit_learns_mlp(kind: str, dtype: str) -> None:
    y = labels_of(kind)
    ours = MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y)
    theirs = ScikitMLPClassifier(
        hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y)
    classes = ours.classes_.tolist()
    proba = ours.predict_proba(X)
    for zipmap in (True, "columns"):
        got = converted(ours, dtype, zipmap=zipmap)
        if dtype == "float32":  # skl2onnx's own converter runs in float32 only, with a ZipMap
            layout = converted(theirs, dtype, zipmap=zipmap)
            assert list(got) == list(layout)
            assert {k: v.dtype for k, v in got.items() if hasattr(v, "dtype")} == {
                k: v.dtype for k, v in layout.items() if hasattr(v, "dtype")}
        np.testing.assert_array_equal(got["output_label"], ours.predict(X))
        if zipmap is True:
            rows = got["output_probability"]
            assert [list(r) for r in rows] == [classes] * X.shape[0]
            table = np.array([[r[c] for c in classes] for r in rows])
            np.testing.assert_allclose(table, proba, rtol=0, atol=1e-5)
        else:
            columns = [k for k in got if k != "output_label"]
            assert len(columns) == len(classes)
            np.testing.assert_allclose(np.stack([got[c] for c in columns], axis=1), proba,
                                       rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_a_regressor_pipeline_gives_predict(n_outputs: int, dtype: str, loss: str) -> None:
    rng = np.random.default_rng(4)
    y = np.abs(rng.normal(size=(X.shape[0], n_outputs)))
    y = y[:, 0] if n_outputs == 1 else y
    pipe = make_pipeline(StandardScaler(), MLPRegressor(
        loss=loss, hidden_layer_sizes=(8,), activation="logistic", max_iter=30,
        random_state=0)).fit(X, y)
    got = converted(pipe, dtype)["variable"]
    assert got.shape == (X.shape[0], n_outputs) and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, pipe.predict(X).reshape(-1, n_outputs), rtol=0,
                               atol=TOLERANCE[dtype])


@pytest.mark.parametrize("act", ["identity", "logistic", "tanh", "relu"])
def test_every_estimator_activation_is_exported(act: str) -> None:
    clf = MLPClassifier(hidden_layer_sizes=(5, 4), activation=act, max_iter=20,
                        random_state=0).fit(X, labels_of("multiclass"))
    got = converted(clf, "float32", zipmap=False)
    np.testing.assert_array_equal(got["label"], clf.predict(X))
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), rtol=0, atol=1e-5)


def test_estimators_of_every_backend_are_exported(backend: str, device: Any) -> None:
    # Each backend trains its own weights (its rounding differs): each is compared to itself.
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=15, random_state=0, backend=backend,
                        device=device).fit(X, labels_of("strings"))
    got = converted(clf, "float32", zipmap=False)
    assert got["label"].tolist() == clf.predict(X).tolist()
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), rtol=0, atol=1e-5)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=15, random_state=0, backend=backend,
                       device=device).fit(X, X[:, :2] @ np.ones((2, 2)))
    np.testing.assert_allclose(converted(reg, "float64")["variable"], reg.predict(X), rtol=0,
                               atol=1e-12 if reg.coefs_[0].dtype == np.float64 else 1e-5)


def test_natively_fitted_estimators_are_exported(backend: str, device: Any) -> None:
    """Under array_api_dispatch the fitted attributes are the backend's arrays."""
    if backend == READONLY:
        pytest.skip("scikit-learn sees read-only NumPy arrays as NumPy's")
    b = get_backend(backend, device, "float64")
    y = labels_of("multiclass")
    with sklearn.config_context(array_api_dispatch=True):
        clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=15, random_state=0).fit(
            b.asarray(X), b.xp.asarray(y, device=b.device))
        proba = host(clf.predict_proba(b.asarray(X)))
        labels = host(clf.predict(b.asarray(X)))
    got = converted(clf, "float64", zipmap=False)
    np.testing.assert_array_equal(got["label"], labels)
    np.testing.assert_allclose(got["probabilities"], proba, rtol=0, atol=1e-12)


def test_a_classifier_of_one_class_is_refused() -> None:
    single = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(
        X, np.zeros(X.shape[0], dtype=int))
    with pytest.raises(ValueError, match="single class"):
        skl2onnx.to_onnx(single, X[:1].astype(np.float32), options={"zipmap": False})
