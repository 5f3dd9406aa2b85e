"""scikit-learn is the oracle: the same ``random_state`` gives scikit-learn's model.

On NumPy in float64 the trained ``coefs_`` and ``intercepts_`` equal those of
``sklearn.neural_network`` to 1e-8 (measured: at most 2e-15), with adam and sgd,
with and without shuffling, with early stopping, on the digits and a regression
set; so do the loss curves, the validation scores and the epoch counts. On the
other backends, with NumPy data, the result equals NumPy's within
:data:`CROSS_BACKEND` (measured at most 2e-16 in float64, 2e-7 in float32).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from conftest import SELECTED

pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from agnostic_mlp import MLPClassifier, MLPRegressor

#: How far from scikit-learn NumPy float64 weights may be.
ORACLE = 1e-8
#: How far another backend's weights may be from NumPy's, by dtype.
CROSS_BACKEND = {"float64": 1e-12, "float32": 1e-5}

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
numpy_only = pytest.mark.skipif("numpy" not in SELECTED,
                                reason="the oracle runs with the NumPy backend's tests")


def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return X, (y - y.mean()) / y.std()


def largest_difference(a: Any, b: Any) -> float:
    """The largest absolute difference between two estimators' weights and biases."""
    pairs = zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True)
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)))) for p, q in pairs)


def assert_same_run(ours: Any, theirs: Any) -> None:
    """The same weights (to ORACLE) and the same record of the run."""
    assert largest_difference(ours, theirs) <= ORACLE
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    if theirs.validation_scores_ is None:
        assert ours.validation_scores_ is None
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
    else:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                   rtol=1e-10)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.best_loss_ is None and theirs.best_loss_ is None
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name


CLASSIFIER_RUNS = {
    "adam": dict(solver="adam"),
    "adam, no shuffle": dict(solver="adam", shuffle=False),
    "sgd": dict(solver="sgd", learning_rate_init=0.1),
    "sgd, no shuffle": dict(solver="sgd", shuffle=False),
    "adam, early stopping": dict(solver="adam", early_stopping=True, n_iter_no_change=3,
                                 max_iter=40),
    "sgd, early stopping": dict(solver="sgd", early_stopping=True, learning_rate_init=0.2),
    "sgd, plain, invscaling, logistic": dict(solver="sgd", momentum=0.0,
                                             learning_rate="invscaling", activation="logistic",
                                             learning_rate_init=0.5),
    "sgd, momentum, adaptive, tanh": dict(solver="sgd", nesterovs_momentum=False,
                                          learning_rate="adaptive", activation="tanh", tol=0.05,
                                          n_iter_no_change=1, max_iter=30),
    "adam, two layers, batch 64, alpha": dict(hidden_layer_sizes=(24, 12), batch_size=64,
                                              alpha=0.01),
}


@numpy_only
@pytest.mark.parametrize("run", list(CLASSIFIER_RUNS))
def test_classifier_is_scikit_learns(run: str) -> None:
    X, y = digits()
    params = {"hidden_layer_sizes": (32,), "max_iter": 15, "random_state": 0,
              **CLASSIFIER_RUNS[run]}
    theirs = SkClassifier(**params).fit(X, y)
    ours = MLPClassifier(**params, dtype="float64").fit(X, y)
    assert_same_run(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)


REGRESSOR_RUNS = {
    "adam": dict(solver="adam"),
    "adam, no shuffle": dict(solver="adam", shuffle=False),
    "sgd": dict(solver="sgd", learning_rate_init=0.01),
    "sgd, no shuffle": dict(solver="sgd", learning_rate_init=0.01, shuffle=False),
    "adam, early stopping": dict(solver="adam", early_stopping=True, validation_fraction=0.2),
    "sgd, early stopping": dict(solver="sgd", learning_rate_init=0.01, early_stopping=True),
    "poisson": dict(loss="poisson", learning_rate_init=0.01),
}


@numpy_only
@pytest.mark.parametrize("run", list(REGRESSOR_RUNS))
def test_regressor_is_scikit_learns(run: str) -> None:
    X, y = diabetes()
    if "loss" in REGRESSOR_RUNS[run]:
        y = np.exp(y / 2)  # Poisson targets are positive
    params = {"hidden_layer_sizes": (16,), "max_iter": 30, "random_state": 0,
              **REGRESSOR_RUNS[run]}
    theirs = SkRegressor(**params).fit(X, y)
    ours = MLPRegressor(**params).fit(X, y)
    assert_same_run(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-10)


@numpy_only
def test_multilabel_and_multioutput_are_scikit_learns() -> None:
    X, y = digits()
    labels = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    theirs = SkClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=1).fit(X, labels)
    ours = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, random_state=1).fit(X, labels)
    assert_same_run(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))

    Xr, yr = diabetes()
    targets = np.stack([yr, yr**2, -yr], axis=1)
    theirs_r = SkRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=2,
                           early_stopping=True).fit(Xr, targets)
    ours_r = MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=2,
                          early_stopping=True).fit(Xr, targets)
    assert_same_run(ours_r, theirs_r)


@numpy_only
def test_binary_early_stopping_split_is_stratified_as_scikit_learns() -> None:
    X, y = digits()
    labels = np.where(y < 3, "small", "large")  # an unbalanced binary problem, as strings
    params = dict(hidden_layer_sizes=(16,), max_iter=12, random_state=3, early_stopping=True,
                  validation_fraction=0.25)
    theirs = SkClassifier(**params).fit(X, labels)
    ours = MLPClassifier(**params).fit(X, labels)
    assert_same_run(ours, theirs)
    assert ours.out_activation_ == "logistic"
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@numpy_only
def test_sample_weights_are_weighted_as_scikit_learn_weights_them() -> None:
    X, y = digits()
    weights = np.random.default_rng(0).uniform(0.2, 3.0, size=y.shape[0])
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=4, alpha=0.01)
    theirs = SkClassifier(**params).fit(X, y, sample_weight=weights)
    ours = MLPClassifier(**params).fit(X, y, sample_weight=weights)
    assert_same_run(ours, theirs)
    theirs = SkClassifier(**params, early_stopping=True).fit(X, y, sample_weight=weights)
    ours = MLPClassifier(**params, early_stopping=True).fit(X, y, sample_weight=weights)
    assert_same_run(ours, theirs)


@numpy_only
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_start_and_partial_fit_continue_as_scikit_learns(solver: str) -> None:
    X, y = digits()
    params = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=5, solver=solver,
                  warm_start=True)
    theirs, ours = SkClassifier(**params), MLPClassifier(**params)
    for n in (5, 8):  # the second fit continues from the first one's weights
        theirs.set_params(max_iter=n).fit(X, y)
        ours.set_params(max_iter=n).fit(X, y)
        assert_same_run(ours, theirs)

    params = dict(hidden_layer_sizes=(16,), random_state=6, solver=solver)
    theirs, ours = SkClassifier(**params), MLPClassifier(**params)
    classes = np.unique(y)
    for lo in range(0, 900, 300):  # the optimizer's state carries from call to call
        theirs.partial_fit(X[lo:lo + 300], y[lo:lo + 300], classes=classes)
        ours.partial_fit(X[lo:lo + 300], y[lo:lo + 300], classes=classes)
        assert_same_run(ours, theirs)


@numpy_only
def test_a_randomstate_is_drawn_from_as_scikit_learn_draws_from_it() -> None:
    X, y = digits()
    theirs_rng, ours_rng = np.random.RandomState(7), np.random.RandomState(7)
    params = dict(hidden_layer_sizes=(16,), max_iter=3, early_stopping=True)
    theirs = SkClassifier(**params, random_state=theirs_rng).fit(X, y)
    ours = MLPClassifier(**params, random_state=ours_rng).fit(X, y)
    assert_same_run(ours, theirs)
    assert theirs_rng.randint(2**31) == ours_rng.randint(2**31)  # the same draws were taken


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_backend_gives_numpys_model(backend: str, device: Any, dtype: str) -> None:
    """With NumPy data and an explicit backend, the work runs there and NumPy comes back."""
    X, y = digits()
    X, y = X[:600], y[:600]
    params = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0, dtype=dtype,
                  early_stopping=True, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = MLPClassifier(**params).fit(X, y)
        ours = MLPClassifier(**params, backend=backend, device=device).fit(X, y)
    assert ours._placement.runtime.name == backend and not ours._placement.native
    assert all(type(c) is np.ndarray and c.dtype == dtype for c in ours.coefs_)
    assert largest_difference(ours, reference) <= CROSS_BACKEND[dtype]
    np.testing.assert_allclose(ours.validation_scores_, reference.validation_scores_)
    proba = ours.predict_proba(X)
    assert type(proba) is np.ndarray and proba.dtype == dtype
    np.testing.assert_allclose(proba, reference.predict_proba(X),
                               atol=100 * CROSS_BACKEND[dtype])
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))

    Xr, yr = diabetes()
    reference_r = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=1,
                               dtype=dtype, solver="sgd", learning_rate_init=0.01).fit(Xr, yr)
    ours_r = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=1, dtype=dtype,
                          solver="sgd", learning_rate_init=0.01, backend=backend,
                          device=device).fit(Xr, yr)
    assert largest_difference(ours_r, reference_r) <= CROSS_BACKEND[dtype]
    prediction = ours_r.predict(Xr)
    assert type(prediction) is np.ndarray and prediction.shape == yr.shape


def test_sparse_data_on_every_backend_gives_numpys_dense_model(backend: str,
                                                               device: Any) -> None:
    """CSR batches densified one at a time, on each backend's runner (JAX's compiled one)."""
    import scipy.sparse as sp

    X, y = digits()
    X, y = X[:500], y[:500]
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=64, random_state=0,
                  dtype="float64")
    dense = MLPClassifier(**params).fit(X, y)
    sparse = MLPClassifier(**params, backend=backend, device=device).fit(sp.csr_matrix(X), y)
    assert largest_difference(sparse, dense) <= CROSS_BACKEND["float64"]
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), dense.predict(X))
