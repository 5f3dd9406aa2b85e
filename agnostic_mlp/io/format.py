"""The model file: a safetensors file whose metadata is plain JSON.

A model file holds the weights and biases as little-endian float arrays and,
in its ``__metadata__`` (strings only), the format's name and version, the
configuration (:meth:`MLPConfig.to_json`), the random generator's state, a
checkpoint's state (:mod:`agnostic_mlp.io.checkpoint`) and a SHA-256 digest of
all of them: every other metadata entry and every array (its name, dtype,
shape and bytes). Loading trusts nothing in the file:

1. only a regular file is opened, without blocking, and its header's length
   is bounded before anything is parsed;
2. :func:`safetensors.safe_open` parses and validates the header (offsets,
   sizes, dtypes) and memory-maps the file, allocating nothing;
3. the metadata is checked, the configuration is *constructed* (so a file is
   held to the constructor's rules), and the generator's state is checked
   field by field;
4. every array's name, dtype and shape is compared with what the
   configuration implies, before any array is read;
5. the metadata and the arrays, read from the file's bytes a piece at a time,
   are checked against the digest; only then are the arrays read, one at a
   time, and checked for NaN and infinity.

Every problem raises :class:`~agnostic_mlp.errors.ModelFileError`. The digest
catches accidental corruption (a flipped bit, a truncated copy); it is not a
signature: anyone who can write the file can write a matching digest.

Older files still load: version 2 (its digest covers the arrays alone) and
version 1 (no digest, the generator's state inside the configuration). A
version 3 file whose version was changed to 2 fails the digest, since the
digest it holds covers the metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends import to_numpy
from ..config import MLPConfig
from ..constraints import short
from ..errors import InvalidArgumentError, ModelFileError
from .atomic import as_path, atomic_write, naming
from .rng import generator_from_json, generator_to_json

__all__ = [
    "FORMAT",
    "VERSION",
    "ModelFile",
    "Schema",
    "digest",
    "dtype_code",
    "host_array",
    "read",
    "read_entries",
    "strict_json",
    "write",
    "write_entries",
]

FORMAT = "agnostic_mlp"
VERSION = "3"
_READS = ("1", "2", "3")
# Prefixed to what a version 3 digest covers: no other data hashes the same way.
_DIGEST_DOMAIN = b"agnostic_mlp 3\0"
# A header holds names, shapes and a small JSON configuration: a checkpoint of a
# model with MAX_LAYERS layers needs about 700 kB (histories are arrays, not JSON).
# Anything larger is refused before it is parsed.
MAX_HEADER_BYTES = 2**20
_DTYPE_CODES = {"float32": "F32", "float64": "F64"}
_PIECE = 4 * 2**20  # bytes hashed at a time
_NUMPY_DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}

Schema = dict[str, tuple[tuple[int, ...], str, bool]]
"""Array names to their shape, safetensors dtype code, and whether they must be finite."""


def _json(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def dtype_code(dtype_name: str) -> str:
    """``"F32"`` or ``"F64"``."""
    return _DTYPE_CODES[dtype_name]


def digest(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> str:
    """SHA-256 of the metadata (version 3) and the arrays' names, dtypes, shapes and bytes.

    With ``metadata`` (every entry but ``sha256``, which is ignored), the version 3
    digest; without it, version 2's, of the arrays alone.
    """
    h = _metadata_hash(metadata)
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}\0{a.dtype.str}\0{list(a.shape)}\0".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _metadata_hash(metadata: Mapping[str, str] | None) -> Any:
    h = hashlib.sha256()
    if metadata is not None:
        # One JSON list of pairs, in key order: unambiguous, whatever the entries hold
        # (a value's escapes are JSON's, so lone surrogates hash too).
        entries = sorted((k, v) for k, v in metadata.items() if k != "sha256")
        text = json.dumps(entries, separators=(",", ":")).encode()
        h.update(_DIGEST_DOMAIN + len(text).to_bytes(8, "little") + text)
    return h


def _file_digest(fd: int, data_start: int, header: dict[str, Any],
                 metadata: Mapping[str, str] | None) -> str:
    """:func:`digest` of a file's metadata and arrays, read from its bytes a piece at a time.

    Nothing as large as an array is held: a file is checked before any array is
    made of it.
    """
    h = _metadata_hash(metadata)
    for name in sorted(k for k in header if k != "__metadata__"):
        entry = header[name]
        h.update(f"{name}\0{_NUMPY_DTYPES[entry['dtype']].str}\0{entry['shape']}\0".encode())
        begin, end = entry["data_offsets"]
        for lo in range(begin, end, _PIECE):
            h.update(os.pread(fd, min(_PIECE, end - lo), data_start + lo))
    return h.hexdigest()


def host_array(x: Any, what: str, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous little-endian copy in ``dtype``; refuses NaN and infinity."""
    arr = np.ascontiguousarray(to_numpy(x), dtype=dtype)
    if not _finite(arr):
        raise InvalidArgumentError(f"{what} contains NaN or infinity; a file would not load back")
    return arr


def _finite(arr: np.ndarray) -> bool:
    # min and max see NaN and infinities without a temporary as large as the array.
    return arr.size == 0 or bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


def write(path: str | os.PathLike[str], config: MLPConfig, params: list[Any],
          rng: np.random.Generator, extra: Mapping[str, np.ndarray] | None = None,
          checkpoint: Any = None, name: str = "path") -> None:
    """Write a model file (a checkpoint when ``checkpoint`` is JSON data), atomically.

    ``params`` are the flat parameters of any backend; ``extra`` arrays (host
    arrays, already checked) are stored beside them. ``name`` is what the
    user calls ``path``, as refusals name it.

    Raises
    ------
    InvalidArgumentError
        If a component is custom, or a parameter is not finite; nothing is written.
    """
    dtype = np.dtype(config.dtype)
    names = config.param_names()
    arrays = {name: host_array(p, f"the model's {_described(name)}", dtype)
              for name, p in zip(names, params, strict=True)}
    arrays.update(extra or {})
    entries: dict[str, Any] = {"model": config.to_json(), "rng": generator_to_json(rng)}
    if checkpoint is not None:
        entries["checkpoint"] = checkpoint
    write_entries(path, entries, arrays, name)


def write_entries(path: str | os.PathLike[str], entries: Mapping[str, Any],
                  arrays: Mapping[str, np.ndarray], name: str = "path") -> None:
    """Write a file of this format, atomically: ``entries`` (JSON data, each a metadata
    entry) and ``arrays`` (checked host arrays), all covered by the digest. ``name`` is
    what the user calls ``path``, as refusals name it."""
    from safetensors.numpy import save as st_save

    metadata = {"format": FORMAT, "version": VERSION,
                **{k: _json(v) for k, v in entries.items()}}
    metadata["sha256"] = digest(arrays, metadata)
    atomic_write(path, bytes(st_save(dict(arrays), metadata=metadata)), name)


def _described(name: str) -> str:
    kind, _, index = name.partition(".")
    return f"{kind}[{index}]"


@dataclass
class ModelFile:
    """A model file read and checked; its arrays are read on demand (:meth:`arrays`).

    Attributes
    ----------
    config : MLPConfig
    rng : numpy.random.Generator
        A new generator in the saved state.
    checkpoint : object
        The checkpoint's JSON data (checked by :mod:`agnostic_mlp.io.checkpoint`),
        None in a model file.
    version : str
    """

    config: MLPConfig
    rng: np.random.Generator
    checkpoint: Any
    version: str
    schema: Schema
    _arrays: dict[str, np.ndarray]

    def params(self) -> list[np.ndarray]:
        """The flat parameters (host arrays), weights then biases."""
        return [self._arrays[name] for name in self.config.param_names()]

    def array(self, name: str) -> np.ndarray:
        """The array ``name`` (a host array of the schema's shape)."""
        return self._arrays[name]


def read(path: Any, schema_of: Callable[[MLPConfig, Any], Schema] | None = None,
         checkpoint_of: Callable[[str, MLPConfig], Any] | None = None) -> ModelFile:
    """Read and check the model file (or checkpoint) at ``path``.

    ``checkpoint_of(text, config)`` checks a ``checkpoint`` metadata entry and
    returns its data; ``schema_of(config, checkpoint)`` adds the checkpoint's
    arrays to those of the parameters. Without them a checkpoint is refused.

    Raises
    ------
    ModelFileError
        If the file is not a complete, untampered file of this format.
    OSError
        If it cannot be read (``FileNotFoundError``, ...).
    InvalidArgumentError
        If ``path`` is not a path, or names a FIFO, device or folder.
    """

    def decode(metadata: Mapping[str, str], version: str) -> tuple[Any, Schema]:
        if "model" not in metadata:
            raise _bad("it holds no model (is it a scikit-learn estimator's file? load it "
                       "with MLPClassifier.load or MLPRegressor.load)")
        config_data = strict_json(metadata["model"], "model metadata")
        if version == "1":  # the generator's state sat inside the configuration
            if not isinstance(config_data, dict) or "rng" not in config_data:
                raise _bad("its model metadata has no rng")
            config_data = dict(config_data)
            rng_data = config_data.pop("rng")
        else:
            rng_data = strict_json(metadata["rng"], "rng metadata")
        config = MLPConfig.from_json(config_data)
        rng = generator_from_json(rng_data)
        checkpoint = None
        if "checkpoint" in metadata:
            if checkpoint_of is None:
                raise InvalidArgumentError("it is a checkpoint of fit, not a model file")
            checkpoint = checkpoint_of(metadata["checkpoint"], config)
        schema = _schema(config)
        if checkpoint is not None and schema_of is not None:
            schema.update(schema_of(config, checkpoint))
        return (config, rng, checkpoint), schema

    (config, rng, checkpoint), arrays, version, schema = read_entries(path, decode)
    return ModelFile(config, rng, checkpoint, version, schema, arrays)


def read_entries(path: Any, decode: Callable[[Mapping[str, str], str], tuple[Any, Schema]]
                 ) -> tuple[Any, dict[str, np.ndarray], str, Schema]:
    """Read and check any file of this format: ``decode(metadata, version)`` checks its
    entries and returns what they describe and the arrays it must hold.

    Every check of :func:`read` applies: the header's bounds, safetensors' layout,
    the metadata's keys, the arrays' names, dtypes and shapes, the digest (from the
    file's bytes, before any array is made) and NaN and infinity. Returns what
    ``decode`` gave, the arrays, the format version and the schema.

    Raises
    ------
    ModelFileError, OSError, InvalidArgumentError
        As :func:`read`; what ``decode`` raises (InvalidArgumentError, ValueError,
        TypeError) becomes a ModelFileError.
    """
    shown = as_path(path)
    with naming(shown, "reading"), _opened(shown) as (fd, size):
        try:
            return _read_checked(fd, size, shown, decode)
        except ModelFileError as exc:
            raise ModelFileError(f"{shown!s} is not a valid {FORMAT} file: {exc}") from None


@contextlib.contextmanager
def _opened(path: str) -> Iterator[tuple[int, int]]:
    # O_NONBLOCK: a FIFO swapped in after any check must not hang the open.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgumentError(f"path={path!r} is not a regular file")
        yield fd, info.st_size
    finally:
        os.close(fd)


def _bad(message: str) -> ModelFileError:
    return ModelFileError(message)


def _read_checked(fd: int, size: int, path: str, decode: Any
                  ) -> tuple[Any, dict[str, np.ndarray], str, Schema]:
    prefix = os.pread(fd, 8, 0)
    if len(prefix) < 8:
        raise _bad(f"it has {size} bytes, too few for a safetensors header")
    n = int.from_bytes(prefix, "little")
    if n > min(size - 8, MAX_HEADER_BYTES):
        raise _bad(f"it declares a {n}-byte header, but has {size} bytes (and headers are "
                   f"limited to {MAX_HEADER_BYTES})")
    from safetensors import safe_open

    # By its descriptor where the system allows: the file checked is the file read.
    by_descriptor = f"/proc/self/fd/{fd}"
    source = by_descriptor if os.path.exists(by_descriptor) else path
    try:
        handle = safe_open(source, framework="np")
    except Exception as exc:  # SafetensorError and the like: a bad header or layout
        text = str(exc)
        if "not fully covered" in text:
            raise _bad("its arrays do not cover its data exactly: it is truncated or "
                       "padded") from None
        raise _bad(f"safetensors refused it ({short(text, 120)})") from None
    header = strict_json(os.pread(fd, n, 8).decode("utf-8"), "header")
    _check_entry_keys(header)
    with handle as f:
        metadata = f.metadata()
        version = _check_metadata(metadata)
        try:
            payload, schema = decode(metadata, version)
        except (InvalidArgumentError, ValueError, TypeError) as exc:
            raise _bad(f"its metadata is not valid: {exc}") from None
        _check_entries(f, schema)
        # Hashed from the file's bytes first: no array is made of a corrupt file.
        if version != "1" and _file_digest(fd, 8 + n, header, None if version == "2" else
                                           metadata) != metadata["sha256"]:
            covered = "arrays" if version == "2" else "metadata or arrays"
            raise _bad(f"its {covered} do not match their SHA-256 digest: the file is "
                       "corrupted")
        arrays = {name: f.get_tensor(name) for name in schema}
    for name, (shape, code, finite) in schema.items():
        arr = arrays[name]
        if arr.dtype != _NUMPY_DTYPES[code] or tuple(arr.shape) != shape:
            raise _bad(f"array {name!r} did not load with shape {list(shape)}")
        if finite and not _finite(arr):
            raise _bad(f"array {name!r} contains NaN or infinity")
    return payload, arrays, version, schema


def _check_entry_keys(header: Any) -> None:
    """Each array's entry holds exactly what this format writes: the keys safetensors
    writes, a float dtype of ours (duplicate keys are refused by the parser)."""
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _bad(f"array {short(name)}'s entry must have the keys dtype, shape and "
                       f"data_offsets, got {short(entry)}")
        if entry["dtype"] not in _NUMPY_DTYPES:
            raise _bad(f"array {short(name)} has dtype {short(entry['dtype'])}; this format "
                       f"holds {' and '.join(_NUMPY_DTYPES)} arrays only")


def _check_metadata(metadata: Any) -> str:
    if metadata is None:
        raise _bad(f"it has no __metadata__; it was not written by {FORMAT}")
    if metadata.get("format") != FORMAT:
        raise _bad(f"its format is {short(metadata.get('format'))}, not {FORMAT!r}")
    version = metadata.get("version")
    if version not in _READS:
        raise _bad(f"its format version is {short(version)}; this release reads versions "
                   f"{', '.join(_READS)}")
    if "estimator" in metadata and version not in ("1", "2"):  # a scikit-learn estimator's
        keys = {"format", "version", "estimator", "sha256"} | (
            {"run"} if "run" in metadata else set())
    else:
        keys = {"format", "version", "model"} | (
            {"rng", "sha256"} if version != "1" else set())
        keys |= {"checkpoint"} if "checkpoint" in metadata else set()
    if set(metadata) != keys:
        raise _bad(f"__metadata__ must have the keys {sorted(keys)}, got "
                   f"{[short(k) for k in metadata][:12]}")
    return str(version)


def strict_json(text: str, what: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate keys in a JSON object: {sorted(keys)[:5]}")
        return dict(pairs)

    def no_constants(token: str) -> Any:
        raise ValueError(f"{token} is not plain JSON")

    try:
        # A str must encode too: JSON escapes can smuggle in lone surrogates.
        text.encode("utf-8")
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise _bad(f"its {what} is not valid JSON ({short(str(exc))})") from None


def _schema(config: MLPConfig) -> Schema:
    code = dtype_code(config.dtype)
    return {name: (shape, code, True) for name, shape in
            zip(config.param_names(), config.param_shapes(), strict=True)}


def _check_entries(f: Any, schema: Schema) -> None:
    names = set(f.keys())
    missing = sorted(set(schema) - names)[:5]
    extra = sorted(names - set(schema))[:5]
    if missing or extra:
        raise _bad(f"its arrays do not match the architecture (missing {missing}, "
                   f"unexpected {[short(e) for e in extra]})")
    for name, (shape, code, _) in schema.items():
        piece = f.get_slice(name)
        if piece.get_dtype() != code:
            raise _bad(f"array {name!r} has dtype {short(piece.get_dtype())}, expected {code}")
        got = tuple(piece.get_shape())
        if got != shape:
            raise _bad(f"array {name!r} has shape {list(got)}, expected {list(shape)}")
