"""Fitted attributes set by hand are what ``partial_fit`` and ``warm_start`` continue from.

scikit-learn's own tests set ``coefs_``, ``intercepts_`` and the attributes
``fit`` would have set on an estimator never fitted, then call
``partial_fit`` (its ``test_fit``); users do the same to start from weights
of their own. Here both libraries do it, and give the same model, on every
backend: the hand-set NumPy arrays are brought to the backend's device.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

from agnostic_mlp import MLPClassifier, MLPRegressor
from agnostic_mlp.backends import to_numpy

RNG = np.random.default_rng(2)
X = RNG.normal(size=(40, 3))
Y_CLASS = (X[:, 0] + X[:, 1] > 0).astype(int)
Y_REG = X @ np.array([1.0, -2.0, 0.5])


def by_hand(est: Any, solver: str) -> Any:
    """``est`` with two layers' weights and the attributes scikit-learn's test_fit sets."""
    est.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([[0.1], [0.2]])]
    est.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    est.n_features_in_ = 3
    est.n_outputs_ = 1
    est.n_layers_ = 3
    est.n_iter_ = 0
    est.out_activation_ = "logistic" if isinstance(est, neural_network.MLPClassifier
                                                   | MLPClassifier) else "identity"
    if solver != "lbfgs":
        est.t_ = 0
        est.best_loss_ = np.inf
        est.loss_curve_ = []
        est._no_improvement_count = 0
    return est


def largest_difference(a: Any, b: Any) -> float:
    return max(float(np.max(np.abs(np.asarray(to_numpy(p)) - q)))
               for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_],
                               strict=True))


def test_partial_fit_continues_from_weights_set_by_hand(backend: str, device: Any) -> None:
    settings = {"solver": "sgd", "learning_rate_init": 0.1, "alpha": 0.1, "momentum": 0.0,
                "activation": "logistic", "hidden_layer_sizes": 2, "random_state": 1}
    theirs = by_hand(neural_network.MLPClassifier(**settings), "sgd")
    ours = by_hand(MLPClassifier(backend=backend, device=device, dtype="float64", **settings),
                   "sgd")
    for est in (theirs, ours):
        est.partial_fit(X, Y_CLASS, classes=[0, 1])
        est.partial_fit(X, Y_CLASS)
    assert largest_difference(ours, theirs) <= 1e-12
    assert ours.t_ == theirs.t_ == 2 * len(X)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)
    # The weights moved from those set by hand (not from a fresh draw of random_state).
    fresh = MLPClassifier(backend=backend, device=device, dtype="float64", **settings)
    fresh.partial_fit(X, Y_CLASS, classes=[0, 1])
    assert largest_difference(fresh, theirs) > 1e-3


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_warm_start_continues_from_weights_set_by_hand(backend: str, device: Any,
                                                       solver: str) -> None:
    settings = {"solver": solver, "warm_start": True, "hidden_layer_sizes": 2, "max_iter": 20,
                "random_state": 0, "activation": "tanh"}
    pair = []
    for est in (neural_network.MLPRegressor(**settings),
                MLPRegressor(backend=backend, device=device, dtype="float64", **settings)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pair.append(by_hand(est, solver).fit(X, Y_REG))
    theirs, ours = pair
    # L-BFGS's path amplifies the backends' last-bit differences: within 1e-6 on NumPy.
    assert largest_difference(ours, theirs) <= (1e-10 if solver == "adam" else 1e-6)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)


def test_weights_set_by_hand_that_do_not_fit_the_data_are_refused() -> None:
    est = by_hand(MLPRegressor(solver="sgd", hidden_layer_sizes=2), "sgd")
    with pytest.raises(ValueError, match="3 features"):
        est.partial_fit(X[:, :2], Y_REG)
