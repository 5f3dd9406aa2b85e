"""The estimators' files: the library's safetensors format, with the estimator as JSON.

:meth:`~agnostic_mlp.MLPClassifier.save` writes, atomically, the weights and
biases, the optimizer's state and (with early stopping) the best weights as
arrays, and as one ``estimator`` metadata entry: the class, its parameters
(but ``backend``, ``device``, ``callbacks``, ``checkpoint`` and ``parallel``: where and how the
loaded estimator runs), the fitted attributes and ``classes_``. Every entry
and array is covered by the file's SHA-256 digest.

:meth:`~agnostic_mlp.MLPClassifier.load` runs no code: the file is read with
every check ``MLP.load`` makes (:func:`agnostic_mlp.io.format.read_entries`),
each value of the JSON is checked, and the estimator is *constructed* from
its parameters, then checked as ``fit`` checks them. The loaded estimator
predicts as the saved one did, and ``partial_fit`` and ``warm_start`` go on
from where it stopped.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..backends import Backend, get_backend
from ..config import json_list, json_object
from ..constraints import InstanceOf, Integer, Options, Real, check, short
from ..errors import InvalidArgumentError, ModelFileError
from ..io.atomic import as_path
from ..io.format import (
    FORMAT,
    Schema,
    dtype_code,
    host_array,
    read_entries,
    strict_json,
    write_entries,
)
from .params import STOCHASTIC, solver_settings
from .placement import Placement

__all__ = ["describe", "load", "param_to_json", "read", "save"]

#: The constructor's parameters a file does not hold: where and how it runs is the loader's.
_NOT_SAVED = ("backend", "device", "callbacks", "checkpoint", "parallel")
_LABEL_TYPES = {"str": str, "int": int, "bool": bool, "float": float}
_KINDS = ("binary", "multiclass", "multilabel-indicator")


def _number(x: Any) -> Any:
    """A JSON-able number (infinities as strings: plain JSON has none)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _from_number(value: Any, what: str) -> float:
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return float(check(value, what, Real()))


def param_to_json(name: str, value: Any) -> Any:
    """A constructor parameter as JSON data; refuses an object a file cannot hold."""
    if value is None or isinstance(value, (str, bool, np.bool_, numbers.Number)):
        return value if value is None or isinstance(value, str) else _number(value)
    if name == "hidden_layer_sizes" and isinstance(value, (list, tuple, np.ndarray)):
        return [_number(v) for v in value]
    if name == "class_weight" and isinstance(value, Mapping):  # labels of any saved type
        return {"labels": _classes(list(value))["values"],
                "weights": [_number(v) for v in value.values()]}
    raise InvalidArgumentError(
        f"{name}={short(value)} cannot be saved: a file holds names and numbers, never "
        "objects (an int random_state can; a RandomState cannot)")


def _classes(classes: Any) -> dict[str, Any]:
    host = np.asarray(classes)
    values = host.tolist()
    for label_type, cls in _LABEL_TYPES.items():
        if values and all(type(v) is cls for v in values):
            if label_type == "float" and not all(math.isfinite(v) for v in values):
                break
            return {"type": label_type, "values": values}
    raise InvalidArgumentError(
        f"classes_ {short(values)} cannot be saved: a file holds labels that are all strings, "
        "all integers, all booleans or all finite floats")


def save(est: Any, path: str | os.PathLike[str]) -> None:
    """Write the fitted estimator ``est`` to ``path``; see the module's docstring."""
    check_is_fitted(est)
    spec, arrays = describe(est)
    write_entries(path, {"estimator": spec}, arrays)


def describe(est: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The fitted estimator as a file holds it: its JSON entry and its arrays."""
    runtime = est._placement.runtime
    dtype = np.dtype(runtime.dtype_name)
    arrays: dict[str, np.ndarray] = {}

    def put(prefix: str, values: Any, what: str) -> None:
        for i, a in enumerate(values):
            arrays[f"{prefix}.{i}"] = host_array(a, f"{what}[{i}]", dtype)

    put("coefs", est.coefs_, "coefs_")
    put("intercepts", est.intercepts_, "intercepts_")
    best = hasattr(est, "_best_coefs")
    if best:
        put("best_coefs", est._best_coefs, "the best coefs_")
        put("best_intercepts", est._best_intercepts, "the best intercepts_")
    # An lbfgs fit has no optimizer state and no per-epoch record (as scikit-learn's).
    optimizer = est.__dict__.get("_optimizer") if est.solver in STOCHASTIC else None
    saved_optimizer = None
    if optimizer is not None:
        state = optimizer.state
        slots = sorted(k for k, v in state.slots().items() if v)
        for slot in slots:
            put(f"optimizer.{slot}", state.slots()[slot], f"the optimizer's {slot}")
        saved_optimizer = {"learning_rate": _number(optimizer.learning_rate),
                           "step": int(state.step), "slots": slots}
    params = est.get_params(deep=False)
    fitted = {
        "n_iter_": est.n_iter_, "t_": est.t_, "n_features_in_": est.n_features_in_,
        "n_outputs_": est.n_outputs_, "out_activation_": est.out_activation_,
        "loss_": None if est.loss_ is None else _number(est.loss_),
        "feature_names_in_": None if not hasattr(est, "feature_names_in_") else [
            str(v) for v in est.feature_names_in_],
    }
    if hasattr(est, "loss_curve_"):
        fitted.update({
            "best_loss_": None if est.best_loss_ is None else _number(est.best_loss_),
            "loss_curve_": [_number(v) for v in est.loss_curve_],
            "validation_scores_": None if est.validation_scores_ is None else [
                _number(v) for v in est.validation_scores_],
            "validation_loss_curve_": None if est.__dict__.get(
                "validation_loss_curve_") is None else [
                _number(v) for v in est.validation_loss_curve_],
            "best_validation_score_": None if est.best_validation_score_ is None else _number(
                est.best_validation_score_),
            "no_improvement_count": est._no_improvement_count,
        })
    spec = {
        "class": type(est).__name__,
        "params": {k: param_to_json(k, v) for k, v in params.items() if k not in _NOT_SAVED},
        "dtype": runtime.dtype_name,
        "fitted": fitted,
        "optimizer": saved_optimizer,
        "best": best,
    }
    if hasattr(est, "classes_"):
        spec["classes"] = {**_classes(est.classes_), "kind": est._label_kind}
    return spec, arrays


#: The stochastic solvers' per-epoch record, which an lbfgs fit does not set.
_RECORD = ("best_loss_", "loss_curve_", "validation_scores_", "best_validation_score_",
           "no_improvement_count")


def _decoder(cls: type, run_of: Any = None) -> Any:
    def decode(metadata: Mapping[str, str], version: str) -> tuple[Any, Schema]:
        if "estimator" not in metadata:
            raise InvalidArgumentError("it holds an MLP, not a scikit-learn estimator; load it "
                                       "with agnostic_mlp.MLP.load")
        spec = strict_json(metadata["estimator"], "estimator metadata")
        if not isinstance(spec, dict) or spec.get("class") != cls.__name__:
            held = spec.get("class") if isinstance(spec, dict) else None
            raise InvalidArgumentError(f"it holds an {short(held)}, not an {cls.__name__}")
        keys = {"class", "params", "dtype", "fitted", "optimizer", "best"}
        json_object(spec, "estimator", keys | (
            {"classes"} if cls.__name__ == "MLPClassifier" else set()))
        dtype = check(spec["dtype"], "dtype", Options(("float32", "float64")))
        params = spec["params"]
        expected = set(cls().get_params(deep=False)) - set(_NOT_SAVED)
        json_object(params, "params", expected)
        if isinstance(params.get("n_iter_no_change"), str):
            params = {**params, "n_iter_no_change": _from_number(params["n_iter_no_change"],
                                                                 "n_iter_no_change")}
        if isinstance(params.get("class_weight"), dict):
            pairs = json_object(params["class_weight"], "class_weight", {"labels", "weights"})
            labels = json_list(pairs["labels"], "labels")
            weights = json_list(pairs["weights"], "weights")
            if len(labels) != len(weights):
                raise InvalidArgumentError("class_weight has as many labels as weights")
            params = {**params, "class_weight": dict(zip(labels, weights, strict=True))}
        if isinstance(params.get("hidden_layer_sizes"), list):
            params = {**params, "hidden_layer_sizes": tuple(params["hidden_layer_sizes"])}
        est = cls(**params)
        settings = solver_settings(est)  # the constructor's rules, as fit checks them
        kept = {"n_iter_", "t_", "n_features_in_", "n_outputs_", "out_activation_", "loss_",
                "feature_names_in_"}
        if isinstance(spec["fitted"], dict) and "loss_curve_" in spec["fitted"]:
            kept |= set(_RECORD)  # absent after an lbfgs fit only
            if "validation_loss_curve_" in spec["fitted"]:  # absent from older files
                kept.add("validation_loss_curve_")
        fitted = json_object(spec["fitted"], "fitted", kept)
        layers = [check(fitted["n_features_in_"], "n_features_in_", Integer(1, 2**31 - 1)),
                  *settings.hidden_layer_sizes,
                  check(fitted["n_outputs_"], "n_outputs_", Integer(1, 2**31 - 1))]
        slots = []
        if spec["optimizer"] is not None:  # None: fitted by lbfgs
            optimizer = json_object(spec["optimizer"], "optimizer",
                                {"learning_rate", "step", "slots"})
            slots = [check(s, "optimizer slot", Options(("momentum", "m", "v")))
                     for s in json_list(optimizer["slots"], "optimizer slots")]
        best = check(spec["best"], "best", InstanceOf(bool))
        code = dtype_code(dtype)
        shapes = list(itertools.pairwise(layers))
        flat = [*shapes, *[(b,) for _, b in shapes]]
        schema: Schema = {}
        for prefix in ("", "best_") if best else ("",):
            schema.update({f"{prefix}coefs.{i}": (s, code, True) for i, s in enumerate(shapes)})
            schema.update({f"{prefix}intercepts.{i}": ((s[1],), code, True)
                           for i, s in enumerate(shapes)})
        for slot in slots:
            schema.update({f"optimizer.{slot}.{i}": (s, code, True) for i, s in enumerate(flat)})
        run = None
        if "run" in metadata:
            if run_of is None:
                raise InvalidArgumentError("it is a checkpoint of fit; MLPClassifier.load and "
                                           "MLPRegressor.load read saved estimators")
            run, extra = run_of(strict_json(metadata["run"], "run metadata"), code)
            schema.update(extra)
        return (est, spec, fitted, layers, run), schema

    return decode


def load(cls: type, path: str | os.PathLike[str], backend: Any = None, device: Any = None) -> Any:
    """The estimator saved at ``path``, computing on ``backend`` and ``device`` (NumPy by
    default), with NumPy inputs and outputs; see the module's docstring."""
    name = "numpy" if backend is None else backend
    get_backend(name, device, "float32")  # an unknown backend or device first
    return read(cls, path, name, device)[0]


def read(cls: type, path: str | os.PathLike[str], backend: Any, device: Any,
         run_of: Any = None) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """The estimator in the file at ``path`` on ``backend``; with ``run_of(data, code)``
    (which checks a checkpoint's ``run`` entry and gives it and its arrays' schema), the
    checkpoint's run and the file's arrays too."""
    (est, spec, fitted, layers, run), arrays, _, _ = read_entries(path, _decoder(cls, run_of))
    runtime = get_backend(backend, device, spec["dtype"])
    try:
        return _built(est, spec, fitted, layers, arrays, runtime), run, arrays
    except (InvalidArgumentError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{as_path(path)} is not a valid {FORMAT} file: its metadata is "
                             f"not valid: {exc}") from None


def _built(est: Any, spec: dict[str, Any], fitted: dict[str, Any], layers: list[int],
           arrays: dict[str, np.ndarray], runtime: Backend) -> Any:
    placement = Placement(runtime, native=False)
    n = len(layers) - 1
    with runtime.context():
        def moved(prefix: str) -> list[Any]:
            return [runtime.asarray(arrays[f"{prefix}.{i}"]) for i in range(n)]

        coefs, intercepts = moved("coefs"), moved("intercepts")
        est._placement = placement
        est.coefs_ = [placement.output(c) for c in coefs]
        est.intercepts_ = [placement.output(b) for b in intercepts]
        if spec["best"]:
            est._best_coefs = [placement.output(c) for c in moved("best_coefs")]
            est._best_intercepts = [placement.output(b) for b in moved("best_intercepts")]
        _set_fitted(est, fitted, layers)
        if "classes" in spec:
            _set_classes(est, spec["classes"])
        saved = spec["optimizer"]
        if saved is not None:
            optimizer = solver_settings(est).optimizer(est)
            optimizer.learning_rate = check(_from_number(saved["learning_rate"], "learning_rate"),
                                            "learning_rate", Real(0.0, low_open=True))
            fresh = optimizer.init(runtime.xp, (*coefs, *intercepts))
            kept = {k for k, v in fresh.slots().items() if v}
            if set(saved["slots"]) != kept:
                raise InvalidArgumentError(f"the optimizer's state has {saved['slots']}, but "
                                           f"{type(est).__name__}(solver={est.solver!r}) keeps "
                                           f"{sorted(kept)}")
            optimizer.state = dataclasses.replace(
                fresh, step=check(saved["step"], "step", Integer(0, 2**62)),
                **{k: tuple(runtime.asarray(arrays[f"optimizer.{k}.{i}"]) for i in range(2 * n))
                   for k in kept})
            est._optimizer = optimizer
    return est


def _set_fitted(est: Any, fitted: dict[str, Any], layers: list[int]) -> None:
    count = Integer(0, 2**62)
    est.n_iter_ = check(fitted["n_iter_"], "n_iter_", count)
    est.t_ = check(fitted["t_"], "t_", count)
    est.n_features_in_, est.n_outputs_, est.n_layers_ = layers[0], layers[-1], len(layers)
    out = check(fitted["out_activation_"], "out_activation_",
                Options(("identity", "logistic", "softmax", "exp")))
    est.out_activation_ = out

    def maybe(key: str) -> float | None:
        return None if fitted[key] is None else _from_number(fitted[key], key)

    def curve(key: str) -> list[float] | None:
        if fitted[key] is None:
            return None
        return [_from_number(v, key) for v in json_list(fitted[key], key)]

    est.loss_ = maybe("loss_")
    if "loss_curve_" not in fitted:  # fitted by lbfgs: no record, as scikit-learn's
        _set_names(est, fitted)
        return
    est.best_loss_ = maybe("best_loss_")
    est.best_validation_score_ = maybe("best_validation_score_")
    est.loss_curve_ = curve("loss_curve_") or []
    est.validation_scores_ = curve("validation_scores_")
    est.validation_loss_curve_ = curve("validation_loss_curve_") if (
        "validation_loss_curve_" in fitted) else None
    est._no_improvement_count = check(fitted["no_improvement_count"], "no_improvement_count",
                                      count)
    _set_names(est, fitted)


def _set_names(est: Any, fitted: dict[str, Any]) -> None:
    layers0 = est.n_features_in_
    names = fitted["feature_names_in_"]
    if names is not None:
        names = [check(v, "feature_names_in_", InstanceOf(str)) for v in json_list(names, "names")]
        if len(names) != layers0:
            raise InvalidArgumentError(f"feature_names_in_ has {len(names)} names for "
                                       f"{layers0} features")
        est.feature_names_in_ = np.asarray(names, dtype=object)


def _set_classes(est: Any, spec: Any) -> None:
    spec = json_object(spec, "classes", {"type", "values", "kind"})
    label_type = check(spec["type"], "classes type", Options(tuple(_LABEL_TYPES)))
    values = json_list(spec["values"], "classes")
    if not values or not all(type(v) is _LABEL_TYPES[label_type] for v in values):
        raise InvalidArgumentError(f"classes must be a non-empty list of {label_type}")
    kind = check(spec["kind"], "classes kind", Options(_KINDS))
    dtypes = {"str": str, "int": np.int64, "bool": bool, "float": np.float64}
    classes: np.ndarray = np.asarray(values, dtype=dtypes[label_type])
    expected = 1 if kind == "binary" else len(values)
    if len(values) != len(set(values)) or est.n_outputs_ != expected:
        raise InvalidArgumentError(f"{len(values)} distinct classes ({kind}) do not fit "
                                   f"{est.n_outputs_} outputs")
    est.classes_, est._label_kind = classes, kind
