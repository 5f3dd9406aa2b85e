"""``MLPClassifier(class_weight=...)``: fitting equals fitting with
``sample_weight=compute_sample_weight(class_weight, y)`` (times any sample weights),
as scikit-learn's other classifiers define it; scikit-learn's computes the weights.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from agnostic_mlp import InvalidArgumentError, MLPClassifier
from agnostic_mlp.backends import to_numpy

RNG = np.random.default_rng(5)
X = RNG.normal(size=(90, 4))
Y = {
    "binary": RNG.choice([3, 7], 90, p=[0.7, 0.3]),
    "multiclass": np.array(["a", "b", "c"])[RNG.choice(3, 90, p=[0.6, 0.3, 0.1])],
    "multilabel": (RNG.uniform(size=(90, 3)) < [0.2, 0.5, 0.8]).astype(int),
}
CLASS_WEIGHTS = {"binary": {3: 0.5, 7: 4.0}, "multiclass": {"a": 1.0, "c": 6.0},
                 "multilabel": "balanced"}
SAMPLE_WEIGHT = RNG.uniform(0.3, 2.0, 90)


def largest_difference(a: Any, b: Any) -> float:
    return max(float(np.max(np.abs(np.asarray(to_numpy(p)) - np.asarray(to_numpy(q)))))
               for p, q in zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_],
                               strict=True))


def fitted(est: Any, y: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


@pytest.mark.parametrize("kind", sorted(Y))
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("weighted", [False, True])
def test_class_weight_is_compute_sample_weights_weights(kind: str, solver: str,
                                                        weighted: bool) -> None:
    y = Y[kind]
    settings = {"solver": solver, "hidden_layer_sizes": (5,), "max_iter": 15, "random_state": 0}
    sw = SAMPLE_WEIGHT if weighted else None
    for cw in (CLASS_WEIGHTS[kind], "balanced"):
        ours = fitted(MLPClassifier(class_weight=cw, **settings), y, sample_weight=sw)
        expected = compute_sample_weight(cw, y) * (1.0 if sw is None else sw)
        plain = fitted(MLPClassifier(**settings), y, sample_weight=expected)
        assert largest_difference(ours, plain) <= 1e-12
        assert ours.loss_ == pytest.approx(plain.loss_, rel=1e-12, abs=1e-15)
    # The weights matter: unweighted, the model differs.
    assert largest_difference(fitted(MLPClassifier(**settings), y), plain) > 1e-6


def test_class_weight_on_every_backend(backend: str, device: Any) -> None:
    y = Y["multiclass"]
    settings = {"hidden_layer_sizes": (5,), "max_iter": 10, "random_state": 0}
    ours = fitted(MLPClassifier(class_weight="balanced", backend=backend, device=device,
                                dtype="float64", **settings), y)
    theirs = fitted(neural_network.MLPClassifier(**settings), y,
                    sample_weight=compute_sample_weight("balanced", y))
    assert largest_difference(ours, theirs) <= 1e-10


def test_partial_fit_takes_a_dict_and_refuses_balanced() -> None:
    y = Y["multiclass"]
    cw = {"b": 2.5, "c": 9.0}
    ours = MLPClassifier(class_weight=cw, hidden_layer_sizes=(5,), random_state=0)
    plain = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    for lo in (0, 45):
        rows = slice(lo, lo + 45)
        ours.partial_fit(X[rows], y[rows], classes=["a", "b", "c"])
        # Per call, the dict's weights of that call's labels (it needs no frequencies).
        weights = compute_class_weight(cw, classes=np.array(["a", "b", "c"]), y=y)
        per_row = weights[np.searchsorted(["a", "b", "c"], y[rows])]
        plain.partial_fit(X[rows], y[rows], sample_weight=per_row, classes=["a", "b", "c"])
    assert largest_difference(ours, plain) <= 1e-12
    balanced = MLPClassifier(class_weight="balanced")
    with pytest.raises(ValueError, match="not supported for partial_fit"):
        balanced.partial_fit(X, y, classes=["a", "b", "c"])
    assert not hasattr(balanced, "coefs_")


def test_bad_class_weights_are_refused_naming_them() -> None:
    y = Y["multiclass"]
    for cw, error, match in [("balance", InvalidArgumentError, "class_weight must be"),
                             ([1.0, 2.0], InvalidArgumentError, "class_weight must be"),
                             ({"z": 2.0}, ValueError, "not classes of y"),
                             ({"a": -1.0}, InvalidArgumentError, "non-negative")]:
        est = MLPClassifier(class_weight=cw, max_iter=2)
        with pytest.raises(error, match=match):
            est.fit(X, y)
        assert not hasattr(est, "coefs_")
    with pytest.raises(ValueError, match="multi-output"):
        MLPClassifier(class_weight={0: 2.0}, max_iter=2).fit(X, Y["multilabel"])
    with pytest.raises(ValueError, match="non-zero"):
        MLPClassifier(class_weight={"a": 0.0, "b": 0.0, "c": 0.0}, max_iter=2).fit(X, y)


def test_a_class_weight_dict_is_saved(tmp_path: Any) -> None:
    est = fitted(MLPClassifier(class_weight={3: 0.5, 7: 4.0}, max_iter=3, random_state=0),
                 Y["binary"])
    est.save(tmp_path / "clf.safetensors")
    again = MLPClassifier.load(tmp_path / "clf.safetensors")
    assert again.class_weight == {3: 0.5, 7: 4.0}
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
