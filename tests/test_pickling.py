"""pickle, joblib, copy.deepcopy and clone, for MLP and the scikit-learn estimators.

A pickle holds plain host (NumPy) arrays and the configuration, never a module
or a device array; loading rebuilds the model on the backend and device it
was on, with a clear error where that backend cannot run. This is what lets
``GridSearchCV(n_jobs=2)`` send estimators to worker processes and back.
"""

from __future__ import annotations

import copy
import pickle
import pickletools
import warnings
from typing import Any

import numpy as np
import pytest
from conftest import SELECTED, host, usable

from agnostic_mlp import MLP, Adam, BackendUnavailableError, Callback
from agnostic_mlp.backends import get_backend

BACKEND_LIBRARIES = ("torch", "jax", "jaxlib", "cupy", "array_api_strict", "array_api_compat")


def pickled_modules(payload: bytes) -> set[str]:
    """The modules a pickle names (the classes and functions it will import)."""
    modules = set()
    strings: list[str] = []
    for opcode, arg, _ in pickletools.genops(payload):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif opcode.name == "GLOBAL":
            modules.add(arg.split(" ")[0])
    return {m.split(".")[0] for m in modules}


def assert_plain(payload: bytes) -> None:
    """Nothing in the pickle needs a backend library to load but NumPy."""
    assert not pickled_modules(payload) & set(BACKEND_LIBRARIES)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


# -- MLP ------------------------------------------------------------------------------------


def test_mlp_pickles_and_comes_back_on_its_backend(backend: str, device: Any) -> None:
    X, y = _data()
    mlp = MLP(4, [5], 2, backend=backend, device=device, seed=0, dtype="float64",
              output_activation="softmax", loss="categorical_cross_entropy", optimizer=Adam())
    mlp.fit(X, y, epochs=2, batch_size=16, verbose=0)
    payload = pickle.dumps(mlp)
    assert_plain(payload)
    for clone_ in (pickle.loads(payload), copy.deepcopy(mlp)):
        assert clone_.backend == mlp.backend and clone_.device == mlp.device
        for a, b in zip(clone_.parameters(), mlp.parameters(), strict=True):
            assert clone_.runtime.owns(a)
            np.testing.assert_array_equal(host(a), host(b))
        state = clone_.optimizer.state
        assert state is not None and int(state.step) == int(mlp.optimizer.state.step)
        assert all(clone_.runtime.owns(a) for a in state.m)
        np.testing.assert_array_equal(host(clone_.predict(X)), host(mlp.predict(X)))
        clone_.fit(X, y, epochs=1, batch_size=16, verbose=0)  # it trains on, on its device
    assert mlp.rng.bit_generator.state == pickle.loads(payload).rng.bit_generator.state


def test_mlp_joblib_round_trip(tmp_path: Any) -> None:
    joblib = pytest.importorskip("joblib")
    X, y = _data()
    mlp = MLP(4, [3], 1, seed=1)
    mlp.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "mlp.joblib"
    joblib.dump(mlp, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(host(loaded.predict(X)), host(mlp.predict(X)))


def test_a_pickle_of_an_unavailable_backend_says_so() -> None:
    reason = usable("cupy")
    if reason is None:
        pytest.skip("CuPy runs here")
    state = MLP(2, [2], 1).__getstate__()
    state["backend"], state["device"] = "cupy", 0
    with pytest.raises(BackendUnavailableError, match="cupy"):
        MLP.__new__(MLP).__setstate__(state)


# -- the estimators -------------------------------------------------------------------------

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from agnostic_mlp import MLPClassifier, MLPRegressor  # noqa: E402
from agnostic_mlp.sklearn.base import _Portable  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _check_copy(copied: Any, est: Any, X: Any, native: bool) -> None:
    runtime = est._placement.runtime
    assert copied._placement == est._placement
    for a, b in zip([*copied.coefs_, *copied.intercepts_], [*est.coefs_, *est.intercepts_],
                    strict=True):
        assert (runtime.owns(a) and runtime.same_device(a)) if native else type(a) is np.ndarray
        np.testing.assert_array_equal(host(a), host(b))
    np.testing.assert_array_equal(host(copied.predict(X)), host(est.predict(X)))
    state = copied._optimizer.state
    assert all(runtime.owns(a) for a in state.m)


@pytest.mark.parametrize("native", [False, True], ids=["numpy-data", "dispatch"])
def test_estimators_pickle_deepcopy_and_clone(backend: str, device: Any, native: bool) -> None:
    X, y = _data()
    if native:
        runtime = get_backend(backend, device)
        X, y = runtime.xp.asarray(X, device=runtime.device), runtime.xp.asarray(
            y, device=runtime.device)
        est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
        with sklearn.config_context(array_api_dispatch=True):
            est.fit(X, y)
        native = backend != "numpy"
    else:
        est = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0,
                            backend=backend, device=device).fit(X, y)
    payload = pickle.dumps(est)
    assert_plain(payload)
    with sklearn.config_context(array_api_dispatch=native):
        _check_copy(pickle.loads(payload), est, X, native)
        _check_copy(copy.deepcopy(est), est, X, native)
        fresh = clone(est)
        assert fresh.get_params() == est.get_params() and not hasattr(fresh, "coefs_")
        pickle.loads(payload).partial_fit(X, y)  # training goes on where it was


def test_estimator_joblib_round_trip(tmp_path: Any) -> None:
    joblib = pytest.importorskip("joblib")
    X, y = _data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                       early_stopping=True, validation_fraction=0.2).fit(X, y.astype(float))
    path = tmp_path / "reg.joblib"
    joblib.dump(reg, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    loaded.set_params(warm_start=True, max_iter=2).fit(X, y.astype(float))
    assert loaded.n_iter_ <= 2 and len(loaded.validation_scores_) > len(reg.validation_scores_)


def test_an_estimator_pickled_on_an_unavailable_backend_says_so() -> None:
    if usable("cupy") is None:
        pytest.skip("CuPy runs here")
    X, y = _data()
    state = MLPClassifier(max_iter=1).fit(X, y).__getstate__()
    state["_placement"] = _Portable("cupy", 0, "float64", False)
    with pytest.raises(BackendUnavailableError, match="cupy"):
        MLPClassifier.__new__(MLPClassifier).__setstate__(state)


@pytest.mark.skipif("numpy" not in SELECTED, reason="runs with the NumPy backend's tests")
def test_grid_search_in_two_processes() -> None:
    X, y = load_digits(return_X_y=True)
    X, y = X[:500], y[:500]
    strict = usable("array_api_strict") is None
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=30, random_state=0,
        **({"backend": "array_api_strict", "device": "device1"} if strict else {})))
    search = GridSearchCV(pipeline, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-1)
    assert search.best_score_ > 0.8
    best = search.best_estimator_[-1]
    assert best._placement.runtime.name == ("array_api_strict" if strict else "numpy")
    in_process = GridSearchCV(pipeline, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               in_process.cv_results_["mean_test_score"])


class Count(Callback):
    """Counts the epochs it saw."""

    def __init__(self) -> None:
        self.seen = 0

    def on_epoch_end(self, model, epoch, logs):
        self.seen += 1


def test_an_estimator_fitted_with_callbacks_pickles_and_clones():
    """A callback keeps the fit call it served (``run``: the model, the data, modules)
    while it runs; as an estimator's parameter it pickles and clones without it."""
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    from agnostic_mlp import EarlyStopping, MLPClassifier

    X = np.random.default_rng(0).normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier(max_iter=3, random_state=0,
                        callbacks=[Count(), EarlyStopping(patience=5, monitor="loss")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    assert again.callbacks[0].seen == 3 and again.callbacks[0].run is None
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert clone(est).callbacks[0].seen == 3
