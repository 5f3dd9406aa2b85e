"""Saving and loading models, moving them between backends, and fit checkpoints.

A model file is a safetensors file: the weights and biases as little-endian
float arrays, and in its ``__metadata__`` (strings only) the format name, its
version and the model's configuration as JSON: names and numbers, never code.
A checkpoint is a model file that also holds the optimizer's state, the
early-stopping best weights and, as JSON, the progress of ``fit``.

Loading trusts nothing in the file. The header is parsed and checked here
(length, JSON, names, dtypes, shapes, offsets against the file size, every
configuration value) before any array is read, so a file declaring an enormous
array is refused before anything is allocated; only then are the bytes handed
to :func:`safetensors.numpy.load`, which never unpickles. Every problem raises
:class:`~agnostic_mlp.errors.ModelFileError`.

Writes are atomic: a crash at any moment leaves either the old file or the new
one at the path.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import itertools
import json
import math
import os
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import ACTIVATIONS, Activation, LeakyReLU
from .backends import get_backend, to_numpy
from .errors import ModelFileError
from .initializers import INITIALIZERS
from .losses import LOSSES, Loss, TutorialError
from .optimizers import SGD, Adam, Optimizer

if TYPE_CHECKING:
    from os import PathLike

    from .model import MLP
    from .training import FitState

__all__ = ["atomic_write", "load", "load_checkpoint", "save", "save_checkpoint", "to"]

FORMAT = "agnostic_mlp"
VERSION = "1"
# safetensors' own limit; the header is also bounded by the file's size.
_HEADER_LIMIT = 100_000_000
_DTYPE_CODES = {"float32": "F32", "float64": "F64"}
_ITEMSIZE = {"F32": 4, "F64": 8}
_LOSSES: dict[str, type[Loss]] = {**LOSSES, "tutorial": TutorialError}
_OPTIMIZERS: dict[str, tuple[type[Optimizer], tuple[str, ...]]] = {
    "SGD": (SGD, ("learning_rate", "momentum", "nesterov", "weight_decay")),
    "Adam": (Adam, ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay")),
}
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# What must match between a checkpoint's model and the model resuming from it.
_ARCHITECTURE = ("layers", "activations", "output_activation", "loss", "bias", "dtype")
_CHECKPOINT_KEYS = {"fingerprint", "epoch", "history", "best", "wait", "best_params", "optimizer"}
_MAX_STATE_ARRAYS = 8  # per parameter; bounds what a tampered count can make us expect


# -- writing ------------------------------------------------------------------


def atomic_write(path: str | PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` with ``data``, atomically and durably.

    The bytes go to a new temporary file beside the target, which is flushed,
    fsynced and renamed over the target with :func:`os.replace`; then the
    folder is fsynced so the rename itself survives a power cut. Readers see
    the complete old file or the complete new one, never a mix. If the write
    fails, the temporary file is removed and the old file is untouched; a
    process killed mid-write can leave a ``.NAME.*.tmp`` file beside the
    target, never a partial file at it. A symbolic link at ``path`` is
    followed: the file it points to is replaced.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write.
    data : bytes
        The complete new contents.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    # Beside the target, because os.replace is atomic only within one file system.
    fd, tmp = _create_temporary(folder, name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _create_temporary(folder: str, name: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any new file (mkstemp would force 0o600).
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {name!r} in {folder!r}")


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its renames are durable as they are
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems do not support fsync on a folder; real I/O errors still surface.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def save(model: MLP, path: str | PathLike[str]) -> None:
    """Save ``model`` to ``path`` as a safetensors file, atomically.

    The file holds the weights and biases, and as JSON metadata the
    architecture, the activations (LeakyReLU's slope too), the loss, ``bias``,
    ``dtype``, ``seed``, ``init`` (when a name), the random generator's state
    and the optimizer's class and hyperparameters. A learning-rate schedule is
    not saved (a callable is code): the loaded optimizer has its class default.

    Raises
    ------
    ValueError
        If the model uses a custom :class:`~agnostic_mlp.Activation`,
        :class:`~agnostic_mlp.Loss` or :class:`~agnostic_mlp.Optimizer` (only
        built-in ones are stored by name), or has non-finite parameters.
    """
    config = _model_config(model)
    atomic_write(path, _serialize(_param_tensors(model, "the model's"), config, None))


def _model_config(model: MLP) -> dict[str, Any]:
    """The model's configuration as plain JSON data; refuses custom components."""
    acts = model.layer_activations
    return {
        "layers": [int(n) for n in model.layers],
        "activations": [_activation_spec(a, f"activation[{i}]") for i, a in enumerate(acts[:-1])],
        "output_activation": _activation_spec(acts[-1], "output_activation"),
        "loss": _loss_name(model.loss),
        "bias": bool(model.bias),
        "dtype": model._backend.dtype_name,
        "seed": None if model.seed is None else int(model.seed),
        "init": model.init if isinstance(model.init, str) else None,
        "optimizer": _optimizer_config(model.optimizer, "the model's optimizer"),
        "rng": model.rng.bit_generator.state,
    }


def _custom(what: str, obj: object, known: list[str]) -> ValueError:
    return ValueError(
        f"{what} is a custom {type(obj).__name__}; only the built-in ones ({', '.join(known)}) "
        "can be saved, because a model file stores names and numbers, never code"
    )


def _activation_spec(act: Activation, what: str) -> dict[str, Any]:
    if type(act) is not ACTIVATIONS.get(act.name):
        raise _custom(what, act, sorted(ACTIVATIONS))
    if isinstance(act, LeakyReLU):
        return {"name": act.name, "negative_slope": act.negative_slope}
    return {"name": act.name}


def _loss_name(loss: Loss) -> str:
    if type(loss) is not _LOSSES.get(loss.name):
        raise _custom("loss", loss, sorted(LOSSES))
    return loss.name


def _optimizer_config(opt: Optimizer, what: str) -> dict[str, Any]:
    name = type(opt).__name__
    if name not in _OPTIMIZERS or type(opt) is not _OPTIMIZERS[name][0]:
        raise _custom(what, opt, sorted(_OPTIMIZERS))
    config: dict[str, Any] = {"class": name}
    for field in _OPTIMIZERS[name][1]:
        value = getattr(opt, field)
        if field == "learning_rate":
            value = None if callable(value) else float(value)
        config[field] = value
    return config


def _host(x: Any, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(to_numpy(x))
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or infinity; a file would not load back")
    return arr


def _param_tensors(model: MLP, what: str) -> dict[str, np.ndarray]:
    tensors = {f"weights.{i}": _host(w, f"{what} weights[{i}]")
               for i, w in enumerate(model.weights)}
    tensors.update({f"biases.{i}": _host(b, f"{what} biases[{i}]")
                    for i, b in enumerate(model.biases)})
    return tensors


def _json_dumps(value: Any) -> str:
    def plain(o: Any) -> Any:
        # Bit generators other than PCG64 keep NumPy arrays and scalars in their state.
        if isinstance(o, (np.ndarray, np.generic)):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not plain data and cannot be saved")

    return json.dumps(value, allow_nan=False, separators=(",", ":"), default=plain)


def _serialize(tensors: dict[str, np.ndarray], config: dict[str, Any],
               checkpoint: dict[str, Any] | None) -> bytes:
    from safetensors.numpy import save as st_save

    metadata = {"format": FORMAT, "version": VERSION, "model": _json_dumps(config)}
    if checkpoint is not None:
        metadata["checkpoint"] = _json_dumps(checkpoint)
    return bytes(st_save(tensors, metadata=metadata))


# -- reading ------------------------------------------------------------------


def _bad(message: str) -> ModelFileError:
    return ModelFileError(message)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _strict_json(text: bytes | str, what: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate keys in a JSON object: {sorted(keys)[:5]}")
        return dict(pairs)

    def no_constants(token: str) -> Any:
        raise ValueError(f"{token} is not plain JSON")

    try:
        # A str must encode too: JSON escapes can smuggle in lone surrogates.
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise _bad(f"its {what} is not valid JSON ({_short(str(exc))})") from None


def _choice(value: Any, options: Iterable[str], what: str) -> str:
    # isinstance first: a tampered value may be a list or dict, which cannot be a dict key.
    options = list(options)
    if not isinstance(value, str) or value not in options:
        raise _bad(f"{what} must be one of {options}, got {_short(value)}")
    return value


def _int(value: Any, what: str, low: int = 0) -> int:
    # The upper bound keeps tampered counts and sizes within what int64 and float64 hold.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**63:
        raise _bad(f"{what} must be an int in [{low}, 2**63), got {_short(value)}")
    return value


def _number(value: Any, what: str) -> float:
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        with contextlib.suppress(OverflowError):  # an int beyond any float
            if math.isfinite(value):
                return float(value)
    raise _bad(f"{what} must be a finite number, got {_short(value)}")


def _optional_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _dict(value: Any, what: str, keys: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} must be a JSON object, got {_short(value)}")
    if keys is not None and set(value) != keys:
        raise _bad(f"{what} must have the keys {sorted(keys)}, got {sorted(value)[:12]}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(f"{what} must be a JSON list, got {_short(value)}")
    return value


def _encode_float(x: float) -> float | str:
    # Plain JSON has no inf or NaN; they travel as strings.
    return x if math.isfinite(x) else str(x)


def _decode_float(value: Any, what: str) -> float:
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    return _number(value, what)


def _check_activation(spec: Any, what: str, hidden: bool) -> dict[str, Any]:
    spec = _dict(spec, what)
    allowed = [n for n in ACTIVATIONS if not (hidden and n == "softmax")]
    if _choice(spec.get("name"), allowed, f"{what}.name") == "leaky_relu":
        _dict(spec, what, {"name", "negative_slope"})
        _number(spec["negative_slope"], f"{what}.negative_slope")
    else:
        _dict(spec, what, {"name"})
    return spec


def _check_optimizer(value: Any, what: str) -> dict[str, Any]:
    config = _dict(value, what)
    fields = _OPTIMIZERS[_choice(config.get("class"), _OPTIMIZERS, f"{what}.class")][1]
    _dict(config, what, {"class", *fields})
    for field in fields:
        v = config[field]
        if field == "nesterov":
            if not isinstance(v, bool):
                raise _bad(f"{what}.nesterov must be true or false, got {_short(v)}")
        elif not (field == "learning_rate" and v is None):
            _number(v, f"{what}.{field}")
    return config


def _check_config(text: str) -> dict[str, Any]:
    keys = {"layers", "activations", "output_activation", "loss", "bias", "dtype", "seed",
            "init", "optimizer", "rng"}
    config = _dict(_strict_json(text, "model metadata"), "the model metadata", keys)
    layers = _list(config["layers"], "layers")
    if len(layers) < 2:
        raise _bad(f"layers must list at least the inputs and outputs, got {_short(layers)}")
    for i, n in enumerate(layers):
        _int(n, f"layers[{i}]", 1)
    acts = _list(config["activations"], "activations")
    if len(acts) != len(layers) - 2:
        raise _bad(f"activations has {len(acts)} entries for {len(layers) - 2} hidden layers")
    for i, a in enumerate(acts):
        _check_activation(a, f"activations[{i}]", hidden=True)
    _check_activation(config["output_activation"], "output_activation", hidden=False)
    _choice(config["loss"], _LOSSES, "loss")
    if not isinstance(config["bias"], bool):
        raise _bad(f"bias must be true or false, got {_short(config['bias'])}")
    _choice(config["dtype"], _DTYPE_CODES, "dtype")
    _optional_int(config["seed"], "seed")
    if config["init"] is not None:
        _choice(config["init"], INITIALIZERS, "init")
    _check_optimizer(config["optimizer"], "optimizer")
    _bit_generator(config["rng"])
    return config


def _bit_generator(state: Any) -> np.random.BitGenerator:
    """A new bit generator in the saved ``state``; checks the state on a fresh object."""
    name = _choice(_dict(state, "rng").get("bit_generator"), _BIT_GENERATORS,
                   "rng.bit_generator")
    bit_generator: np.random.BitGenerator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    # NumPy's state setters raise many kinds of errors on bad values; this object is ours alone.
    except Exception as exc:
        raise _bad(f"rng is not a valid {name} state ({_short(str(exc))})") from None
    return bit_generator


def _check_checkpoint(text: str, n_params: int) -> dict[str, Any]:
    ckpt = _dict(_strict_json(text, "checkpoint metadata"), "the checkpoint metadata",
                 _CHECKPOINT_KEYS)
    _dict(ckpt["fingerprint"], "fingerprint")
    epoch = _int(ckpt["epoch"], "epoch")
    history = _dict(ckpt["history"], "history",
                    {"history", "epoch", "best_epoch", "stopped_epoch"})
    epochs = _list(history["epoch"], "history.epoch")
    for i, e in enumerate(epochs):
        _int(e, f"history.epoch[{i}]")
    for key, values in _dict(history["history"], "history.history").items():
        for i, v in enumerate(_list(values, f"history[{key!r}]")):
            _decode_float(v, f"history[{key!r}][{i}]")
        if len(values) != epoch:
            raise _bad(f"history[{key!r}] has {len(values)} values for {epoch} epochs")
    if len(epochs) != epoch:
        raise _bad(f"history.epoch has {len(epochs)} entries for {epoch} epochs")
    for key in ("best_epoch", "stopped_epoch"):
        if _optional_int(history[key], f"history.{key}") is not None and history[key] >= epoch:
            raise _bad(f"history.{key} is {history[key]}, but only {epoch} epochs ran")
    _decode_float(ckpt["best"], "best")
    _int(ckpt["wait"], "wait")
    if not isinstance(ckpt["best_params"], bool):
        raise _bad(f"best_params must be true or false, got {_short(ckpt['best_params'])}")
    opt = _dict(ckpt["optimizer"], "checkpoint optimizer", {"config", "iterations", "state"})
    _check_optimizer(opt["config"], "checkpoint optimizer.config")
    _int(opt["iterations"], "checkpoint optimizer.iterations")
    counts = _list(opt["state"], "checkpoint optimizer.state")
    if len(counts) not in (0, n_params):
        raise _bad(f"the optimizer state has {len(counts)} groups for {n_params} parameters")
    for i, c in enumerate(counts):
        if _int(c, f"checkpoint optimizer.state[{i}]") > _MAX_STATE_ARRAYS:
            raise _bad(f"checkpoint optimizer.state[{i}] is {c}, more than any optimizer keeps")
    return ckpt


def _param_shapes(config: dict[str, Any]) -> list[tuple[int, ...]]:
    layers = config["layers"]
    shapes: list[tuple[int, ...]] = list(itertools.pairwise(layers))
    if config["bias"]:
        shapes += [(o,) for o in layers[1:]]
    return shapes


def _param_names(config: dict[str, Any]) -> list[str]:
    n = len(config["layers"]) - 1
    return [f"weights.{i}" for i in range(n)] + (
        [f"biases.{i}" for i in range(n)] if config["bias"] else [])


def _expected(config: dict[str, Any], ckpt: dict[str, Any] | None) -> dict[str, tuple[int, ...]]:
    shapes = _param_shapes(config)
    expected = dict(zip(_param_names(config), shapes, strict=True))
    if ckpt is not None:
        for i, count in enumerate(ckpt["optimizer"]["state"]):
            expected.update({f"optimizer.{i}.{j}": shapes[i] for j in range(count)})
        if ckpt["best_params"]:
            expected.update({f"best.{k}": s for k, s in enumerate(shapes)})
    return expected


def _check_entries(entries: dict[str, Any], expected: dict[str, tuple[int, ...]],
                   code: str) -> int:
    """Checks every tensor entry of the header; returns the data section's length."""
    if set(entries) != set(expected):
        missing = sorted(set(expected) - set(entries))[:5]
        extra = sorted(set(entries) - set(expected))[:5]
        raise _bad(f"its arrays do not match the architecture (missing {missing}, "
                   f"unexpected {[_short(e) for e in extra]})")
    spans = []
    for name, entry in entries.items():
        entry = _dict(entry, f"array {name!r}", {"dtype", "shape", "data_offsets"})
        if entry["dtype"] != code:
            raise _bad(f"array {name!r} has dtype {_short(entry['dtype'])}, expected {code}")
        shape = _list(entry["shape"], f"array {name!r} shape")
        for d in shape:
            _int(d, f"array {name!r} shape")
        if tuple(shape) != expected[name]:
            raise _bad(f"array {name!r} has shape {_short(shape)}, expected "
                       f"{list(expected[name])}")
        offsets = _list(entry["data_offsets"], f"array {name!r} data_offsets")
        if len(offsets) != 2:
            raise _bad(f"array {name!r} data_offsets must be [begin, end]")
        begin, end = (_int(o, f"array {name!r} data_offsets") for o in offsets)
        if end - begin != math.prod(shape) * _ITEMSIZE[code]:
            raise _bad(f"array {name!r} data_offsets {_short(offsets)} do not fit its shape")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _bad(f"array {name!r} does not start where the previous one ends")
        position = end
    return position


def _read(path: str | PathLike[str]) -> tuple[dict[str, Any], dict[str, Any] | None,
                                                dict[str, np.ndarray]]:
    """The validated configuration, checkpoint metadata (None in a model file) and arrays."""
    try:
        return _read_checked(path)
    except ModelFileError as exc:
        raise ModelFileError(f"{os.fspath(path)!s} is not a valid {FORMAT} file: {exc}") from None


def _read_checked(path: str | PathLike[str]) -> tuple[
        dict[str, Any], dict[str, Any] | None, dict[str, np.ndarray]]:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            raise _bad(f"it has {size} bytes, too few for a safetensors header")
        n = int.from_bytes(prefix, "little")
        if n > min(size - 8, _HEADER_LIMIT):
            raise _bad(f"it declares a {n}-byte header, but has {size} bytes "
                       f"(and headers are limited to {_HEADER_LIMIT})")
        header_bytes = f.read(n)
        header = _dict(_strict_json(header_bytes, "header"), "the header")
        metadata = header.pop("__metadata__", None)
        if metadata is None:
            raise _bad(f"it has no __metadata__; it was not written by {FORMAT}")
        metadata = _dict(metadata, "__metadata__")
        if not all(isinstance(v, str) for v in metadata.values()):
            raise _bad("__metadata__ must map strings to strings")
        if metadata.get("format") != FORMAT:
            raise _bad(f"its format is {_short(metadata.get('format'))}, not {FORMAT!r}")
        if metadata.get("version") != VERSION:
            raise _bad(f"its format version is {_short(metadata.get('version'))}; "
                       f"this release reads version {VERSION}")
        keys = {"format", "version", "model"} | ({"checkpoint"} if "checkpoint" in metadata
                                                 else set())
        _dict(metadata, "__metadata__", keys)
        config = _check_config(metadata["model"])
        ckpt = (_check_checkpoint(metadata["checkpoint"], len(_param_shapes(config)))
                if "checkpoint" in metadata else None)
        code = _DTYPE_CODES[config["dtype"]]
        expected = _expected(config, ckpt)
        data_length = _check_entries(header, expected, code)
        if data_length != size - 8 - n:
            raise _bad(f"its arrays need {data_length} bytes of data, but it has "
                       f"{size - 8 - n} (truncated or padded)")
        data = f.read(data_length)
        if len(data) != data_length:
            raise _bad("it changed while being read")
    from safetensors.numpy import load as st_load

    try:
        arrays = st_load(prefix + header_bytes + data)
    # safetensors raises its own SafetensorError (and may raise others); all mean a bad file.
    except Exception as exc:
        raise _bad(f"safetensors refused it ({_short(str(exc))})") from None
    for name, shape in expected.items():
        arr = arrays.get(name)
        if arr is None or tuple(arr.shape) != shape or arr.dtype != np.dtype(config["dtype"]):
            raise _bad(f"array {name!r} did not load with shape {shape}")
        if not np.isfinite(arr).all():
            raise _bad(f"array {name!r} contains NaN or infinity")
    return config, ckpt, arrays


def _build(config: dict[str, Any], backend: Any, device: Any, dtype: Any) -> MLP:
    """A model of the (validated) configuration, with freshly drawn weights."""
    from .model import MLP

    def activation(spec: dict[str, Any]) -> Activation:
        cls = ACTIVATIONS[spec["name"]]
        return LeakyReLU(spec["negative_slope"]) if cls is LeakyReLU else cls()

    opt_config = dict(config["optimizer"])
    opt_cls = _OPTIMIZERS[opt_config.pop("class")][0]
    if opt_config["learning_rate"] is None:
        del opt_config["learning_rate"]  # a schedule was not saved: the class default
    layers = config["layers"]
    try:
        return MLP(
            layers[0], layers[1:-1], layers[-1], backend=backend, device=device, dtype=dtype,
            seed=config["seed"], bias=config["bias"],
            activation=[activation(a) for a in config["activations"]],
            output_activation=activation(config["output_activation"]),
            loss=_LOSSES[config["loss"]](), init=config["init"],
            optimizer=opt_cls(**opt_config),
        )
    except (ValueError, TypeError) as exc:  # the backend arguments were checked before
        raise _bad(f"its configuration is inconsistent: {exc}") from None


def load(path: str | PathLike[str], *, backend: Any = "numpy", device: Any = None,
         dtype: Any = None) -> MLP:
    """Load a model saved by :func:`save` (or a checkpoint) onto any backend and device.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    backend : str or module
        Where the loaded model runs, whichever backend saved it.
    device : object, optional
        A device of that backend; its default when None.
    dtype : {"float32", "float64"}, optional
        The loaded model's dtype; the saved one when None.

    Returns
    -------
    MLP

    Raises
    ------
    ModelFileError
        If the file is not a complete, untampered model file of this format.
    ValueError
        If ``backend``, ``device`` or ``dtype`` is unknown (checked first).
    OSError
        If the file cannot be read (``FileNotFoundError``, ...).
    """
    # Checks the caller's arguments before the file is opened.
    get_backend(backend, device, "float32" if dtype is None else dtype)
    config, _, arrays = _read(path)
    dtype = config["dtype"] if dtype is None else dtype
    get_backend(backend, device, dtype)  # e.g. float64 on JAX without 64-bit mode
    bit_generator = _bit_generator(config["rng"])
    model = _build(config, backend, device, dtype)
    model.weights = [arrays[f"weights.{i}"] for i in range(len(model.weights))]
    model.biases = [arrays[f"biases.{i}"] for i in range(len(model.biases))]
    model.rng = np.random.Generator(bit_generator)
    return model


def to(model: MLP, backend: Any, device: Any = None) -> MLP:
    """The same model on another backend or device, as a new :class:`MLP`.

    Weights, biases, components, hyperparameters, the random generator's state
    and the optimizer's state are copied; ``model`` is unchanged. Custom
    activations, losses and optimizers are carried over as they are.
    """
    from .model import MLP

    acts = model.layer_activations
    opt = copy.copy(model.optimizer)
    new = MLP(
        model.num_inputs, model.hidden_layers, model.num_outputs, backend=backend,
        device=device, dtype=model._backend.dtype_name, seed=model.seed, bias=model.bias,
        activation=list(acts[:-1]), output_activation=acts[-1], loss=model.loss,
        init=model.init, optimizer=opt,
    )
    new.weights = [to_numpy(w) for w in model.weights]
    new.biases = [to_numpy(b) for b in model.biases]
    new.rng = copy.deepcopy(model.rng)
    opt.state = [[new._backend.asarray(to_numpy(s)) for s in group] for group in opt.state]
    return new


# -- checkpoints ----------------------------------------------------------------


def save_checkpoint(path: str | PathLike[str], model: MLP, opt: Optimizer, state: FitState,
                    fingerprint: dict[str, Any]) -> None:
    """Save what :func:`load_checkpoint` needs to resume ``fit`` exactly, atomically.

    That is the model file's contents (with the random generator's state as
    it is now, after the epoch), the optimizer's state arrays and step count,
    the early-stopping best weights, and the progress in ``state``.
    """
    config = _model_config(model)
    tensors = _param_tensors(model, "the model's")
    for i, group in enumerate(opt.state):
        tensors.update({f"optimizer.{i}.{j}": _host(s, f"optimizer state [{i}][{j}]")
                        for j, s in enumerate(group)})
    if state.best_params is not None:
        tensors.update({f"best.{k}": _host(p, f"best weights [{k}]")
                        for k, p in enumerate(state.best_params)})
    history = state.history
    ckpt = {
        "fingerprint": fingerprint,
        "epoch": state.epoch,
        "history": {
            "history": {k: [_encode_float(v) for v in vs] for k, vs in history.history.items()},
            "epoch": list(history.epoch),
            "best_epoch": history.best_epoch,
            "stopped_epoch": history.stopped_epoch,
        },
        "best": _encode_float(state.best),
        "wait": state.wait,
        "best_params": state.best_params is not None,
        "optimizer": {
            "config": _optimizer_config(opt, "the optimizer"),
            "iterations": opt.iterations,
            "state": [len(group) for group in opt.state],
        },
    }
    atomic_write(path, _serialize(tensors, config, ckpt))


def load_checkpoint(path: str | PathLike[str], model: MLP, opt: Optimizer,
                    fingerprint: dict[str, Any]) -> FitState | None:
    """Restore a checkpoint of this very run into ``model`` and ``opt``.

    Returns None when there is no file at ``path`` (a first run). Otherwise the
    file is read and checked completely, then compared with this run: the
    ``fingerprint`` (architecture, data size, batch size, shuffling, loss,
    optimizer class, seed), the model's activations, loss, bias and dtype, and
    the optimizer's hyperparameters. Only when all of it matches are the
    weights, optimizer state, random generator and progress restored.

    Raises
    ------
    ModelFileError
        If the file is malformed, is not a checkpoint, or belongs to a
        different run: a checkpoint is never silently ignored nor silently
        used. Delete it, or pass another path, to start afresh.
    ValueError
        If the model or optimizer has custom components that cannot be saved.
    FileNotFoundError
        If the checkpoint's folder does not exist.
    """
    from .training import FitState, History

    # Raised before training, not after its first epoch.
    current = _model_config(model)
    opt_config = _optimizer_config(opt, "the optimizer")
    target = os.fspath(path)
    if not os.path.exists(target):
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"the checkpoint's folder {folder!r} does not exist")
        return None
    config, ckpt, arrays = _read(target)
    if ckpt is None:
        raise ModelFileError(f"{target} is a model file, not a checkpoint of fit")
    saved = {**ckpt["fingerprint"], **{k: config[k] for k in _ARCHITECTURE},
             **{f"optimizer.{k}": v for k, v in ckpt["optimizer"]["config"].items()}}
    now = {**json.loads(_json_dumps(fingerprint)), **{k: current[k] for k in _ARCHITECTURE},
           **{f"optimizer.{k}": v for k, v in opt_config.items()}}
    differ = [f"{k} (saved {_short(saved.get(k))}, now {_short(now.get(k))})"
              for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    if differ:
        raise ModelFileError(
            f"the checkpoint {target} belongs to a different run: {'; '.join(differ)}. "
            "Delete it, or pass another checkpoint path, to start afresh."
        )
    bit_generator = _bit_generator(config["rng"])
    backend = model._backend
    names = _param_names(config)
    params = [backend.asarray(arrays[name]) for name in names]
    opt_state = [[backend.asarray(arrays[f"optimizer.{i}.{j}"]) for j in range(count)]
                 for i, count in enumerate(ckpt["optimizer"]["state"])]
    best_params = ([backend.asarray(arrays[f"best.{k}"]) for k in range(len(names))]
                   if ckpt["best_params"] else None)
    saved_history = ckpt["history"]
    history = History(
        history={k: [_decode_float(v, k) for v in vs]
                 for k, vs in saved_history["history"].items()},
        epoch=list(saved_history["epoch"]),
        best_epoch=saved_history["best_epoch"],
        stopped_epoch=saved_history["stopped_epoch"],
    )
    # Everything is checked and on the device: only now is the model changed.
    model._set_parameters(params)
    opt.state = opt_state
    opt.iterations = ckpt["optimizer"]["iterations"]
    if type(model.rng.bit_generator) is type(bit_generator):
        model.rng.bit_generator.state = bit_generator.state
    else:
        model.rng = np.random.Generator(bit_generator)
    return FitState(
        epoch=ckpt["epoch"], history=history, best=_decode_float(ckpt["best"], "best"),
        best_params=best_params, wait=ckpt["wait"],
    )
