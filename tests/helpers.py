"""What several test modules need: raw safetensors surgery, a hash of a model's state, and
an environment without NumPy's AVX-512 kernels."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from conftest import host

from agnostic_mlp.io.format import digest


def split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's header (parsed) and its data section."""
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def pack(header: dict[str, Any], data: bytes) -> bytes:
    """A safetensors file from a header and a data section, as they are (no checks)."""
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def arrays_of(header: dict[str, Any], data: bytes) -> dict[str, np.ndarray]:
    """The arrays a header and data section describe (float32 or float64)."""
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": "<f4", "F64": "<f8"}[entry["dtype"]]
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
    return out


def rewritten(raw: bytes, change: Any) -> bytes:
    """The file after ``change(header, metadata_json, arrays)``, its digest made to match.

    ``metadata_json`` maps each metadata entry to its parsed JSON (``format``,
    ``version`` and ``sha256`` excepted); ``arrays`` may be edited: arrays
    added, removed or replaced. The result is self-consistent: only what the
    change meant to break is broken.
    """
    from safetensors.numpy import save

    header, data = split(raw)
    meta = header.pop("__metadata__")
    parsed = {k: json.loads(v) for k, v in meta.items() if k not in ("format", "version",
                                                                     "sha256")}
    arrays = {k: np.array(v) for k, v in arrays_of(header, data).items()}
    change(header, parsed, arrays)
    meta.update({k: json.dumps(v) for k, v in parsed.items()})
    meta["sha256"] = digest(arrays, meta)
    return bytes(save(arrays, metadata=meta))


def resigned(header: dict[str, Any], data: bytes) -> None:
    """Give ``header`` the digest of its metadata and arrays, where they can be read.

    A tampered file re-signed so fails only the check it was made for, not the
    digest. A header too broken to read the arrays of is left as it is.
    """
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        return
    try:
        arrays = arrays_of(header, data)
    except (KeyError, TypeError, ValueError):
        return
    meta["sha256"] = digest(arrays, meta)


def state_hash(model: Any, optimizer: Any = None) -> str:
    """A hash of everything a failed call must leave as it was: parameters, optimizer, generator."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(host(p).tobytes())
    optimizer = optimizer if optimizer is not None else model.optimizer
    if optimizer.state is not None:
        for name, arrays in sorted(optimizer.state.slots().items()):
            h.update(name.encode())
            for a in arrays:
                h.update(host(a).tobytes())
    h.update(repr((optimizer.iterations, optimizer.learning_rate,
                   model.rng.bit_generator.state)).encode())
    return h.hexdigest()


def without_avx512() -> dict[str, str]:
    """The environment for a child process, with NumPy's AVX-512 kernels (where this CPU
    has them) switched off and this checkout first on the path.

    They compute ``exp`` and ``tanh`` with other roundings than the C library's (which
    scipy's ``expit`` uses) and than NumPy's in-place loops (which scikit-learn calls):
    comparisons with scikit-learn to the last bit run without them.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # NumPy 1
        from numpy.core._multiarray_umath import __cpu_dispatch__
    off = [f for f in __cpu_dispatch__ if "AVX512" in f or f == "X86_V4"]
    env = dict(os.environ)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(off)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
