"""Array API dispatch: under ``sklearn.config_context(array_api_dispatch=True)`` the
estimators fit and predict arrays of any namespace in that namespace, on their device.

scikit-learn's dispatch needs ``SCIPY_ARRAY_API=1`` before scipy is imported:
tests/conftest.py sets it. The namespace/device/dtype combinations are those
scikit-learn's own Array API tests use (``yield_namespace_device_dtype_combinations``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import READONLY, SELECTED, host

pytest.importorskip("sklearn")

import sklearn
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.utils import get_tags
from sklearn.utils._array_api import yield_namespace_device_dtype_combinations
from sklearn.utils._testing import _array_api_for_tests
from sklearn.utils.estimator_checks import check_array_api_input

from agnostic_mlp import MLPClassifier, MLPRegressor
from agnostic_mlp.backends import get_backend

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
numpy_only = pytest.mark.skipif("numpy" not in SELECTED,
                                reason="runs with the NumPy backend's tests")
#: How far a native fit's weights may be from NumPy's (float64; measured at most 2e-16).
TOLERANCE = 1e-12


def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def on(backend: str, device: Any, a: np.ndarray) -> Any:
    """``a`` as an array of ``backend`` on ``device``, of its own dtype."""
    b = get_backend(backend, device)
    return b.xp.asarray(a, device=b.device)


def test_tags_say_array_api_support() -> None:
    for est in (MLPClassifier(), MLPRegressor()):
        tags = get_tags(est)
        assert tags.array_api_support is True
        assert tags.input_tags.sparse is True


def test_dispatch_computes_in_the_inputs_namespace_and_device(backend: str, device: Any) -> None:
    if backend == READONLY:
        pytest.skip("scikit-learn sees read-only NumPy arrays as NumPy's")
    X, y = iris()
    runtime = get_backend(backend, device)
    Xd, yd = on(backend, device, X), on(backend, device, y)
    params = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0, early_stopping=True,
                  n_iter_no_change=100)
    reference = MLPClassifier(**params).fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        clf = MLPClassifier(**params).fit(Xd, yd)
        predicted = clf.predict(Xd)
        proba = clf.predict_proba(Xd)
        log_proba = clf.predict_log_proba(Xd)
        score = clf.score(Xd, yd)
    native = backend != "numpy"  # NumPy arrays are NumPy's either way
    assert clf._placement.native is native and clf._placement.runtime.name == backend
    for value in (*clf.coefs_, *clf.intercepts_, clf.classes_, predicted, proba, log_proba):
        assert runtime.owns(value) and runtime.same_device(value)
    assert predicted.dtype == yd.dtype and proba.dtype == Xd.dtype
    assert isinstance(score, float) and score == pytest.approx(reference.score(X, y))
    for ours, theirs in zip([*clf.coefs_, *clf.intercepts_],
                            [*reference.coefs_, *reference.intercepts_], strict=True):
        np.testing.assert_allclose(host(ours), theirs, atol=TOLERANCE)
    np.testing.assert_array_equal(host(predicted), reference.predict(X))
    np.testing.assert_allclose(host(proba), reference.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_allclose(clf.validation_scores_, reference.validation_scores_)

    Xr, yr = make_regression(n_samples=100, n_features=5, n_targets=2, random_state=0)
    reference_r = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(Xr, yr)
    with sklearn.config_context(array_api_dispatch=True):
        reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
            on(backend, device, Xr), on(backend, device, yr))
        values = reg.predict(on(backend, device, Xr))
    assert runtime.owns(values) and runtime.same_device(values) and values.shape == (100, 2)
    np.testing.assert_allclose(host(values), reference_r.predict(Xr), atol=1e-10)


def test_dispatch_keeps_string_labels_on_the_host(backend: str, device: Any) -> None:
    X, y = iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    with sklearn.config_context(array_api_dispatch=True):
        clf = MLPClassifier(max_iter=5, random_state=0).fit(on(backend, device, X), names)
        predicted = clf.predict(on(backend, device, X))
    assert type(clf.classes_) is np.ndarray and type(predicted) is np.ndarray
    assert predicted.dtype == names.dtype
    np.testing.assert_array_equal(
        predicted, MLPClassifier(max_iter=5, random_state=0).fit(X, names).predict(X))


def test_dispatch_refuses_another_namespace_after_fit(backend: str, device: Any) -> None:
    if backend in ("numpy", READONLY):
        pytest.skip("NumPy data is the host's either way")
    X, y = iris()
    with sklearn.config_context(array_api_dispatch=True):
        clf = MLPClassifier(max_iter=2).fit(on(backend, device, X), on(backend, device, y))
        for method in ("predict", "predict_proba", "predict_log_proba"):
            with pytest.raises(ValueError, match=rf"must use the same namespace.*"
                                                 rf"MLPClassifier\.{method}\(\)|"
                                                 rf"MLPClassifier\.{method}\(\) must use the same"):
                getattr(clf, method)(X)
    np.testing.assert_array_equal(host(clf.predict(X)).shape, (150,))  # no dispatch: converted


def test_an_explicit_backend_that_is_not_the_datas_is_refused_under_dispatch() -> None:
    strict = pytest.importorskip("array_api_strict")
    X, y = iris()
    Xd = strict.asarray(X, device=strict.Device("device1"))
    with sklearn.config_context(array_api_dispatch=True), pytest.raises(
            ValueError, match="computed on where it is"):
        MLPClassifier(backend="array_api_strict", device="CPU_DEVICE").fit(Xd, y)


def test_an_epoch_reaches_the_host_once_and_the_data_never(monkeypatch: Any) -> None:
    """array_api_strict on a non-default device counts every conversion and transfer."""
    strict = pytest.importorskip("array_api_strict")
    array_type = type(strict.asarray(0.0))
    moved: list[tuple[str, int]] = []
    for name in ("__float__", "__int__", "__bool__", "__index__", "__complex__",
                 "__array__", "__dlpack__", "to_device"):
        real = getattr(array_type, name)

        def counted(self: Any, *args: Any, _real: Any = real, _name: str = name,
                    **kwargs: Any) -> Any:
            moved.append((_name, int(np.prod(self.shape))))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(array_type, name, counted)
    X, y = iris()
    device = strict.Device("device1")
    Xd, yd = strict.asarray(X, device=device), strict.asarray(y, device=device)

    def fit(epochs: int) -> list[tuple[str, int]]:
        moved.clear()
        with sklearn.config_context(array_api_dispatch=True):
            MLPClassifier(hidden_layer_sizes=(5,), batch_size=10, max_iter=epochs,
                          n_iter_no_change=np.inf, random_state=0).fit(Xd, yd)
        return list(moved)

    one, two, three = fit(1), fit(2), fit(3)
    # 15 batches, one transfer per epoch (to_numpy: to_device, then __dlpack__)
    assert len(three) - len(two) == len(two) - len(one) == 2
    assert all(size < X.size for _, size in three)  # nothing as large as X came back
    # The epoch's one transfer holds a loss per sample and a few numbers: never the data.
    assert max(size for name, size in three if name in ("to_device", "__dlpack__")) < 2 * y.size


COMBINATIONS = list(yield_namespace_device_dtype_combinations())


@numpy_only
@pytest.mark.parametrize("namespace, device, dtype", COMBINATIONS)
def test_scikit_learns_array_api_combinations_regressor(namespace: str, device: Any,
                                                        dtype: str) -> None:
    """scikit-learn's own check, values included (to 1000 epsilons of the dtype)."""
    estimator = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", max_iter=20)
    check_array_api_input("MLPRegressor", estimator, array_namespace=namespace,
                          device_name=device, dtype_name=dtype, check_values=True,
                          check_sample_weight=True)


@numpy_only
@pytest.mark.parametrize("namespace, device, dtype", COMBINATIONS)
def test_scikit_learns_array_api_combinations_classifier(namespace: str, device: Any,
                                                         dtype: str) -> None:
    """scikit-learn's own check, then the values (to 1000 epsilons of the dtype) as it would
    compare them, but for ``score``: scikit-learn's ``accuracy_score`` computes in the
    namespace's default float (float32 for torch), so it agrees to float32's precision."""
    estimator = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    check_array_api_input("MLPClassifier", estimator, array_namespace=namespace,
                          device_name=device, dtype_name=dtype, check_sample_weight=True)
    xp, where = _array_api_for_tests(namespace, device, dtype)
    dtype = dtype or "float64"  # NumPy's combination names none: its widest
    X, y = make_classification(n_samples=30, n_features=10, random_state=42)
    X = X.astype(dtype)
    reference = clone(estimator).fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        Xd, yd = xp.asarray(X, device=where), xp.asarray(y, device=where)
        native = clone(estimator).fit(Xd, yd)
        outputs = {name: getattr(native, name)(Xd)
                   for name in ("predict", "predict_proba", "predict_log_proba")}
        score = native.score(Xd, yd)
    atol = 1000 * np.finfo(dtype).eps
    for ours, theirs in zip([*native.coefs_, *native.intercepts_],
                            [*reference.coefs_, *reference.intercepts_], strict=True):
        np.testing.assert_allclose(host(ours), theirs, atol=atol)
    for name, value in outputs.items():
        np.testing.assert_allclose(host(value), getattr(reference, name)(X), atol=atol)
    assert score == pytest.approx(reference.score(X, y), abs=1e-6)


@pytest.mark.needs("jax")
def test_without_float64_on_the_backend_dtype_none_is_float32() -> None:
    """As scikit-learn downcasts for a device without float64: JAX without 64-bit mode."""
    jax = pytest.importorskip("jax")
    X, y = iris()
    jax.config.update("jax_enable_x64", False)
    try:
        clf = MLPClassifier(max_iter=3, random_state=0, backend="jax").fit(X, y)
        assert clf._placement.runtime.dtype_name == "float32"
        assert clf.coefs_[0].dtype == np.float32 and clf.predict_proba(X).dtype == np.float32
        with pytest.raises(ValueError, match="64-bit mode"):
            MLPClassifier(max_iter=3, backend="jax", dtype="float64").fit(X, y)
    finally:
        jax.config.update("jax_enable_x64", True)
    reference = MLPClassifier(max_iter=3, random_state=0, dtype="float32").fit(X, y)
    for ours, theirs in zip(clf.coefs_, reference.coefs_, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_numpy_outputs_are_writeable_numpy_arrays(backend: str, device: Any) -> None:
    """As scikit-learn's (JAX's own host views are read-only)."""
    X, y = iris()
    clf = MLPClassifier(max_iter=2, random_state=0, backend=backend, device=device).fit(X, y)
    for value in (*clf.coefs_, *clf.intercepts_, clf.predict_proba(X), clf.predict(X)):
        assert type(value) is np.ndarray and value.flags.writeable
    clf.coefs_[0][0, 0] = 0.0
