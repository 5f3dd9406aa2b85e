"""``solver="lbfgs"`` in the estimators, against scikit-learn's own.

- **The same model** on NumPy in float64: ``coefs_``, ``intercepts_``,
  ``loss_`` and ``n_iter_`` equal scikit-learn's to 1e-8 (measured: at most 4e-16), for
  the classifier (binary, multiclass, multi-label) and the regressor (one and
  several outputs, squared error and Poisson), weighted or not, dense or
  sparse. L-BFGS amplifies rounding (a line search decision that flips at the
  last bit sends the path elsewhere), so this runs in a child process with
  NumPy's AVX-512 kernels off (:func:`helpers.without_avx512`): with them,
  NumPy's ``tanh`` and ``exp`` round otherwise than the loops scikit-learn
  calls, and the paths of tanh and logistic networks part after some
  iterations (the models are then equally good, not equal).
- **Every backend** in float64 reaches scikit-learn's loss (to 1e-6 relative)
  where the minimum is well defined (a strong L2 term, a tight ``tol``): a
  non-convex loss otherwise lets paths that part at one rounding reach other
  minima.
- Sparse, streamed and dense data give one model; the rest of scikit-learn's
  behaviour (warnings, attributes, ``partial_fit`` hidden, warm start).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.sparse as sp
from helpers import without_avx512
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

from agnostic_mlp import MLPClassifier, MLPRegressor, Stream
from agnostic_mlp.backends import to_numpy

RNG = np.random.default_rng(1)
X = RNG.normal(size=(120, 6))
TARGETS = {
    "binary": RNG.integers(0, 2, 120),
    "multiclass": np.array(["a", "b", "c"])[RNG.integers(0, 3, 120)],
    "multilabel": RNG.integers(0, 2, (120, 3)),
    "regression": X[:, 0] * 2.0 - np.sin(X[:, 1]),
    "multioutput": np.stack([X[:, 0] - X[:, 2], np.cos(X[:, 3])], axis=1),
    "poisson": RNG.poisson(np.exp(0.3 * X[:, 0])).astype(np.float64),
}
WEIGHTS = RNG.uniform(0.2, 2.0, 120)


def _pair(kind: str) -> tuple[type, type, dict[str, Any]]:
    extra = {"loss": "poisson"} if kind == "poisson" else {}
    if kind in ("binary", "multiclass", "multilabel"):
        return neural_network.MLPClassifier, MLPClassifier, extra
    return neural_network.MLPRegressor, MLPRegressor, extra


def fit_both(kind: str, *, weighted: bool = False, sparse: bool = False,
             **settings: Any) -> tuple[Any, Any, list[str], list[str]]:
    """scikit-learn's estimator and ours, fitted alike; the warnings each gave."""
    theirs, ours, extra = _pair(kind)
    x = sp.csr_matrix(X) if sparse else X
    w = WEIGHTS if weighted else None
    fitted, caught = [], []
    for cls in (theirs, ours):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fitted.append(cls(solver="lbfgs", random_state=0, **extra, **settings).fit(
                x, TARGETS[kind], sample_weight=w))
        caught.append([f"{w.category.__name__}: {w.message}" for w in seen])
    return fitted[0], fitted[1], caught[0], caught[1]


def differences(a: Any, b: Any) -> dict[str, Any]:
    def largest(xs: list[Any], ys: list[Any]) -> float:
        return max(float(np.max(np.abs(np.asarray(to_numpy(p)) - q)))
                   for p, q in zip(ys, xs, strict=True))
    return {"coefs": largest(a.coefs_, b.coefs_),
            "intercepts": largest(a.intercepts_, b.intercepts_),
            "loss": abs(a.loss_ - b.loss_), "n_iter": [a.n_iter_, b.n_iter_]}


EXACT = [
    {"kind": "binary", "activation": "tanh", "hidden_layer_sizes": (7, 5)},
    {"kind": "binary", "activation": "relu", "max_iter": 30},
    {"kind": "multiclass", "activation": "logistic"},
    {"kind": "multiclass", "activation": "relu", "weighted": True, "alpha": 1e-2},
    {"kind": "multilabel", "activation": "tanh"},
    {"kind": "multilabel", "activation": "identity", "sparse": True},
    {"kind": "regression", "activation": "tanh", "weighted": True},
    {"kind": "regression", "activation": "relu", "max_fun": 25},
    {"kind": "multioutput", "activation": "logistic", "hidden_layer_sizes": (6,)},
    {"kind": "poisson", "activation": "tanh", "hidden_layer_sizes": (4,), "alpha": 1e-2},
]


def measure(case: dict[str, Any]) -> dict[str, Any]:
    case = dict(case)
    kind, weighted, sparse = case.pop("kind"), case.pop("weighted", False), case.pop(
        "sparse", False)
    case.setdefault("hidden_layer_sizes", (8,))
    theirs, ours, warned_theirs, warned_ours = fit_both(kind, weighted=weighted, sparse=sparse,
                                                        **case)
    return {"case": kind, **differences(theirs, ours),
            "warnings": [warned_theirs, warned_ours]}


def test_on_numpy_in_float64_the_estimators_are_scikit_learns_lbfgs() -> None:
    done = subprocess.run([sys.executable, __file__], env=without_avx512(), check=True,
                          capture_output=True, text=True, timeout=600)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(measured) == len(EXACT)
    for m in measured:
        assert m["coefs"] <= 1e-8 and m["intercepts"] <= 1e-8, m
        assert m["loss"] <= 1e-8, m
        assert m["n_iter"][0] == m["n_iter"][1], m
        assert m["warnings"][0] == m["warnings"][1], m  # scikit-learn's ConvergenceWarning
    # Some converge, some stop at max_iter and some at max_fun (with its warning).
    said = [" ".join(m["warnings"][1]) for m in measured]
    assert any(not s for s in said)
    assert any("max_iter=30" in s for s in said)
    assert any("STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT" in s for s in said)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_every_backend_reaches_scikit_learns_loss(backend: str, device: Any, kind: str) -> None:
    theirs, _, extra = _pair(kind)
    settings = {"solver": "lbfgs", "hidden_layer_sizes": (5,), "activation": "tanh",
                "alpha": 1.0, "tol": 1e-10, "max_iter": 3000, "max_fun": 30000,
                "random_state": 0, **extra}
    reference = theirs(**settings).fit(X, TARGETS[kind])
    ours = _pair(kind)[1](backend=backend, device=device, dtype="float64", **settings).fit(
        X, TARGETS[kind])
    assert abs(ours.loss_ / reference.loss_ - 1) <= 1e-6, (ours.loss_, reference.loss_)
    assert ours.score(X, TARGETS[kind]) == pytest.approx(reference.score(X, TARGETS[kind]),
                                                         abs=1e-3)


def test_sparse_and_streamed_data_give_the_dense_model(tmp_path: Any) -> None:
    # tanh and a strong L2 term: one minimum that paths parted by rounding still reach.
    settings = {"solver": "lbfgs", "hidden_layer_sizes": (5,), "activation": "tanh",
                "alpha": 1.0, "tol": 1e-10, "max_iter": 2000, "random_state": 0}
    dense = MLPRegressor(**settings).fit(X, TARGETS["regression"])
    sparse = MLPRegressor(**settings).fit(sp.csr_matrix(X), TARGETS["regression"])
    for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)  # one densified piece: the same numbers
    # Read in windows of 50 rows: the pieces' sums round otherwise (measured: 1.4e-7).
    streamed = MLPRegressor(**settings).fit(Stream(X, window=50), TARGETS["regression"])
    assert streamed.loss_ == pytest.approx(dense.loss_, rel=1e-6)
    # The minimum is flat: weights 1e-8 of the loss apart differ by 1e-3 and fit alike.
    assert streamed.score(X, TARGETS["regression"]) == pytest.approx(
        dense.score(X, TARGETS["regression"]), abs=1e-5)


def test_attributes_warnings_and_refusals_are_scikit_learns() -> None:
    theirs, ours, warned_theirs, warned_ours = fit_both("multiclass", max_iter=3,
                                                        hidden_layer_sizes=(4,))
    assert warned_ours == warned_theirs and "ConvergenceWarning" in warned_ours[0]
    assert ours.n_iter_ == theirs.n_iter_ == 3 and ours.t_ == theirs.t_ == 0
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(ours, name) == hasattr(theirs, name), name  # lbfgs records none
    # partial_fit is hidden, as scikit-learn hides it.
    for est in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit") as refused:
            est.partial_fit(X, TARGETS["regression"])
        assert "lbfgs is not stochastic" in str(refused.value.__cause__)
        assert hasattr(est.set_params(solver="adam"), "partial_fit")
    # The epochs' plug-ins do not apply to a full-batch solver: refused, naming them.
    for name, value in (("callbacks", lambda *a: False), ("checkpoint", "run.ckpt")):
        est = MLPRegressor(solver="lbfgs", **{name: value})
        with pytest.raises(ValueError, match=name):
            est.fit(X, TARGETS["regression"])
        assert not hasattr(est, "coefs_")
    with pytest.raises(ValueError, match="max_fun"):
        MLPRegressor(solver="lbfgs", max_fun=0).fit(X, TARGETS["regression"])


def test_warm_start_continues_from_the_fitted_weights_as_scikit_learn() -> None:
    theirs, ours, _, _ = fit_both("binary", max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, TARGETS["binary"])
        ours.fit(X, TARGETS["binary"])
    m = differences(theirs, ours)
    assert m["coefs"] <= 1e-8 and m["n_iter"][0] == m["n_iter"][1], m
    # An lbfgs fit after an adam one starts from the adam weights; the adam epochs' record
    # stays, as scikit-learn leaves it.
    pair = []
    for cls in (neural_network.MLPRegressor, MLPRegressor):
        est = cls(max_iter=3, random_state=0, warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, TARGETS["regression"])
            before = est.loss_
            est.set_params(solver="lbfgs", max_iter=50).fit(X, TARGETS["regression"])
        assert est.loss_ < before and est.n_iter_ <= 50
        pair.append(est)
    assert pair[1].loss_curve_ == pytest.approx(pair[0].loss_curve_, rel=1e-10)
    assert pair[1].loss_ == pytest.approx(pair[0].loss_, rel=1e-6)

def test_an_lbfgs_model_saves_loads_and_pickles(tmp_path: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(4,), random_state=0,
                            max_iter=30).fit(X, TARGETS["multiclass"])
    est.save(tmp_path / "clf.safetensors")
    for again in (MLPClassifier.load(tmp_path / "clf.safetensors"),
                  pickle.loads(pickle.dumps(est))):
        np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
        assert (again.loss_, again.n_iter_) == (est.loss_, est.n_iter_)
        assert not hasattr(again, "loss_curve_") and not hasattr(again, "partial_fit")


if __name__ == "__main__":
    # The first test's child (NumPy's AVX-512 kernels off): the differences, as JSON.
    print(json.dumps([measure(case) for case in EXACT]))
