"""MLPClassifier and MLPRegressor behave as scikit-learn's: methods, attributes, targets of
every kind, partial_fit, warm starts, stopping rules, sample weights, sparse input and errors.

These run on NumPy (the estimators' default); :mod:`test_sklearn_array_api` runs them on
the other backends and :mod:`test_sklearn_oracle` compares the numbers with scikit-learn.
"""

from __future__ import annotations

import inspect
import re
import warnings
from typing import Any

import numpy as np
import pytest
from conftest import SELECTED

pytest.importorskip("sklearn")

import scipy.sparse as sp
import sklearn.neural_network as skn
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from agnostic_mlp import InvalidArgumentError, MLPClassifier, MLPRegressor
from agnostic_mlp.sklearn.data import SparseDataset

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.skipif("numpy" not in SELECTED, reason="NumPy tests"),
]

ESTIMATORS = [MLPClassifier, MLPRegressor]


def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def regression(n: int = 200, outputs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=n, n_features=6, n_targets=outputs, noise=1.0,
                           random_state=0)
    return X, y / np.std(y)


def weights_of(est: Any) -> list[np.ndarray]:
    return [np.array(a, copy=True) for a in (*est.coefs_, *est.intercepts_)]


# -- the constructor -------------------------------------------------------------------


def test_importing_the_library_imports_no_scikit_learn() -> None:
    import subprocess
    import sys

    code = ("import sys, agnostic_mlp; "
            "assert not {'sklearn', 'scipy'} & set(sys.modules), 'imported'; "
            "from agnostic_mlp import MLPClassifier, MLPRegressor; "
            "from agnostic_mlp.sklearn import MLPClassifier as C; "
            "assert MLPClassifier is C and 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, skn.MLPClassifier),
                                          (MLPRegressor, skn.MLPRegressor)])
def test_scikit_learns_parameters_names_defaults_and_order(ours: Any, theirs: Any) -> None:
    mine = inspect.signature(ours).parameters
    reference = inspect.signature(theirs).parameters
    assert list(mine)[:len(reference)] == list(reference)
    for name, parameter in reference.items():
        assert mine[name].default == parameter.default, name
        assert mine[name].kind == parameter.kind, name
    ours_only = (["class_weight"] if ours is MLPClassifier else []) + [
        "backend", "device", "dtype", "callbacks", "checkpoint", "parallel"]
    assert list(mine)[len(reference):] == ours_only
    assert all(mine[name].default is None for name in ours_only)


def test_get_set_params_and_clone() -> None:
    clf = MLPClassifier(hidden_layer_sizes=(7,), alpha=0.5, backend="numpy")
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (7,) and params["backend"] == "numpy"
    assert clf.set_params(alpha=0.1, max_iter=3) is clf and clf.alpha == 0.1
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == clf.get_params()
    # the constructor and set_params accept anything; fit checks (scikit-learn's rule)
    MLPClassifier(activation="nonsense").set_params(alpha=-1)


# -- fitting and predicting ----------------------------------------------------------------


def test_fit_returns_self_and_sets_scikit_learns_attributes() -> None:
    X, y = iris()
    clf = MLPClassifier(hidden_layer_sizes=(10, 5), max_iter=20, random_state=0)
    assert clf.fit(X, y) is clf
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert [c.shape for c in clf.coefs_] == [(4, 10), (10, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(10,), (5,), (3,)]
    assert clf.n_features_in_ == 4 and clf.n_layers_ == 4 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert clf.n_iter_ == 20 and clf.t_ == 20 * 150
    assert len(clf.loss_curve_) == 20 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert not hasattr(clf, "feature_names_in_")


def test_xor_is_learned() -> None:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 10, dtype=float)
    y = np.array([0, 1, 1, 0] * 10)
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", learning_rate_init=0.05,
                        max_iter=400, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X[:4]), [0, 1, 1, 0])
    assert clf.score(X, y) == 1.0


@pytest.mark.parametrize("labels", [
    np.array(["setosa", "versicolor", "virginica"]),
    np.array([-7, 3, 40]),
    np.array([1.0, 2.0, 4.0]),
    np.array([True, False, True]),  # two classes of three
], ids=["strings", "integers", "floats", "booleans"])
def test_predictions_are_the_training_labels(labels: np.ndarray) -> None:
    X, y = iris()
    target = labels[y]
    clf = MLPClassifier(max_iter=50, random_state=0).fit(X, target)
    np.testing.assert_array_equal(clf.classes_, np.unique(target))
    predicted = clf.predict(X)
    assert predicted.dtype == target.dtype
    assert set(predicted.tolist()) <= set(target.tolist())
    assert clf.score(X, target) > 0.75
    proba = clf.predict_proba(X)
    assert proba.shape == (150, len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], predicted)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_binary_has_one_logistic_output_and_two_probability_columns() -> None:
    X, y = iris()
    target = np.where(y == 0, "no", "yes")
    clf = MLPClassifier(max_iter=30, random_state=0).fit(X, target)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.coefs_[-1].shape == (100, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.where(proba[:, 1] > 0.5, "yes", "no"), clf.predict(X))


def test_one_class_is_always_predicted() -> None:
    X, _ = iris()
    clf = MLPClassifier(max_iter=5, random_state=0).fit(X, np.full(150, "only"))
    np.testing.assert_array_equal(clf.predict(X), np.full(150, "only"))
    assert clf.predict_proba(X).shape == (150, 2)


def test_multilabel_targets_give_an_indicator_matrix() -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    labels = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=100, random_state=0).fit(X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    predicted = clf.predict(X)
    assert predicted.shape == labels.shape and set(np.unique(predicted)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == labels.shape
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert clf.score(X, labels) > 0.9  # subset accuracy


def test_regressor_outputs_and_losses() -> None:
    X, y = regression(outputs=1)
    reg = MLPRegressor(hidden_layer_sizes=(20,), learning_rate_init=0.01, max_iter=200,
                       random_state=0).fit(X, y)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1
    assert reg.predict(X).shape == (200,)
    assert reg.score(X, y) > 0.95

    X3, y3 = regression(outputs=3)
    reg3 = MLPRegressor(hidden_layer_sizes=(20,), max_iter=20, random_state=0).fit(X3, y3)
    assert reg3.predict(X3).shape == (200, 3) and reg3.n_outputs_ == 3

    counts = np.random.default_rng(0).poisson(np.exp(X[:, 0] / 2))
    poisson = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), learning_rate_init=0.01,
                           max_iter=100, random_state=0).fit(X, counts)
    assert poisson.out_activation_ == "exp"
    assert (poisson.predict(X) > 0).all()


def test_a_column_vector_y_warns_as_scikit_learn_does() -> None:
    X, y = iris()
    with pytest.warns(DataConversionWarning):
        MLPClassifier(max_iter=2).fit(X, y[:, None])
    Xr, yr = regression()
    with pytest.warns(DataConversionWarning):
        reg = MLPRegressor(max_iter=2).fit(Xr, yr[:, None])
    assert reg.predict(Xr).shape == (200,)


def test_verbose_prints_scikit_learns_lines(capsys: Any) -> None:
    X, y = iris()
    MLPClassifier(max_iter=2, verbose=True, early_stopping=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Iteration 1, loss = \d+\.\d{8}", lines[0])
    assert re.fullmatch(r"Validation score: \d\.\d{6}", lines[1])
    assert lines[2].startswith("Iteration 2, loss = ")


# -- partial_fit, warm start --------------------------------------------------------------


def test_partial_fit_epochs_equal_fit_epochs() -> None:
    X, y = iris()
    params = dict(hidden_layer_sizes=(6,), solver="sgd", shuffle=False, random_state=1,
                  n_iter_no_change=np.inf)
    fitted = MLPClassifier(max_iter=15, **params).fit(X, y)
    stepped = MLPClassifier(**params)
    for _ in range(15):
        stepped.partial_fit(X, y, classes=[0, 1, 2])
    for a, b in zip(weights_of(fitted), weights_of(stepped), strict=True):
        np.testing.assert_array_equal(a, b)
    assert stepped.n_iter_ == 1 and stepped.t_ == fitted.t_ == 15 * 150
    assert stepped.loss_curve_ == fitted.loss_curve_

    Xr, yr = regression()
    fitted_r = MLPRegressor(max_iter=10, **params).fit(Xr, yr)
    stepped_r = MLPRegressor(**params)
    for _ in range(10):
        stepped_r.partial_fit(Xr, yr)
    for a, b in zip(weights_of(fitted_r), weights_of(stepped_r), strict=True):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_classes() -> None:
    X, y = iris()
    clf = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "coefs_")
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # y need not hold every class
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "softmax"
    before = weights_of(clf)
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=re.escape("`y` has classes not in `self.classes_`")):
        clf.partial_fit(X, np.where(y == 2, 5, y))
    for a, b in zip(before, weights_of(clf), strict=True):  # the failed calls changed nothing
        np.testing.assert_array_equal(a, b)
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and clf.t_ == 100 + 150


def test_partial_fit_refuses_early_stopping() -> None:
    X, y = iris()
    for est in (MLPClassifier(early_stopping=True), MLPRegressor(early_stopping=True)):
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
            est.partial_fit(X, y, **({"classes": [0, 1, 2]} if est._classifier else {}))


def test_warm_start_continues_and_checks_the_classes() -> None:
    X, y = iris()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, warm_start=True, random_state=0,
                        n_iter_no_change=np.inf)
    clf.fit(X, y)
    first = weights_of(clf)
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 10 and clf.n_iter_ == 5 and clf.t_ == 10 * 150
    assert not np.array_equal(first[0], clf.coefs_[0])
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        clf.fit(X[y < 2], y[y < 2])
    cold = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])  # a cold fit starts afresh


# -- stopping rules ---------------------------------------------------------------------------


def test_training_loss_stops_after_n_iter_no_change_epochs_within_tol() -> None:
    X, y = iris()
    clf = MLPClassifier(tol=10.0, n_iter_no_change=3, max_iter=100, random_state=0).fit(X, y)
    # the first epoch sets the best loss; no later one beats it by 10: the 4th of them stops
    assert clf.n_iter_ == 5
    never = MLPClassifier(tol=10.0, n_iter_no_change=np.inf, max_iter=12,
                          random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        never.fit(X, y)
    assert never.n_iter_ == 12


def test_early_stopping_keeps_the_best_validation_weights() -> None:
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=2,
                        max_iter=300, learning_rate_init=0.05, random_state=0).fit(X / 16, y)
    assert clf.n_iter_ < 300
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    best = int(np.argmax(clf.validation_scores_))
    replay = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=2,
                           max_iter=best + 1, learning_rate_init=0.05, random_state=0)
    replay.fit(X / 16, y)
    for a, b in zip(weights_of(clf), weights_of(replay), strict=True):
        np.testing.assert_array_equal(a, b)


def test_validation_set_too_small() -> None:
    X, y = regression(n=2)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(X, y)


def test_adaptive_rate_divides_by_five_until_it_is_tiny() -> None:
    X, y = iris()
    clf = MLPClassifier(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1,
                        max_iter=200, random_state=0).fit(X, y)
    rate = clf._optimizer.learning_rate
    assert rate <= 1e-6 and clf.n_iter_ < 200
    assert rate == pytest.approx(0.001 / 5 ** round(np.log(0.001 / rate) / np.log(5)))


def test_invscaling_rate() -> None:
    X, y = iris()
    clf = MLPClassifier(solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=7,
                        random_state=0).fit(X, y)
    assert clf._optimizer.learning_rate == pytest.approx(0.001 / (clf.t_ + 1) ** 0.25)


# -- sample weights ------------------------------------------------------------------------


def test_sample_weights() -> None:
    X, y = iris()
    params = dict(hidden_layer_sizes=(5,), max_iter=8, random_state=0, shuffle=False)
    plain = MLPClassifier(**params).fit(X, y)
    ones = MLPClassifier(**params).fit(X, y, sample_weight=np.ones(150))
    for a, b in zip(weights_of(plain), weights_of(ones), strict=True):
        np.testing.assert_array_equal(a, b)
    # whole-batch gradient descent: a weight of 2 is a repeated row, a weight of 0 no row
    repeats = np.random.default_rng(0).integers(0, 3, size=150)
    full = dict(params, batch_size=400, solver="sgd", alpha=0.0)
    with pytest.warns(UserWarning, match="It is going to be clipped"):  # to the sample size
        weighted = MLPClassifier(**full).fit(X, y, sample_weight=repeats)
        repeated = MLPClassifier(**full).fit(np.repeat(X, repeats, axis=0),
                                             np.repeat(y, repeats))
    for a, b in zip(weights_of(weighted), weights_of(repeated), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    with pytest.raises(ValueError, match="at least one non-zero"):
        MLPClassifier().fit(X, y, sample_weight=np.zeros(150))
    with pytest.raises(ValueError, match=re.escape("sample_weight.shape == (3,), expected")):
        MLPClassifier().fit(X, y, sample_weight=[1.0, 2.0, 3.0])


# -- sparse input ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_x_is_densified_a_batch_at_a_time(make: Any, monkeypatch: Any) -> None:
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=100, random_state=0,
                  early_stopping=True)
    dense = MLPClassifier(**params).fit(X, y)
    densified: list[int] = []
    original = SparseDataset.ordered

    def watched(self: SparseDataset, *args: Any) -> Any:
        for block in original(self, *args):
            densified.append(block.n)
            yield block

    monkeypatch.setattr(SparseDataset, "ordered", watched)
    sparse = MLPClassifier(**params).fit(make(X), y)
    assert densified and max(densified) <= 100  # never the whole matrix at once
    for a, b in zip(weights_of(dense), weights_of(sparse), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_array_equal(sparse.predict(make(X)), dense.predict(X))
    np.testing.assert_allclose(sparse.predict_proba(make(X)), dense.predict_proba(X),
                               atol=1e-12)


def test_sparse_prediction_is_chunked(monkeypatch: Any) -> None:
    import agnostic_mlp.sklearn.data as rows

    X, y = regression(n=300)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    monkeypatch.setattr(rows, "CHUNK_BYTES", 8 * 6 * 64)  # 64 rows of 6 float64 features
    np.testing.assert_allclose(reg.predict(sp.csr_matrix(X)), reg.predict(X), atol=1e-12)


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("est", ESTIMATORS)
@pytest.mark.parametrize("param, value", [
    ("activation", "softmax"), ("alpha", -1.0), ("batch_size", 0), ("learning_rate", "fast"),
    ("learning_rate_init", 0.0), ("max_iter", 0), ("momentum", 1.5), ("beta_1", 1.0),
    ("epsilon", 0.0), ("n_iter_no_change", 0), ("validation_fraction", 1.0),
    ("hidden_layer_sizes", (10, 0)), ("shuffle", "yes"), ("random_state", "seed"),
    ("solver", "newton"), ("backend", "abacus"), ("dtype", "float16"),
])
def test_bad_parameters_are_refused_at_fit_naming_them(est: Any, param: str, value: Any) -> None:
    X, y = iris()
    with pytest.raises(ValueError, match=param if param not in ("backend", "dtype") else
                       f"{param} must be"):
        est(**{param: value}).fit(X, y)


def test_an_unknown_solver_is_refused_naming_the_solvers() -> None:
    X, y = iris()
    for est in ESTIMATORS:
        with pytest.raises(InvalidArgumentError, match=r"solver must be one of.*lbfgs"):
            est(solver="newton").fit(X, y)


def test_regressor_loss_and_classifier_targets_are_checked() -> None:
    X, y = iris()
    with pytest.raises(ValueError, match="loss must be one of"):
        MLPRegressor(loss="absolute_error").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, X[:, 0])


def test_a_failed_fit_leaves_the_estimator_and_its_randomstate_as_they_were() -> None:
    X, y = iris()
    rng = np.random.RandomState(0)
    clf = MLPClassifier(max_iter=3, random_state=rng, warm_start=True).fit(X, y)
    state = dict(clf.__dict__)
    before = weights_of(clf)
    drawn = rng.get_state()[1].copy()
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        clf.fit(X, np.where(y == 2, 7, y))
    assert clf.__dict__.keys() == state.keys()
    assert all(clf.__dict__[k] is state[k] for k in state)
    for a, b in zip(before, weights_of(clf), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(rng.get_state()[1], drawn)


def test_non_finite_weights_raise_scikit_learns_error_and_change_nothing() -> None:
    X, y = regression()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    before = weights_of(reg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            reg.set_params(warm_start=True, solver="sgd", learning_rate_init=1e4).fit(
                X * 1e200, y)
    for a, b in zip(before, weights_of(reg), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_diverging_fit_with_early_stopping_keeps_its_best_weights() -> None:
    X, y = iris()
    reg = MLPRegressor(activation="identity", solver="sgd", learning_rate_init=1.0,
                       max_iter=20, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reg.fit(X, y)
    assert str(reg.validation_scores_[-1]) == "nan"
    assert all(np.isfinite(c).all() for c in reg.coefs_)


def test_predicting_checks_the_input() -> None:
    X, y = iris()
    clf = MLPClassifier(max_iter=2)
    with pytest.raises(Exception, match="not fitted"):
        clf.predict(X)
    clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 4), np.nan))


def test_feature_names_are_kept() -> None:
    pd = pytest.importorskip("pandas")
    X, y = iris()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(max_iter=2).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


def test_ctrl_c_keeps_the_epochs_done_with_scikit_learns_warning(monkeypatch: Any) -> None:
    import agnostic_mlp.training.loop as solver

    X, y = iris()
    real = solver.make_runner
    epochs = []

    class Interrupted:
        def __init__(self, runner: Any) -> None:
            self.runner = runner

        def run(self, *args: Any) -> Any:
            epochs.append(len(epochs))
            if len(epochs) == 3:
                raise KeyboardInterrupt
            return self.runner.run(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.runner, name)

    monkeypatch.setattr(solver, "make_runner", lambda *a, **k: Interrupted(real(*a, **k)))
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        clf = MLPClassifier(max_iter=10, random_state=0, shuffle=False).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    monkeypatch.setattr(solver, "make_runner", real)
    two = MLPClassifier(max_iter=2, random_state=0, shuffle=False).fit(X, y)
    for a, b in zip(weights_of(clf), weights_of(two), strict=True):
        np.testing.assert_array_equal(a, b)
