"""``validation_loss_curve_``: with ``early_stopping=True``, each epoch's loss on the
held-out data, beside ``validation_scores_``, for both estimators.

It is the estimator's loss (log-loss, or half the squared error) of the
held-out samples, without the L2 term. Checked against scikit-learn's own loss
functions on the held-out rows, found as scikit-learn's ``_fit`` draws them:
at the best epoch, the estimator keeps those weights, so its predictions there
give that epoch's validation loss and score.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer

from agnostic_mlp import MLPClassifier, MLPRegressor

RNG = np.random.default_rng(7)
X = RNG.normal(size=(160, 5))
Y_REG = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
Y_CLASS = np.array(["x", "y", "z"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)]


def held_out(est: Any, y: Any) -> np.ndarray:
    """The rows scikit-learn's ``_fit`` holds out: after drawing the initial weights from the
    RandomState, ``train_test_split`` with it (stratified for a classifier of one output)."""
    rng = np.random.RandomState(est.random_state)
    layers = [X.shape[1], *est.hidden_layer_sizes, est.n_outputs_]
    for fan_in, fan_out in itertools.pairwise(layers):
        rng.uniform(size=(fan_in, fan_out))
        rng.uniform(size=fan_out)
    # scikit-learn stratifies on the binarized labels, where they are one column
    stratify = LabelBinarizer().fit_transform(y) if (
        isinstance(est, MLPClassifier) and est.n_outputs_ == 1) else None
    _, val = train_test_split(np.arange(len(y)), random_state=rng,
                              test_size=est.validation_fraction, stratify=stratify)
    return val


def test_the_regressors_curve_is_the_held_out_half_squared_error(backend: str,
                                                                device: Any) -> None:
    est = MLPRegressor(hidden_layer_sizes=(6,), early_stopping=True, max_iter=40,
                       n_iter_no_change=5, random_state=3, alpha=0.5, backend=backend,
                       device=device, dtype="float64").fit(X, Y_REG)
    curve = est.validation_loss_curve_
    assert len(curve) == len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_)
    val = held_out(est, Y_REG)
    best = int(np.argmax(est.validation_scores_))
    pred = est.predict(X[val])
    assert est.validation_scores_[best] == pytest.approx(r2_score(Y_REG[val], pred), abs=1e-12)
    # Without the L2 term (alpha=0.5 would add to it).
    assert curve[best] == pytest.approx(0.5 * np.mean((Y_REG[val] - pred) ** 2), rel=1e-10)
    assert len(set(curve)) > 1


@pytest.mark.parametrize("binary", [False, True])
def test_the_classifiers_curve_is_the_held_out_log_loss(binary: bool) -> None:
    y = np.where(Y_CLASS == "z", "y", Y_CLASS) if binary else Y_CLASS
    est = MLPClassifier(hidden_layer_sizes=(6,), early_stopping=True, max_iter=30,
                        random_state=1).fit(X, y)
    val = held_out(est, y)
    best = int(np.argmax(est.validation_scores_))
    assert est.validation_scores_[best] == pytest.approx(
        accuracy_score(y[val], est.predict(X[val])), abs=1e-12)
    assert est.validation_loss_curve_[best] == pytest.approx(
        log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_), rel=1e-10)


def test_without_early_stopping_there_is_none_and_warm_start_extends_it(tmp_path: Any) -> None:
    assert MLPRegressor(max_iter=3).fit(X, Y_REG).validation_loss_curve_ is None
    est = MLPRegressor(early_stopping=True, warm_start=True, max_iter=4, n_iter_no_change=50,
                       random_state=0)
    with pytest.warns(UserWarning):  # ConvergenceWarning: max_iter reached
        est.fit(X, Y_REG)
    first = list(est.validation_loss_curve_)
    with pytest.warns(UserWarning):
        est.fit(X, Y_REG)
    assert est.validation_loss_curve_[:4] == first and len(est.validation_loss_curve_) == 8
    est.save(tmp_path / "reg.safetensors")
    assert MLPRegressor.load(tmp_path / "reg.safetensors").validation_loss_curve_ == (
        est.validation_loss_curve_)
