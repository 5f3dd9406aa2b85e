"""Fit checkpoints: a model file that also holds what resuming ``fit`` needs.

Beside the model's arrays a checkpoint stores the optimizer's state
(``optimizer.<slot>.<i>``), the history (``history.<key>``, one float64 per
epoch), the callbacks' arrays (``callbacks.<j>.<key>.<i>``, shaped like the
parameters) and, as JSON in the ``checkpoint`` metadata entry, the run's
fingerprint, the epoch, the optimizer's step and live learning rate, and
each callback's state. Everything is checked against the configuration
before anything is returned; the training loop then compares it with the run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import MLPConfig
from ..constraints import ANY, NONE, InstanceOf, Integer, Real, check, check_sequence, short
from ..errors import InvalidArgumentError, ModelFileError
from . import format as model_format
from .format import ModelFile, Schema, strict_json

__all__ = ["Snapshot", "read", "read_any", "write"]

_MAX_EPOCH = 2**31 - 1
_MAX_STEP = 2**53  # exact in a float64, which schedules compute with
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_KEYS = 64


@dataclass
class Snapshot:
    """A run's progress, as host data.

    Attributes
    ----------
    fingerprint : dict
        The run's settings at its start (JSON data); a resumed run must match it.
    epoch : int
        Epochs completed.
    history : dict of str to list of float
    best_epoch, stopped_epoch : int or None
    learning_rate : float or None
        The optimizer's live rate (None for a schedule).
    step : int
        The optimizer's step count.
    slots : dict of str to list of numpy.ndarray
        The optimizer's state arrays, per field, one per parameter.
    callbacks : list of (str, dict, dict of str to list of numpy.ndarray)
        Each callback's name, JSON state and arrays.
    """

    fingerprint: dict[str, Any]
    epoch: int
    history: dict[str, list[float]]
    best_epoch: int | None
    stopped_epoch: int | None
    learning_rate: float | None
    step: int
    slots: dict[str, list[np.ndarray]] = field(default_factory=dict)
    callbacks: list[tuple[str, dict[str, Any], dict[str, list[np.ndarray]]]] = field(
        default_factory=list)


def write(path: str | os.PathLike[str], config: MLPConfig, params: list[Any],
          rng: np.random.Generator, snapshot: Snapshot, name: str = "checkpoint") -> None:
    """Write a checkpoint atomically: the model file plus ``snapshot``.

    ``name`` is what the user calls ``path`` (fit's argument by default).
    """
    dtype = np.dtype(config.dtype)
    extra: dict[str, np.ndarray] = {}
    for key, values in snapshot.history.items():
        extra[f"history.{key}"] = np.asarray(values, dtype=np.float64)
    for slot, slot_arrays in snapshot.slots.items():
        extra.update({f"optimizer.{slot}.{i}": model_format.host_array(
            a, f"the optimizer's {slot}[{i}]", dtype) for i, a in enumerate(slot_arrays)})
    callbacks = []
    for j, (name, state, named) in enumerate(snapshot.callbacks):
        for key, kept in named.items():
            extra.update({f"callbacks.{j}.{key}.{i}": model_format.host_array(
                a, f"{name}'s {key}[{i}]", dtype) for i, a in enumerate(kept)})
        callbacks.append({"name": name, "state": state,
                          "arrays": {key: len(v) for key, v in named.items()}})
    meta = {
        "fingerprint": snapshot.fingerprint,
        "epoch": snapshot.epoch,
        "history": {"keys": list(snapshot.history), "best_epoch": snapshot.best_epoch,
                    "stopped_epoch": snapshot.stopped_epoch},
        "optimizer": {"learning_rate": snapshot.learning_rate, "step": snapshot.step,
                      "slots": {slot: len(v) for slot, v in snapshot.slots.items()}},
        "callbacks": callbacks,
    }
    model_format.write(path, config, params, rng, extra, meta, name)


def read_any(path: Any) -> ModelFile:
    """Read and check a model file or a checkpoint, every array of it (to load the model)."""
    return model_format.read(path, _schema, _checked_meta)


def read(path: Any) -> tuple[ModelFile, Snapshot]:
    """Read and check a checkpoint; its arrays are host arrays.

    Raises
    ------
    ModelFileError
        If the file is damaged, tampered with, or a model file rather than a checkpoint.
    """
    model_file = read_any(path)
    meta = model_file.checkpoint
    if meta is None:
        raise ModelFileError(f"{os.fspath(path)} is a model file, not a checkpoint of fit")
    n = meta["epoch"]
    snapshot = Snapshot(
        fingerprint=meta["fingerprint"],
        epoch=n,
        history={k: model_file.array(f"history.{k}").tolist() for k in meta["history"]["keys"]},
        best_epoch=meta["history"]["best_epoch"],
        stopped_epoch=meta["history"]["stopped_epoch"],
        learning_rate=meta["optimizer"]["learning_rate"],
        step=meta["optimizer"]["step"],
        slots={slot: [model_file.array(f"optimizer.{slot}.{i}") for i in range(count)]
               for slot, count in meta["optimizer"]["slots"].items()},
        callbacks=[(cb["name"], cb["state"],
                    {key: [model_file.array(f"callbacks.{j}.{key}.{i}") for i in range(count)]
                     for key, count in cb["arrays"].items()})
                   for j, cb in enumerate(meta["callbacks"])],
    )
    return model_file, snapshot


def _object(value: Any, what: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise InvalidArgumentError(
            f"{what} must be a JSON object with the keys {sorted(keys)}, got {short(value)}")
    return value


def _names(value: Any, what: str) -> dict[str, int]:
    """A JSON object of names (identifiers) to counts."""
    if not isinstance(value, dict) or len(value) > _MAX_KEYS:
        raise InvalidArgumentError(f"{what} must be a JSON object of counts, got {short(value)}")
    for key, count in value.items():
        if not _KEY.match(key):
            raise InvalidArgumentError(f"{what} has a bad name {short(key)}")
        check(count, f"{what}[{key!r}]", Integer(0, 2**20))
    return value


def _checked_meta(text: str, config: MLPConfig) -> dict[str, Any]:
    """The checkpoint entry's JSON, checked in shape and range (not yet against a run)."""
    meta = _object(strict_json(text, "checkpoint metadata"), "the checkpoint metadata",
                   {"fingerprint", "epoch", "history", "optimizer", "callbacks"})
    if not isinstance(meta["fingerprint"], dict):
        raise InvalidArgumentError("fingerprint must be a JSON object")
    epoch = check(meta["epoch"], "epoch", Integer(0, _MAX_EPOCH))
    history = _object(meta["history"], "history", {"keys", "best_epoch", "stopped_epoch"})
    keys = check_sequence(history["keys"], "history.keys", InstanceOf(str))
    if len(keys) > _MAX_KEYS or len(set(keys)) != len(keys) or not all(
            _KEY.match(k) for k in keys):
        raise InvalidArgumentError(f"history.keys must be distinct names, got {short(keys)}")
    for key in ("best_epoch", "stopped_epoch"):
        value = check(history[key], f"history.{key}", NONE, Integer(0))
        if value is not None and value >= epoch:
            raise InvalidArgumentError(f"history.{key} is {value}, but only {epoch} epochs ran")
    opt = _object(meta["optimizer"], "checkpoint optimizer", {"learning_rate", "step", "slots"})
    check(opt["learning_rate"], "checkpoint optimizer.learning_rate", NONE, Real(0.0))
    check(opt["step"], "checkpoint optimizer.step", Integer(0, _MAX_STEP))
    n_params = len(config.param_shapes())
    for slot, count in _names(opt["slots"], "checkpoint optimizer.slots").items():
        if count != n_params:
            raise InvalidArgumentError(
                f"the optimizer's {slot} has {count} arrays for {n_params} parameters")
    callbacks = check_sequence(meta["callbacks"], "callbacks", ANY)
    if len(callbacks) > _MAX_KEYS:
        raise InvalidArgumentError(f"a checkpoint keeps at most {_MAX_KEYS} callbacks")
    for j, cb in enumerate(callbacks):
        cb = _object(cb, f"callbacks[{j}]", {"name", "state", "arrays"})
        check(cb["name"], f"callbacks[{j}].name", InstanceOf(str))
        if not isinstance(cb["state"], dict):
            raise InvalidArgumentError(f"callbacks[{j}].state must be a JSON object")
        for key, count in _names(cb["arrays"], f"callbacks[{j}].arrays").items():
            if count != n_params:
                raise InvalidArgumentError(
                    f"callbacks[{j}].arrays[{key!r}] has {count} arrays for {n_params} "
                    "parameters")
    return meta


def _schema(config: MLPConfig, meta: dict[str, Any]) -> Schema:
    code = model_format.dtype_code(config.dtype)
    shapes = config.param_shapes()
    # Logged numbers may be infinite (a validation loss that overflowed); state may not.
    schema: Schema = {f"history.{k}": ((meta["epoch"],), "F64", False)
                      for k in meta["history"]["keys"]}
    for slot, count in meta["optimizer"]["slots"].items():
        schema.update({f"optimizer.{slot}.{i}": (shapes[i], code, True) for i in range(count)})
    for j, cb in enumerate(meta["callbacks"]):
        for key, count in cb["arrays"].items():
            schema.update({f"callbacks.{j}.{key}.{i}": (shapes[i], code, True)
                           for i in range(count)})
    return schema

