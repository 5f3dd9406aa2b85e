"""A newcomer's first hour (issue 22): install hints, the demo, presets, weights,
quiet divergence, the NaN error's place, foreign arrays, backends' agreement, plots.

The wheel and the sdist are checked by ``nox -s build`` (they need an index to
build in isolation); everything else is here.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, BackendUnavailableError, DivergenceError, InvalidArgumentError
from agnostic_mlp.backends import BACKENDS
from agnostic_mlp.tutorial import TutorialProgress

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter importing this checkout."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


BLOCK = '''
import sys

class Block:
    """Makes every import of the named top-level packages fail, as if not installed."""
    def __init__(self, *names):
        self.names = names
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block(*sys.argv[1:]))
'''


# -- 1, 4: install lines -------------------------------------------------------------


def test_every_install_hint_names_a_real_extra_and_its_package():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "array-api-strict" in extras  # PyPI's spelling, which every pip matches
    for name, (_, hint) in BACKENDS.items():
        if name == "numpy":
            continue
        package, extra = hint.split()[2], hint.split("extra [", 1)[1].split("]", 1)[0]
        assert hint.startswith(f"pip install {package} "), hint
        assert extra in extras, (name, extra)
        assert any(req.startswith(package) for req in extras[extra]), (name, extras[extra])


def test_a_missing_backend_says_pip_install_array_api_strict(monkeypatch):
    monkeypatch.setitem(sys.modules, "array_api_strict", None)
    with pytest.raises(BackendUnavailableError,
                       match=r"pip install array-api-strict \(agnostic_mlp's extra "
                             r"\[array-api-strict\]\)"):
        MLP(2, [3], 1, backend="array_api_strict")


def test_without_scikit_learn_the_estimators_say_how_to_install_it():
    result = run_python(BLOCK + '''
import numpy as np
from agnostic_mlp import MLP
MLP(2, [3], 1, seed=0).fit(np.zeros((4, 2)), np.zeros(4), epochs=1, verbose=0)
for statement in ("from agnostic_mlp import MLPClassifier",
                  "from agnostic_mlp.sklearn import MLPRegressor"):
    try:
        exec(statement)
    except ModuleNotFoundError as exc:
        print(type(exc).__name__, exc.name, "|", exc)
''', "sklearn")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert line.startswith("ModuleNotFoundError sklearn |"), line
        assert "pip install scikit-learn (agnostic_mlp's extra [sklearn])" in line


# -- 3: the demo -----------------------------------------------------------------------


def test_the_demo_prints_the_right_sum_and_a_short_progress_display():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "add_two_numbers.py")],
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Our network believes that 0.3 + 0.1 is equal to 0.40\n" in out
    assert "Error: " not in out  # not the tutorial's 50 lines
    assert len(out.splitlines()) <= 10, out
    assert out.count("epoch ") == 5 and "epoch 50/50" in out
    assert result.stderr == ""


@pytest.mark.parametrize("seed", [1, 2])
def test_the_demo_is_right_to_two_decimals_from_other_seeds(seed, capsys):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import add_two_numbers
    finally:
        sys.path.remove(str(ROOT / "examples"))
    result = add_two_numbers.main(["--seed", str(seed)])
    assert round(result["prediction"], 2) == 0.40
    assert result["test_mse"] < 1e-4
    assert "is equal to 0.40" in capsys.readouterr().out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress_model(seed: int = 0) -> tuple[MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    items = rng.random((40, 2)) / 2
    return MLP(2, [3], 1, seed=seed), items, items.sum(axis=1, keepdims=True)


def test_train_progress_is_five_lines_in_a_log_and_one_line_on_a_terminal(capsys):
    assert TutorialProgress().stream is None  # sys.stdout when it prints
    mlp, items, targets = _progress_model()
    errors = mlp.train(items, targets, 12, 0.1, verbose="progress")
    lines = capsys.readouterr().out.splitlines()
    # epochs 3, 6, 9, 12 (a fifth of 12, rounded up, is 3), then the end
    assert [line.split("] ")[1].split("  ")[0] for line in lines[:-1]] == [
        "epoch 3/12", "epoch 6/12", "epoch 9/12", "epoch 12/12"]
    assert lines[-1] == "Training complete!"
    assert lines[-2].endswith(f"error {errors[-1]:.3g}")

    mlp, items, targets = _progress_model()
    terminal = _Terminal()
    with pytest.MonkeyPatch.context() as patch:  # a terminal: one line, redrawn each epoch
        patch.setattr(sys, "stdout", terminal)
        patch.setattr(TutorialProgress, "interval", 1e9)  # no redraw within an epoch
        mlp.train(items, targets, 12, 0.1, verbose="progress")
    text = terminal.getvalue()
    assert text.count("\r") == 12 and text.count("\n") == 2
    assert text.split("\r")[-1].startswith("[####################] epoch 12/12  error ")
    assert text.endswith("\nTraining complete!\n")


def test_train_refuses_an_unknown_verbose():
    mlp, items, targets = _progress_model()
    with pytest.raises(InvalidArgumentError, match="verbose"):
        mlp.train(items, targets, 1, 0.1, verbose="bar")


# -- 5: messages, presets, weights ---------------------------------------------------


def _digits(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16.0).astype(np.float32), y[:n]


def test_integer_labels_with_the_default_loss_suggest_categorical_cross_entropy():
    mlp = MLP(4, [3], 10)
    with pytest.raises(ValueError) as info:
        mlp.fit(np.zeros((5, 4)), np.arange(5), verbose=0)
    message = str(info.value)
    assert "y is 1-D, but the model has 10 outputs" in message
    assert "loss='categorical_cross_entropy'" in message
    assert "MLP.classifier(" in message


def test_the_classifier_preset_learns_labels_and_keeps_the_tutorials_defaults_apart(
        backend, device):
    pytest.importorskip("sklearn")
    X, y = _digits()
    clf = MLP.classifier(64, [32], 10, backend=backend, device=device, seed=0)
    assert [a.name for a in clf.layer_activations] == ["relu", "softmax"]
    assert (clf.loss.name, type(clf.optimizer).__name__) == ("categorical_cross_entropy",
                                                            "Adam")
    clf.fit(X, y, epochs=15, verbose=0)
    assert clf.score(X, y) > 0.9
    probabilities = host(clf.predict_proba(X[:3]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    tutorial = MLP(2, [5], 1)  # the tutorial's constructor keeps its defaults
    assert [a.name for a in tutorial.layer_activations] == ["sigmoid", "sigmoid"]
    assert (tutorial.loss.name, type(tutorial.optimizer).__name__) == ("mse", "SGD")
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        MLP.classifier(64, [32], 1)


def test_the_regressor_preset_fits_targets_beyond_a_sigmoids_range(backend, device):
    rng = np.random.default_rng(0)
    X = rng.random((400, 2))
    y = 10 * X[:, 0] - 5 * X[:, 1] + 3  # in [-2, 13]
    reg = MLP.regressor(2, [16], backend=backend, device=device, seed=0)
    assert [a.name for a in reg.layer_activations] == ["relu", "identity"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "sigmoid output only reaches (0, 1)" warning
        reg.fit(X, y, epochs=60, batch_size=16, learning_rate=0.01, verbose=0)
    assert reg.score(X, y) > 0.98
    assert isinstance(MLP.regressor(2, [4]), MLP)


def _weights(model: MLP) -> list[np.ndarray]:
    return [host(p) for p in model.parameters()]


def test_uniform_sample_weights_change_nothing(backend, device):
    X, y = _digits(200)
    args = dict(epochs=3, batch_size=50, verbose=0)
    plain = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=1)
    plain.fit(X, y, **args)
    weighted = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=1)
    weighted.fit(X, y, sample_weight=np.full(len(y), 3.0), **args)
    scalar = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=1)
    scalar.fit(X, y, sample_weight=3.0, **args)
    for a, b, c in zip(_weights(plain), _weights(weighted), _weights(scalar), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(c, b)


def test_zero_weights_drop_their_samples(backend, device):
    X, y = _digits(200)
    keep = np.arange(len(y)) % 3 != 0
    args = dict(epochs=4, shuffle=False, verbose=0, learning_rate=0.01)
    weighted = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=2)
    weighted.fit(X, y, batch_size=len(y), sample_weight=keep.astype(float), **args)
    subset = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=2)
    subset.fit(X[keep], y[keep], batch_size=int(keep.sum()), **args)
    heavier = MLP.classifier(64, [8], 10, backend=backend, device=device, seed=2)
    heavier.fit(X, y, batch_size=len(y), sample_weight=np.where(keep, 1.0, 5.0), **args)
    for a, b, c in zip(_weights(weighted), _weights(subset), _weights(heavier), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert not np.allclose(a, c, rtol=1e-3, atol=1e-5)  # the weights matter


def test_class_weight_is_compute_sample_weights():
    pytest.importorskip("sklearn")
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _digits(300)
    y = np.where(y < 7, 0, np.where(y < 9, 1, 2))  # unbalanced: 210, 60, 30
    args = dict(epochs=3, batch_size=32, verbose=0)
    for class_weight in ("balanced", {0: 0.5, 2: 4.0}):
        given = MLP.classifier(64, [8], 3, seed=3)
        given.fit(X, y, class_weight=class_weight, sample_weight=np.linspace(1, 2, len(y)),
                  **args)
        oracle = MLP.classifier(64, [8], 3, seed=3)
        oracle.fit(X, y, sample_weight=compute_sample_weight(class_weight, y)
                   * np.linspace(1, 2, len(y)), **args)
        for a, b in zip(_weights(given), _weights(oracle), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_class_weight_of_binary_outputs():
    pytest.importorskip("sklearn")
    from sklearn.utils.class_weight import compute_sample_weight

    rng = np.random.default_rng(4)
    X = rng.random((120, 3))
    y = (X[:, :2] > [0.8, 0.3]).astype(float)  # two labels, each unbalanced
    args = dict(epochs=2, batch_size=16, verbose=0)
    given = MLP(3, [4], 2, loss="binary_cross_entropy", seed=4)
    given.fit(X, y, class_weight="balanced", **args)
    oracle = MLP(3, [4], 2, loss="binary_cross_entropy", seed=4)
    oracle.fit(X, y, sample_weight=compute_sample_weight("balanced", y.astype(int)), **args)
    for a, b in zip(_weights(given), _weights(oracle), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_sample_weight_with_validation_split_weighs_the_training_rows():
    X, y = _digits(200)
    w = np.random.default_rng(5).random(len(y)) + 0.5
    split = MLP.classifier(64, [8], 10, seed=5)
    history = split.fit(X, y, sample_weight=w, validation_split=0.25, epochs=2, verbose=0)
    explicit = MLP.classifier(64, [8], 10, seed=5)
    explicit.fit(X[:150], y[:150], sample_weight=w[:150], validation_data=(X[150:], y[150:]),
                 epochs=2, verbose=0)
    for a, b in zip(_weights(split), _weights(explicit), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "val_loss" in history.history


@pytest.mark.parametrize(("kwargs", "what"), [
    (dict(sample_weight=np.ones(7)), r"shape \(10,\), got shape \(7,\)"),
    (dict(sample_weight=-np.ones(10)), "non-negative, got -1 at row 0"),
    (dict(sample_weight=np.r_[np.ones(9), np.nan]), "NaN or infinity.*row 9"),
    (dict(sample_weight=np.zeros(10)), "zero for every training sample"),
    (dict(sample_weight="heavy"), "sample_weight must be real numbers"),
    (dict(sample_weight=True), "not a bool|got a bool"),
    (dict(class_weight="even"), "class_weight must be None, 'balanced' or a dict"),
    (dict(class_weight={5: 2.0}), r"integers in \[0, 3\), got 5"),
    (dict(class_weight={1: -2.0}), r"class_weight\[1\] must be a finite non-negative"),
])
def test_bad_weights_are_refused_before_training(kwargs, what):
    X = np.random.default_rng(6).random((10, 2))
    y = np.arange(10) % 3
    mlp = MLP.classifier(2, [3], 3, seed=6)
    before, state = _weights(mlp), mlp.rng.bit_generator.state
    with pytest.raises(InvalidArgumentError, match=what):
        mlp.fit(X, y, verbose=0, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(_weights(mlp), before, strict=True))
    assert mlp.rng.bit_generator.state == state


def test_class_weight_needs_a_classifier_and_hard_labels():
    X = np.random.default_rng(7).random((10, 2))
    with pytest.raises(InvalidArgumentError, match="class_weight needs a classifier"):
        MLP.regressor(2, [3]).fit(X, X[:, 0], class_weight="balanced", verbose=0)
    soft = np.full((10, 2), 0.5)
    with pytest.raises(InvalidArgumentError, match="hard class labels"):
        MLP.classifier(2, [3], 2).fit(X, soft, class_weight="balanced", verbose=0)


def test_weights_need_data_in_memory(tmp_path):
    X = np.random.default_rng(8).random((50, 2)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    with pytest.raises(InvalidArgumentError, match="need data in memory"):
        MLP.regressor(2, [3]).fit(mapped, X[:, 0], sample_weight=np.ones(50), verbose=0)


# -- 6: quiet divergence, the NaN's place ----------------------------------------------


def test_a_diverging_fit_raises_divergence_error_without_floating_point_warnings(
        backend, device):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 100
    y = X.sum(axis=1)
    mlp = MLP(3, [16], 1, output_activation="identity", backend=backend, device=device,
              seed=0)
    errors = np.geterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DivergenceError):
            mlp.fit(X, y, epochs=5, learning_rate=10.0, verbose=0)
    assert [str(w.message) for w in caught] == []
    assert np.geterr() == errors  # only the steps ran quietly


def test_a_diverging_tutorial_train_is_quiet_too(backend, device):
    X = np.random.default_rng(1).normal(size=(50, 2)) * 1e3
    mlp = MLP(2, [4], 1, output_activation="identity", backend=backend, device=device,
              seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(DivergenceError):
            mlp.train(X, X.sum(axis=1), 20, 10.0, verbose=False)
    assert [str(w.message) for w in caught] == []


def test_the_nan_error_names_the_first_bad_row_and_column(backend, device):
    mlp = MLP(3, [2], 1, backend=backend, device=device)
    X = np.zeros((6, 3))
    X[4, 1] = np.inf
    X[2, 2] = np.nan  # the first in row order
    for given in (X, mlp.runtime.asarray(X)):
        with pytest.raises(ValueError,
                           match=r"X contains NaN or infinity \(the first, nan, at row 2, "
                                 r"column 2\)"):
            mlp.predict(given)
    y = np.zeros(6)
    y[5] = -np.inf
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(the first, -inf, "
                                         r"at row 5\)"):
        mlp.fit(np.zeros((6, 3)), y, verbose=0)
    big = np.zeros((6, 3))
    big[3, 0] = 1e300
    with pytest.raises(ValueError, match=r"beyond float32's range .*at row 3, column 0\)"):
        mlp.predict(big)


# -- 7: one rule for foreign arrays ------------------------------------------------------


def test_a_numpy_model_reads_host_arrays_of_any_library():
    torch = pytest.importorskip("torch")
    import array_api_strict

    X = np.random.default_rng(9).random((5, 3)).astype(np.float32)
    mlp = MLP(3, [4], 2, seed=0)
    expected = host(mlp.predict(X))
    given = [torch.asarray(X), torch.asarray(X).requires_grad_(), array_api_strict.asarray(X)]
    try:
        import jax.numpy as jnp

        given.append(jnp.asarray(X))
    except ImportError:
        pass
    for x in given:
        got = mlp.predict(x)
        assert isinstance(got, np.ndarray), type(x)
        np.testing.assert_array_equal(got, expected)
    before = _weights(mlp)
    mlp.fit(torch.asarray(X), torch.asarray(X[:, :2]), epochs=1, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(mlp), before, strict=True))


def test_arrays_of_another_library_on_a_device_are_refused_by_both_faces():
    pytest.importorskip("sklearn")
    import array_api_strict

    from agnostic_mlp import MLPClassifier

    X = np.random.default_rng(10).random((20, 3))
    y = np.arange(20) % 2
    on_device = array_api_strict.asarray(X, device=array_api_strict.Device("device1"))
    mlp = MLP(3, [4], 2, seed=0)
    with pytest.raises(ValueError, match=r"X is a array_api_strict.Array on device .*device1.*"
                                         r"agnostic_mlp.to_numpy\(X\)"):
        mlp.predict(on_device)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations: not converged
        clf.fit(X, y)
        np.testing.assert_array_equal(clf.predict(array_api_strict.asarray(X)), clf.predict(X))
        for call in (lambda: clf.predict(on_device), lambda: clf.fit(on_device, y)):
            with pytest.raises(ValueError, match=r"X is a array_api_strict.Array on device "
                                                 r".*device1.*agnostic_mlp.to_numpy\(X\)"):
                call()


def test_a_cuda_tensor_is_refused_by_a_numpy_model():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    with pytest.raises(ValueError, match=r"X is a torch.Tensor on device 'cuda:0'"):
        MLP(3, [4], 2).predict(torch.ones((2, 3), device="cuda"))


# -- 8: the backends agree with NumPy after training -------------------------------------

#: How far a backend's predicted probabilities may be from NumPy's after 20 epochs of Adam
#: on digits in float32 from the same seed (measured: PyTorch 4e-7, JAX 9e-6; after 200
#: epochs 5e-6 and 4e-4: float32 rounding, grown by training).
AGREEMENT = 1e-4


def test_backends_predict_as_numpy_does_after_training(backend, device):
    pytest.importorskip("sklearn")
    if backend == "numpy":
        pytest.skip("NumPy is the reference")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    probabilities = []
    for name, where in (("numpy", None), (backend, device)):
        mlp = MLP.classifier(64, [64], 10, backend=name, device=where, seed=0)
        mlp.fit(X, y, epochs=20, batch_size=32, verbose=0)
        probabilities.append(host(mlp.predict_proba(X)).astype(np.float64))
    reference, got = probabilities
    assert np.max(np.abs(got - reference)) <= AGREEMENT
    np.testing.assert_array_equal(got.argmax(axis=1), reference.argmax(axis=1))
    assert np.mean(reference.argmax(axis=1) == y) > 0.95  # a trained model, not a flat one


# -- 9: plot_history --------------------------------------------------------------------


@pytest.fixture
def plt() -> Any:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _lines(ax: Any) -> dict[str, np.ndarray]:
    return {line.get_label(): np.asarray(line.get_ydata(), dtype=float)
            for line in ax.get_lines()}


def test_plot_history_draws_a_historys_curves_and_best_epoch(plt, tmp_path):
    pytest.importorskip("sklearn")
    from agnostic_mlp import plot_history

    X, y = _digits(300)
    mlp = MLP.classifier(64, [16], 10, seed=0)
    history = mlp.fit(X, y, epochs=40, validation_split=0.3, early_stopping=True, patience=2,
                      verbose=0)
    assert history.best_epoch is not None
    ax = plot_history(history, title="digits")
    lines = _lines(ax)
    np.testing.assert_allclose(lines["loss"], history["loss"])
    np.testing.assert_allclose(lines["val_loss"], history["val_loss"])
    (right,) = [other for other in ax.figure.axes if other is not ax]
    scores = _lines(right)
    np.testing.assert_allclose(scores["val_accuracy"], history["val_accuracy"])
    best = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [float(line.get_xdata()[0]) for line in best] == [history.best_epoch + 1]
    assert ax.get_yscale() == "log" and ax.get_title() == "digits"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"best epoch ({history.best_epoch + 1})" in legend and "val_accuracy" in legend
    ax.figure.savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_draws_an_estimators_curves(plt):
    pytest.importorskip("sklearn")
    from agnostic_mlp import MLPClassifier, plot_history

    X, y = _digits(300)
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=30,
                        random_state=0, n_iter_no_change=3).fit(X, y)
    fig, ax = plt.subplots()
    assert plot_history(clf, ax) is ax
    np.testing.assert_allclose(_lines(ax)["training loss"], clf.loss_curve_)
    (right,) = [other for other in fig.axes if other is not ax]
    np.testing.assert_allclose(_lines(right)["validation score"], clf.validation_scores_)


def test_plot_history_takes_a_mapping_or_a_sequence_and_refuses_the_rest(plt):
    from agnostic_mlp import plot_history

    ax = plot_history([3.0, -1.0, 0.5])  # not all positive: a linear axis
    assert ax.get_yscale() == "linear"
    np.testing.assert_array_equal(_lines(ax)["loss"], [3.0, -1.0, 0.5])
    np.testing.assert_array_equal(_lines(ax)["loss"], [3.0, -1.0, 0.5])
    ax = plot_history({"loss": [1.0, 0.5]}, log=False)
    assert ax.get_yscale() == "linear"
    for bad, what in ((42, "takes a History"), ({"loss": ["a"]}, "sequence of numbers"),
                      ([], "no epoch to plot")):
        with pytest.raises(InvalidArgumentError, match=what):
            plot_history(bad)


def test_plot_history_without_matplotlib_says_how_to_install_it():
    result = run_python(BLOCK + '''
from agnostic_mlp import plot_history
try:
    plot_history([1.0, 0.5])
except ImportError as exc:
    print(type(exc).__name__, exc.name, "|", exc)
''', "matplotlib")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError matplotlib |"), result.stdout
    assert "pip install matplotlib (agnostic_mlp's extra [plot])" in result.stdout
