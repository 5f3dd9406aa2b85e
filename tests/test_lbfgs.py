"""Full-batch L-BFGS on the engine (``agnostic_mlp.training.lbfgs``), against
scikit-learn's ``solver="lbfgs"``.

From scikit-learn's initial weights (drawn here as its ``_initialize`` draws
them) and on its data, the driver is scikit-learn's optimiser:

- **The objective.** At scikit-learn's first point the loss and the gradient
  are its own to 1e-14 relative (NumPy's AVX-512 ``exp`` rounds otherwise than
  scipy's ``expit``).
- **The same model, to the last bit**, on NumPy in float64 (coefs_, loss_,
  n_iter_ equal: measured differences 0.0). L-BFGS amplifies any rounding
  difference over its iterations (a line search decision flips, then the
  paths part), so two conditions hold in that test: the loss's ``value`` is
  reduced in scikit-learn's order (each output's mean over the samples, then
  their sum: the estimators' losses, ``agnostic_mlp/sklearn/losses.py``), and NumPy's AVX-512
  kernels are switched off (``NPY_DISABLE_CPU_FEATURES``, in a child process)
  where this CPU has them: they compute ``exp`` and ``tanh`` with other
  roundings than the C library's ``exp`` that scipy's ``expit`` (scikit-learn's
  logistic) uses, and than NumPy's own in-place loops that scikit-learn calls.
- **Every backend** reaches scikit-learn's loss in float64 (to 1e-6 relative)
  on problems whose minimum is well defined (a strong L2 term); elsewhere a
  non-convex loss sends paths that part at one rounding to other minima.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.optimize
import sklearn.neural_network._multilayer_perceptron as sklearn_mlp
from helpers import without_avx512
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import LabelBinarizer

from agnostic_mlp import InvalidArgumentError
from agnostic_mlp.backends import get_backend, to_numpy
from agnostic_mlp.engine import Objective, Params
from agnostic_mlp.sklearn import losses
from agnostic_mlp.sklearn.activations import activation
from agnostic_mlp.training import lbfgs
from agnostic_mlp.training.lbfgs import LBFGSResult, minimize_lbfgs

RNG = np.random.default_rng(0)
X = RNG.normal(size=(150, 5))
TARGETS = {
    "binary": RNG.integers(0, 2, 150),
    "multiclass": RNG.integers(0, 3, 150),
    "multilabel": RNG.integers(0, 2, (150, 3)),
    "regression": X[:, :2] @ np.array([[1.0, 2.0], [-1.0, 0.5]]) + np.sin(X[:, 2:4]),
}
OUTPUT = {"binary": "logistic", "multiclass": "softmax", "multilabel": "logistic",
          "regression": "identity"}
WEIGHTS = RNG.uniform(0.2, 2.0, 150)


# -- both solvers from scikit-learn's start ----------------------------------------------


def initial_weights(seed: int, layers: list[int], act: str) -> tuple[list[Any], list[Any]]:
    """scikit-learn's ``_initialize``: Glorot-uniform weights then biases, layer by layer."""
    rng = np.random.RandomState(seed)
    factor = 2.0 if act == "logistic" else 6.0
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(layers):
        bound = np.sqrt(factor / (fan_in + fan_out))
        weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        biases.append(rng.uniform(-bound, bound, fan_out))
    return weights, biases


def encoded(kind: str) -> np.ndarray:
    y = TARGETS[kind]
    if kind == "regression":
        return y
    return y.astype(np.float64) if kind == "multilabel" else (
        LabelBinarizer().fit_transform(y).astype(np.float64))


def estimator(kind: str, **settings: Any) -> Any:
    cls = MLPRegressor if kind == "regression" else MLPClassifier
    return cls(solver="lbfgs", random_state=3, **settings)


def objective(kind: str, act: str, hidden: tuple[int, ...], alpha: float) -> Objective:
    """The estimators' objective: their losses reduce in scikit-learn's order."""
    out = OUTPUT[kind]
    return Objective((*[activation(act)] * len(hidden), activation(out)), losses.loss_for(out),
                     l2=alpha)


def compare(kind: str, act: str, *, backend: str = "numpy", device: Any = None,
            hidden: tuple[int, ...] = (8, 6), alpha: float = 1e-3, max_iter: int = 200,
            max_fun: int = 15000, tol: float = 1e-6, weighted: bool = False) -> dict[str, Any]:
    """scikit-learn's lbfgs fit and the driver's, from the same start: their differences."""
    w = WEIGHTS if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is often reached
        est = estimator(kind, hidden_layer_sizes=hidden, activation=act, alpha=alpha,
                        max_iter=max_iter, max_fun=max_fun, tol=tol).fit(
                            X, TARGETS[kind], sample_weight=w)
    y = encoded(kind)
    y = y.reshape(len(y), -1)
    coefs, intercepts = initial_weights(3, [X.shape[1], *hidden, y.shape[1]], act)
    runtime = get_backend(backend, device, "float64")
    params = Params(tuple(map(runtime.asarray, coefs)), tuple(map(runtime.asarray, intercepts)))
    x, t = runtime.asarray(X), runtime.asarray(y)
    wd = None if w is None else runtime.asarray(w)
    result = minimize_lbfgs(runtime, objective(kind, act, hidden, alpha), params,
                            lambda: [(x, t, wd)], max_iter=max_iter, max_fun=max_fun, tol=tol)
    return {
        "case": f"{kind}-{act}" + ("-weighted" if weighted else "") + (
            f"-max_fun={max_fun}" if max_fun != 15000 else ""),
        "coefs": max(float(np.max(np.abs(to_numpy(a) - b)))
                     for a, b in zip(result.params.weights, est.coefs_, strict=True)),
        "intercepts": max(float(np.max(np.abs(to_numpy(a) - b)))
                          for a, b in zip(result.params.biases, est.intercepts_, strict=True)),
        "loss": abs(result.loss - est.loss_), "relative_loss": abs(result.loss / est.loss_ - 1),
        "n_iter": [result.n_iter, est.n_iter_], "status": result.status,
    }


EXACT_CASES = [{"kind": k, "act": a} for k in TARGETS for a in ("relu", "tanh", "logistic")] + [
    {"kind": "multiclass", "act": "tanh", "weighted": True},
    {"kind": "regression", "act": "relu", "weighted": True},
    {"kind": "binary", "act": "relu", "max_fun": 40}]


def test_on_numpy_in_float64_it_is_scikit_learns_lbfgs_to_the_last_bit() -> None:
    done = subprocess.run([sys.executable, __file__], env=without_avx512(), check=True,
                          capture_output=True, text=True, timeout=600)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(measured) == len(EXACT_CASES)
    for m in measured:
        assert m["coefs"] <= 1e-8 and m["intercepts"] <= 1e-8, m
        assert m["loss"] <= 1e-8, m
        assert m["n_iter"][0] == m["n_iter"][1], m
    assert {m["status"] for m in measured} >= {0, 1}  # some converge, some hit a limit


# -- the objective at scikit-learn's own points ------------------------------------------


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("weighted", [False, True])
def test_the_objective_is_scikit_learns_at_its_own_points(kind: str, weighted: bool,
                                                          monkeypatch: Any) -> None:
    """scikit-learn's evaluations, recorded, against the driver's at the same points."""
    seen: list[tuple[np.ndarray, float, np.ndarray]] = []
    minimize = scipy.optimize.minimize

    def spy(fun: Any, x0: np.ndarray, args: Any = (), **kwargs: Any) -> Any:
        def recorded(theta: np.ndarray, *rest: Any) -> Any:
            loss, grad = fun(theta, *rest)
            seen.append((theta.copy(), float(loss), grad.copy()))
            return loss, grad
        return minimize(recorded, x0, args=args, **kwargs)

    monkeypatch.setattr(sklearn_mlp.scipy.optimize, "minimize", spy)
    w = WEIGHTS if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator(kind, hidden_layer_sizes=(8, 6), activation="tanh", alpha=1e-2,
                  max_iter=20).fit(X, TARGETS[kind], sample_weight=w)
    monkeypatch.undo()
    y = encoded(kind)
    y = y.reshape(len(y), -1)
    coefs, intercepts = initial_weights(3, [X.shape[1], 8, 6, y.shape[1]], "tanh")
    np.testing.assert_array_equal(
        seen[0][0], np.concatenate([a.ravel() for a in (*coefs, *intercepts)]))
    runtime = get_backend("numpy", None, "float64")
    template = Params(tuple(coefs), tuple(intercepts))
    goal = objective(kind, "tanh", (8, 6), 1e-2)
    for theta, loss, grad in seen:
        vector = lbfgs._loss_and_flat_gradient(
            runtime, goal, lbfgs._unflatten(runtime, template, theta), lambda: [(X, y, w)])
        assert abs(vector[0] - loss) <= 1e-14 * abs(loss)
        np.testing.assert_allclose(vector[1:], grad, rtol=0, atol=1e-14 * np.abs(grad).max())


# -- every backend --------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "act"), [
    ("binary", "tanh"), ("multiclass", "tanh"), ("multilabel", "tanh"),
    ("regression", "identity")])
def test_every_backend_reaches_scikit_learns_loss(backend: str, device: Any, kind: str,
                                                  act: str) -> None:
    m = compare(kind, act, backend=backend, device=device, hidden=(6,), alpha=1.0,
                max_iter=3000, max_fun=20000, tol=1e-9)
    assert m["relative_loss"] <= 1e-6, m


# -- pieces, weights, transfers ---------------------------------------------------------------


def _pieces(runtime: Any, x: np.ndarray, y: np.ndarray, w: np.ndarray | None,
            cuts: list[int]) -> list[tuple[Any, Any, Any]]:
    bounds = [0, *cuts, x.shape[0]]
    return [(runtime.asarray(x[a:b]), runtime.asarray(y[a:b]),
             None if w is None else runtime.asarray(w[a:b]))
            for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("weighted", [False, True])
def test_pieces_give_the_whole_batchs_objective(backend: str, device: Any,
                                                weighted: bool) -> None:
    runtime = get_backend(backend, device, "float64")
    y = encoded("multiclass")
    coefs, intercepts = initial_weights(0, [5, 7, 3], "tanh")
    params = Params(tuple(map(runtime.asarray, coefs)), tuple(map(runtime.asarray, intercepts)))
    goal = objective("multiclass", "tanh", (7,), 0.3)
    w = WEIGHTS if weighted else None
    whole = _pieces(runtime, X, y, w, [])
    split = _pieces(runtime, X, y, w, [17, 90, 91])
    one = to_numpy(lbfgs._loss_and_flat_gradient(runtime, goal, params, lambda: whole))
    many = to_numpy(lbfgs._loss_and_flat_gradient(runtime, goal, params, lambda: split))
    np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-15)
    # Integer weights are repeated samples.
    repeats = np.arange(150) % 3 + 1
    heavy = _pieces(runtime, X, y, repeats.astype(np.float64), [50])
    copies = _pieces(runtime, np.repeat(X, repeats, axis=0), np.repeat(y, repeats, axis=0),
                     None, [])
    np.testing.assert_allclose(
        to_numpy(lbfgs._loss_and_flat_gradient(runtime, goal, params, lambda: heavy)),
        to_numpy(lbfgs._loss_and_flat_gradient(runtime, goal, params, lambda: copies)),
        rtol=1e-12, atol=1e-15)
    a = minimize_lbfgs(runtime, goal, params, lambda: whole, max_iter=20)
    b = minimize_lbfgs(runtime, goal, params, lambda: split, max_iter=20)
    assert a.loss == pytest.approx(b.loss, rel=1e-6)


def test_one_vector_comes_to_the_host_per_evaluation(backend: str, device: Any,
                                                     monkeypatch: Any) -> None:
    runtime = get_backend(backend, device, "float64")
    y = encoded("binary")
    coefs, intercepts = initial_weights(0, [5, 4, 1], "relu")
    params = Params(tuple(map(runtime.asarray, coefs)), tuple(map(runtime.asarray, intercepts)))
    before = [np.array(to_numpy(p), copy=True) for p in params.flat()]
    sizes: list[tuple[int, ...]] = []

    def counted(a: Any) -> np.ndarray:
        sizes.append(tuple(a.shape))
        return to_numpy(a)

    monkeypatch.setattr(lbfgs, "to_numpy", counted)
    pieces = _pieces(runtime, X, y, None, [75])
    result = minimize_lbfgs(runtime, objective("binary", "relu", (4,), 1e-3),
                            params, lambda: pieces, max_iter=15)
    n_params = sum(int(np.prod(p.shape)) for p in params.flat())
    start = [tuple(p.shape) for p in params.flat()]  # the starting point, once
    assert sizes == start + [(1 + n_params,)] * result.n_fun
    assert isinstance(result, LBFGSResult) and 0 < result.n_iter <= 15
    assert len(result.iteration_losses) == result.n_iter
    assert result.iteration_losses[-1] == result.loss
    assert result.loss < result.iteration_losses[0]
    for p, q in zip(result.params.flat(), params.flat(), strict=True):
        assert runtime.owns(p) and tuple(p.shape) == tuple(q.shape)
    # The starting parameters are left as they were.
    for p, b in zip(params.flat(), before, strict=True):
        np.testing.assert_array_equal(to_numpy(p), b)


def test_limits_stop_it_and_say_so() -> None:
    m = compare("multiclass", "relu", max_iter=5)
    assert m["n_iter"] == [5, 5] and m["status"] == 1


def test_bad_settings_are_refused_naming_them() -> None:
    runtime = get_backend("numpy", None, "float64")
    coefs, intercepts = initial_weights(0, [5, 3, 1], "relu")
    params = Params(tuple(coefs), tuple(intercepts))
    goal = objective("binary", "relu", (3,), 0.0)
    data = [(X, encoded("binary"), None)]
    for name, value in [("max_iter", 0), ("max_iter", 2.5), ("max_iter", True),
                        ("max_fun", 0), ("tol", -1.0), ("tol", float("nan")),
                        ("iprint", "loud")]:
        with pytest.raises(InvalidArgumentError, match=name):
            minimize_lbfgs(runtime, goal, params, lambda: data, **{name: value})
    with pytest.raises(ValueError, match="no data"):
        minimize_lbfgs(runtime, goal, params, lambda: [])


# -- MLP.fit(optimizer="lbfgs") ------------------------------------------------------------


def _mlp(backend: str, device: Any) -> Any:
    from agnostic_mlp import MLP
    return MLP.regressor(5, [6], 2, backend=backend, device=device, dtype="float64", seed=4,
                         activation="tanh")


def test_mlp_fit_with_lbfgs_is_the_driver_on_the_models_objective(backend: str,
                                                                  device: Any) -> None:
    from agnostic_mlp.losses import get_loss
    from agnostic_mlp.optimizers import LBFGS

    y = TARGETS["regression"]
    model = _mlp(backend, device)
    start = model.params
    history = model.fit(X, y, optimizer=LBFGS(tol=1e-9, l2=0.5), epochs=500, verbose=0)
    # The same minimisation on NumPy, from the same start, with the driver directly.
    runtime = get_backend("numpy", None, "float64")
    host = Params(tuple(np.asarray(to_numpy(w)) for w in start.weights),
                  tuple(np.asarray(to_numpy(b)) for b in start.biases))
    goal = Objective((activation("tanh"), activation("identity")), get_loss("mse"), l2=0.5)
    direct = minimize_lbfgs(runtime, goal, host, lambda: [(X, y, None)], max_iter=500,
                            tol=1e-9)
    assert history["loss"][-1] == pytest.approx(direct.loss, rel=1e-6)
    assert len(history["loss"]) == len(history.epoch) <= 500
    assert history["loss"][-1] < history["loss"][0]
    # Streamed in windows of 40 rows: the same objective, summed over the windows.
    from agnostic_mlp import Stream
    streamed = _mlp(backend, device)
    h = streamed.fit(Stream(X, window=40), y, optimizer=LBFGS(tol=1e-9, l2=0.5), epochs=500,
                     verbose=0)
    assert h["loss"][-1] == pytest.approx(history["loss"][-1], rel=1e-6)


def test_mlp_fit_with_lbfgs_weights_samples_and_refuses_what_does_not_apply() -> None:
    from agnostic_mlp.optimizers import LBFGS

    y = TARGETS["regression"]
    repeats = np.arange(150) % 3 + 1
    weighted = _mlp("numpy", None)
    a = weighted.fit(X, y, optimizer=LBFGS(l2=1.0, tol=1e-10), epochs=300, verbose=0,
                     sample_weight=repeats.astype(np.float64))
    copies = _mlp("numpy", None)
    b = copies.fit(np.repeat(X, repeats, axis=0), np.repeat(y, repeats, axis=0),
                   optimizer=LBFGS(l2=1.0, tol=1e-10), epochs=300, verbose=0)
    assert a["loss"][-1] == pytest.approx(b["loss"][-1], rel=1e-5)
    model = _mlp("numpy", None)
    before = [np.array(p, copy=True) for p in model.params.flat()]
    for name, value in [("validation_split", 0.2), ("early_stopping", True),
                        ("learning_rate", 0.1), ("callbacks", [lambda *a: False])]:
        with pytest.raises(InvalidArgumentError, match=name):
            model.fit(X, y, optimizer="lbfgs", **{name: value})
    for name, value in [("tol", -1.0), ("max_fun", 0), ("l2", float("nan"))]:
        with pytest.raises(InvalidArgumentError, match=name):
            LBFGS(**{name: value})
    with pytest.raises(InvalidArgumentError, match="epochs"):
        model.fit(X, y, optimizer="lbfgs", epochs=0)
    for p, q in zip(model.params.flat(), before, strict=True):
        np.testing.assert_array_equal(p, q)


if __name__ == "__main__":
    # Run by the first test in a child process (NumPy's AVX-512 kernels off): the
    # measured differences, as JSON on the last line.
    print(json.dumps([compare(**case) for case in EXACT_CASES]))
