"""The estimators' safe files: ``save`` and ``load`` in the library's safetensors format.

A saved estimator loads (on any backend) to the same predictions, and goes on
with ``partial_fit`` and ``warm_start`` exactly as the one that saved it. What
a file cannot hold is refused when saving, naming it; a damaged, tampered or
foreign file raises ModelFileError when loading, and nothing in a file runs.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris

from agnostic_mlp import MLP, InvalidArgumentError, MLPClassifier, MLPRegressor, ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = load_iris(return_X_y=True)
LABELS = {
    "int": Y,
    "str": np.array(["setosa", "versicolor", "virginica"])[Y],
    "bool": Y == 1,
    "float": Y * 2.0,
    "multilabel": np.stack([Y == 0, Y == 2], axis=1).astype(int),
}


def weights(est: Any) -> list[np.ndarray]:
    return [np.asarray(a) for a in [*est.coefs_, *est.intercepts_]]


def same_weights(a: Any, b: Any) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(weights(a), weights(b), strict=True))


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_saved_classifier_loads_and_goes_on_as_it_would(labels: str, solver: str,
                                                          tmp_path: Path) -> None:
    y = LABELS[labels]
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0,
                        solver=solver).fit(X, y)
    clf.save(tmp_path / "clf.safetensors")
    loaded = MLPClassifier.load(tmp_path / "clf.safetensors")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    for name in ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "n_layers_",
                 "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(loaded, name) == getattr(clf, name), name
    loaded.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert same_weights(loaded, clf)
    clf.set_params(warm_start=True, max_iter=3)
    loaded.set_params(warm_start=True, max_iter=3)
    assert same_weights(loaded.fit(X, y), clf.fit(X, y))


def test_a_regressor_with_early_stopping_keeps_its_best_weights(tmp_path: Path) -> None:
    targets = np.stack([X[:, 0], X[:, 1] ** 2], axis=1)
    for loss in ("squared_error", "poisson"):
        reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=15, random_state=1, loss=loss,
                           early_stopping=True, solver="sgd", learning_rate="adaptive",
                           n_iter_no_change=2).fit(X, targets)
        reg.save(tmp_path / "reg.safetensors")
        loaded = MLPRegressor.load(tmp_path / "reg.safetensors")
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
        assert loaded.validation_scores_ == reg.validation_scores_
        assert loaded.best_validation_score_ == reg.best_validation_score_
        assert loaded._optimizer.learning_rate == reg._optimizer.learning_rate
        reg.set_params(warm_start=True, max_iter=2)
        loaded.set_params(warm_start=True, max_iter=2)
        assert same_weights(loaded.fit(X, targets), reg.fit(X, targets))


@pytest.mark.parametrize("backend", ["torch", "jax", "array_api_strict"])
def test_a_file_loads_onto_another_backend(backend: str, tmp_path: Path) -> None:
    pytest.importorskip(backend)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, Y)
    clf.save(tmp_path / "clf.safetensors")
    there = MLPClassifier.load(tmp_path / "clf.safetensors", backend=backend)
    assert there._placement.runtime.name == backend
    proba = there.predict_proba(X)
    assert isinstance(proba, np.ndarray)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    assert pickle.loads(pickle.dumps(there)).score(X, Y) == there.score(X, Y)


def test_what_a_file_cannot_hold_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="random_state=RandomState"):
        MLPClassifier(max_iter=2, random_state=np.random.RandomState(0)).fit(X, Y).save(
            tmp_path / "a")
    mixed = np.array([1, "a", 2.5], dtype=object)[Y]
    clf = MLPClassifier(max_iter=2, random_state=0).fit(X, mixed.astype(str))
    clf.classes_ = np.array([1, "a", 2.5], dtype=object)
    with pytest.raises(InvalidArgumentError, match="all strings, all integers"):
        clf.save(tmp_path / "b")
    assert not (tmp_path / "b").exists()




def test_damaged_tampered_and_foreign_files_raise_model_file_error(tmp_path: Path) -> None:
    path = tmp_path / "clf.safetensors"
    MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, Y).save(path)
    data = path.read_bytes()
    (tmp_path / "short").write_bytes(data[:-7])
    with pytest.raises(ModelFileError):
        MLPClassifier.load(tmp_path / "short")
    with pytest.raises(ModelFileError, match=r"holds an .MLPClassifier., not an MLPRegressor"):
        MLPRegressor.load(path)
    with pytest.raises(ModelFileError, match=r"load it with MLPClassifier\.load"):
        MLP.load(path)
    MLP(4, [3], 2).save(tmp_path / "mlp.safetensors")
    with pytest.raises(ModelFileError, match="it holds an MLP"):
        MLPClassifier.load(tmp_path / "mlp.safetensors")
    # Every byte of the header's JSON flipped in turn: each file loads as it was, or is refused.
    header = int.from_bytes(data[:8], "little")
    expected = MLPClassifier.load(path).predict_proba(X)
    flipped = tmp_path / "flipped"
    for i in range(8, 8 + header, 3):
        damaged = bytearray(data)
        damaged[i] ^= 0x20
        flipped.write_bytes(bytes(damaged))
        try:
            loaded = MLPClassifier.load(flipped)
        except ModelFileError:
            continue
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_a_file_describes_an_estimator_and_runs_nothing(tmp_path: Path) -> None:
    """A file with a matching digest but crafted values is held to the constructor's rules."""
    from safetensors.numpy import load_file

    from agnostic_mlp.io.format import write_entries

    path = tmp_path / "clf.safetensors"
    MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, Y).save(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        spec = json.loads(f.metadata()["estimator"])
    arrays = load_file(str(path))
    cases = {
        "activation": ("params", "activation", "__import__('os').system('false')"),
        "solver": ("params", "solver", "pickle"),
        "n_iter_": ("fitted", "n_iter_", -1),
        "out_activation_": ("fitted", "out_activation_", "eval"),
        "classes": ("classes", "type", "object"),
    }
    for what, (part, key, value) in cases.items():
        crafted = json.loads(json.dumps(spec))
        crafted[part][key] = value
        write_entries(tmp_path / "crafted", {"estimator": crafted}, arrays)
        with pytest.raises(ModelFileError, match=what.split("_")[0]):
            MLPClassifier.load(tmp_path / "crafted")
