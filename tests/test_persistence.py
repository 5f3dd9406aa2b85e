"""Saving, loading and moving models: round trips, atomic writes, hostile files."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np
import pytest
from conftest import ALL, DEVICES, host, usable
from helpers import resigned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agnostic_mlp import MLP, SGD, Activation, Adam, Loss, ModelFileError, Optimizer, StepDecay
from agnostic_mlp.activations import LeakyReLU, Sigmoid
from agnostic_mlp.io.atomic import atomic_write

REPO = Path(__file__).resolve().parents[1]
AVAILABLE = [name for name in ALL if usable(name) is None]


def _model(backend: str = "numpy", device: Any = None, **kwargs: Any) -> MLP:
    options: dict[str, Any] = dict(
        seed=7, dtype="float64", activation=["leaky_relu", "tanh"], bias=True,
        loss="categorical_cross_entropy", optimizer=Adam(0.02, beta_1=0.8), init="glorot",
    )
    options.update(kwargs)
    return MLP(3, [5, 4], 3, backend=backend, device=device, **options)


def _params(model: MLP) -> list[np.ndarray]:
    """Copies: ``host`` returns a NumPy model's own arrays, which training mutates."""
    return [np.array(host(p), copy=True) for p in [*model.weights, *model.biases]]


def _header(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n])


def _pack(header: dict[str, Any], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


X = np.random.default_rng(1).normal(size=(10, 3))


# -- round trips ----------------------------------------------------------------


def test_round_trip_onto_every_backend(backend, device, tmp_path):
    source = _model(backend, device, activation=[LeakyReLU(0.2), "tanh"])
    path = tmp_path / "model.safetensors"
    source.save(path)
    expected = host(source.predict(X))
    for target in AVAILABLE:
        loaded = MLP.load(path, backend=target, device=DEVICES.get(target))
        assert loaded.backend == target and loaded.dtype == loaded.xp.float64
        for ours, theirs in zip(_params(loaded), _params(source), strict=True):
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)
        predicted = host(loaded.predict(X))
        if target == backend:
            assert np.array_equal(predicted, expected)
        np.testing.assert_allclose(predicted, expected, rtol=1e-12, atol=0)
        assert [a.name for a in loaded.layer_activations] == ["leaky_relu", "tanh", "softmax"]
        leaky = loaded.layer_activations[0]
        assert isinstance(leaky, LeakyReLU) and leaky.negative_slope == 0.2
        assert (loaded.loss.name, loaded.bias, loaded.seed, loaded.init) == (
            "categorical_cross_entropy", True, 7, "glorot")
        opt = loaded.optimizer
        assert type(opt) is Adam and (opt.learning_rate, opt.beta_1) == (0.02, 0.8)
        assert opt.state is None and opt.iterations == 0  # a model file carries no training state
        # The generator continues where the saved model's was: shuffles stay reproducible.
        assert loaded.rng.bit_generator.state == source.rng.bit_generator.state


def test_to_moves_everything_and_leaves_the_original(backend, device):
    source = _model("numpy", None)
    source.fit(X, np.arange(10) % 3, epochs=1, batch_size=5, verbose=0)
    before = _params(source)
    moved = source.to(backend, device)
    assert moved is not source and moved.backend == backend
    assert all(np.array_equal(a, b) for a, b in zip(_params(moved), before, strict=True))
    np.testing.assert_allclose(host(moved.predict(X)), host(source.predict(X)), rtol=1e-12)
    assert moved.optimizer is not source.optimizer
    assert moved.optimizer.iterations == source.optimizer.iterations == 2
    new_slots, old_slots = moved.optimizer.state.slots(), source.optimizer.state.slots()
    assert new_slots.keys() == old_slots.keys() == {"m", "v"}
    for name, new in new_slots.items():
        assert all(np.array_equal(host(a), host(b))
                   for a, b in zip(new, old_slots[name], strict=True))
    assert all(array_api_compat.device(s) == moved.device
               for group in new_slots.values() for s in group)
    assert moved.rng.bit_generator.state == source.rng.bit_generator.state
    moved.weights = [w * 0 for w in moved.weights]  # the copies are independent
    assert all(np.array_equal(a, b) for a, b in zip(_params(source), before, strict=True))
    back = moved.to("numpy")
    assert all(np.array_equal(a, b) for a, b in zip(_params(back), _params(moved), strict=True))


def test_to_moves_between_devices_of_one_backend():
    pytest.importorskip("array_api_strict")
    model = _model("array_api_strict", "device1")
    moved = model.to("array_api_strict", "device2")
    assert str(moved.device) == str(moved.weights[0].device) != str(model.device)
    assert all(np.array_equal(a, b) for a, b in zip(_params(moved), _params(model),
                                                     strict=True))
    with pytest.raises(ValueError, match="device"):
        moved.predict(model.xp.asarray(X, device=model.device))  # X must follow the model


@pytest.mark.parametrize("args, match", [(("tensorflow",), "backend"),
                                         (("numpy", "quantum"), "device")])
def test_to_refuses_unknown_backends_and_devices(args, match):
    model = _model()
    before = _params(model)
    with pytest.raises(ValueError, match=match):
        model.to(*args)
    assert all(np.array_equal(a, b) for a, b in zip(_params(model), before, strict=True))


def test_to_carries_custom_components():
    class Square(Activation):
        name = "square"

        def forward(self, xp, z):
            return z * z

        def derivative(self, xp, a):
            return 2 * xp.sqrt(a)

    model = MLP(3, [4], 2, activation=Square(), seed=0)
    moved = model.to("numpy")
    assert moved.layer_activations[0] is model.layer_activations[0]
    assert np.array_equal(host(moved.predict(X)), host(model.predict(X)))


def test_load_casts_to_a_requested_dtype(tmp_path):
    path = tmp_path / "m.safetensors"
    model = _model()
    model.save(path)
    as32 = MLP.load(path, dtype="float32")
    assert as32.weights[0].dtype == np.float32
    assert np.array_equal(host(as32.weights[0]), host(model.weights[0]).astype(np.float32))
    MLP.load(path, dtype="float32").save(path)
    assert MLP.load(path).weights[0].dtype == np.float32  # None: the saved dtype


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "tensorflow"}, "backend"),
    ({"dtype": "float16"}, "dtype"),
    ({"device": "quantum"}, "device"),
])
def test_load_checks_its_arguments_before_the_file(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLP.load(tmp_path / "missing.safetensors", **kwargs)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "missing.safetensors")


def test_metadata_is_plain_json(tmp_path):
    path = tmp_path / "m.safetensors"
    _model(optimizer=SGD(0.5, momentum=0.9, nesterov=True)).save(path)
    header = _header(path)
    meta = header.pop("__metadata__")
    assert set(meta) == {"format", "version", "model", "rng", "sha256"}
    assert (meta["format"], meta["version"]) == ("agnostic_mlp", "3")
    assert json.loads(meta["rng"])["bit_generator"] == "PCG64"
    config = json.loads(meta["model"])
    assert config["layers"] == [3, 5, 4, 3]
    assert config["activations"] == [{"name": "leaky_relu", "negative_slope": 0.01},
                                     {"name": "tanh"}]
    assert config["output_activation"] == {"name": "softmax"}
    assert config["optimizer"] == {"class": "SGD", "learning_rate": 0.5, "momentum": 0.9,
                                   "nesterov": True, "weight_decay": 0.0}
    assert (config["loss"], config["dtype"], config["seed"]) == (
        "categorical_cross_entropy", "float64", 7)
    assert sorted(header) == [f"{k}.{i}" for k in ("biases", "weights") for i in range(3)]
    assert {v["dtype"] for v in header.values()} == {"F64"}


def test_a_schedule_is_not_saved_and_loads_as_the_default(tmp_path):
    path = tmp_path / "m.safetensors"
    _model(optimizer=SGD(StepDecay(0.1, 10), momentum=0.5)).save(path)
    opt = MLP.load(path).optimizer
    assert type(opt) is SGD and opt.learning_rate == SGD().learning_rate and opt.momentum == 0.5


class _Custom(Activation):
    name = "custom"

    def forward(self, xp, z):
        return z

    def derivative(self, xp, a):
        return xp.ones_like(a)


class _SigmoidVariant(Sigmoid):
    """Named like a built-in, but code the file could not restore."""


class _Hinge(Loss):
    name = "hinge"


class _Nadam(Optimizer):
    def __init__(self):
        super().__init__(0.1, 0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": _Custom()}, "activation.*custom _Custom"),
    ({"activation": _SigmoidVariant()}, "activation.*custom _SigmoidVariant"),
    ({"output_activation": _Custom()}, "output_activation"),
    ({"loss": _Hinge(), "output_activation": "sigmoid"}, "loss.*custom _Hinge"),
    ({"optimizer": _Nadam()}, "optimizer.*custom _Nadam"),
])
def test_custom_components_are_refused(tmp_path, kwargs, match):
    model = MLP(3, [4], 2, seed=0, **kwargs)
    with pytest.raises(ValueError, match=match):
        model.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_non_finite_weights_are_refused(tmp_path):
    model = MLP(3, [4], 2, seed=0)
    model.weights[1][0, 0] = np.nan  # behind the setter's back
    with pytest.raises(ValueError, match="weights\\[1\\] contains NaN"):
        model.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# -- atomic writes ----------------------------------------------------------------


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, b"old")
    atomic_write(str(path), b"new contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["f.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_write_syncs_the_file_then_renames_it_then_syncs_the_folder(tmp_path,
                                                                            monkeypatch):
    events: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", (os.path.dirname(src), dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "f.bin", b"data")
    assert events == [("fsync", "file"),
                      ("replace", (str(tmp_path), str(tmp_path / "f.bin"))),
                      ("fsync", "folder")]


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch, failing):
    path = tmp_path / "m.safetensors"
    old = _model(seed=1)
    old.save(path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk on fire")

    if failing == "write":  # fails after a partial write of the temporary file
        real_fdopen = os.fdopen

        class Partial:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[:10])
                self.f.flush()
                fail()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Partial(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="disk on fire"):
        _model(seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert all(np.array_equal(a, b) for a, b in zip(_params(MLP.load(path)), _params(old),
                                                     strict=True))


# One interpreter imports the library once, then forks a writer per trial: a fresh
# interpreter per trial would spend most of the test's time starting up.
_FORKER = """
import os, sys
import numpy as np
from agnostic_mlp import MLP

model = MLP(64, [96], 64, seed=0)
# Warm up: the first setter call and save of a process import what they need.
model.weights = [np.full(w.shape, 0) for w in model.weights]
model.save(sys.argv[2])
for line in sys.stdin:
    first = int(line)
    pid = os.fork()
    if pid == 0:
        try:
            print("ready", os.getpid(), flush=True)
            version = first
            while True:
                model.weights = [np.full(w.shape, version) for w in model.weights]
                model.biases = [np.full(b.shape, version) for b in model.biases]
                model.save(sys.argv[1])
                version += 1
        finally:
            os._exit(1)
    print("status", os.waitpid(pid, 0)[1], flush=True)
"""


def _version(version: int) -> MLP:
    model = MLP(64, [96], 64, seed=0)
    model.weights = [np.full(w.shape, version) for w in model.weights]
    model.biases = [np.full(b.shape, version) for b in model.biases]
    return model


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")
def test_sigkill_during_repeated_saves_never_leaves_a_broken_file(tmp_path):
    path = tmp_path / "model.safetensors"
    _version(0).save(path)
    reference = tmp_path / "reference" / "model.safetensors"
    reference.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    forker = subprocess.Popen([sys.executable, "-c", _FORKER, str(path), str(reference)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert forker.stdin is not None and forker.stdout is not None
    moments = random.Random(20240229)
    version, torn_writes = 0, 0
    try:
        for trial in range(1, 31):
            # Trial t writes versions t*100000 + 1, + 2, ...: unique, and exact in float32.
            forker.stdin.write(f"{trial * 100_000 + 1}\n")
            forker.stdin.flush()
            ready, pid = forker.stdout.readline().split()
            assert ready == "ready"
            time.sleep(moments.uniform(0.0, 0.02))
            os.kill(int(pid), signal.SIGKILL)
            status, code = forker.stdout.readline().split()
            assert status == "status" and os.WIFSIGNALED(int(code)), "the writer died by itself"
            loaded = MLP.load(path)  # complete, whatever the moment of the kill
            values = {float(v) for p in _params(loaded) for v in np.unique(p)}
            assert len(values) == 1, "a mix of two versions"
            previous, version = version, int(values.pop())
            assert version == previous or version // 100_000 == trial
            _version(version).save(reference)  # exactly one of the saved versions
            assert _split(path.read_bytes()) == _split(reference.read_bytes())
            leftovers = set(os.listdir(tmp_path)) - {"model.safetensors", "reference"}
            assert all(n.startswith(".model.safetensors.") and n.endswith(".tmp")
                       for n in leftovers)
            torn_writes += len(leftovers)
            for name in leftovers:
                os.unlink(tmp_path / name)
    finally:
        forker.kill()
        forker.communicate()
    # The kills did land while a temporary file was being written, not only between saves.
    assert torn_writes > 0


# -- hostile files ------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("valid") / "m.safetensors"
    MLP(2, [3], 2, seed=0, activation="leaky_relu", dtype="float32").save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scratch") / "m.safetensors"


def _load_bytes(scratch: Path, raw: bytes) -> MLP:
    scratch.write_bytes(raw)
    return MLP.load(scratch)


def test_every_truncation_and_any_extra_byte_is_refused(valid_file, scratch):
    with pytest.raises(ModelFileError, match="padded"):
        _load_bytes(scratch, valid_file + b"\0")
    assert isinstance(_load_bytes(scratch, valid_file), MLP)
    for size in reversed(range(len(valid_file))):
        os.truncate(scratch, size)  # cheaper than rewriting the file every time
        with pytest.raises(ModelFileError):
            MLP.load(scratch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flips=st.lists(st.integers(min_value=0), min_size=1, max_size=3))
def test_bit_flips_raise_model_file_error_or_load_harmlessly(valid_file, scratch, flips):
    raw = bytearray(valid_file)
    for bit in flips:
        raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    try:
        model = _load_bytes(scratch, bytes(raw))
    except ModelFileError:
        return
    assert model.layers == [2, 3, 2]
    assert [p.shape for p in _params(model)] == [(2, 3), (3, 2), (3,), (2,)]
    assert all(np.isfinite(p).all() for p in _params(model))


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_raise_model_file_error(scratch, raw):
    with pytest.raises(ModelFileError):
        _load_bytes(scratch, raw)


@settings(max_examples=100, deadline=None)
@given(prefix=st.binary(min_size=8, max_size=8))
def test_any_header_length_is_checked_against_the_file(valid_file, scratch, prefix):
    if prefix == valid_file[:8]:
        return
    with pytest.raises(ModelFileError):
        _load_bytes(scratch, prefix + valid_file[8:])


def _config_and_rng(header: dict[str, Any]) -> dict[str, Any]:
    """The model metadata with the generator's state under "rng", as format version 1 had it."""
    meta = header["__metadata__"]
    return {**json.loads(meta["model"]), "rng": json.loads(meta["rng"])}


def _store_config_and_rng(header: dict[str, Any], config: dict[str, Any]) -> None:
    meta = header.get("__metadata__", {})
    if "model" in meta:
        config = dict(config)
        meta["rng"] = json.dumps(config.pop("rng"))
        meta["model"] = json.dumps(config)


def _tampered(valid_file: bytes, change, resign: bool = True) -> bytes:
    """The file after ``change``; ``resign``: its digest made to match where it can be,
    so that the check meant to refuse it does, not the digest."""
    header, data = _split(valid_file)
    config = _config_and_rng(header)
    changed = change(header, config, data)
    data = changed if isinstance(changed, bytes) else data
    _store_config_and_rng(header, config)
    if resign:
        resigned(header, data)
    return _pack(header, data)


def _set(d, key, value):
    d[key] = value


TAMPERINGS = {
    "unknown activation": lambda h, c, d: _set(c, "activations", [{"name": "__import__"}]),
    "softmax hidden": lambda h, c, d: _set(c, "activations", [{"name": "softmax"}]),
    "slope out of range": lambda h, c, d: _set(c["activations"][0], "negative_slope", 5.0),
    "slope missing": lambda h, c, d: c["activations"][0].pop("negative_slope"),
    "unknown loss": lambda h, c, d: _set(c, "loss", "os.system"),
    "loss needs another output": lambda h, c, d: _set(c, "loss", "categorical_cross_entropy"),
    "optimizer class": lambda h, c, d: _set(c["optimizer"], "class", "subprocess.Popen"),
    "optimizer extra field": lambda h, c, d: _set(c["optimizer"], "code", "print(1)"),
    "negative learning rate": lambda h, c, d: _set(c["optimizer"], "learning_rate", -1),
    "string learning rate": lambda h, c, d: _set(c["optimizer"], "learning_rate", "1e-3"),
    "negative seed": lambda h, c, d: _set(c, "seed", -1),
    "float layer": lambda h, c, d: _set(c, "layers", [2, 3.0, 2]),
    "huge layer": lambda h, c, d: _set(c, "layers", [2, 10**300, 2]),
    "huge slope": lambda h, c, d: _set(c["activations"][0], "negative_slope", 10**400),
    "huge offset": lambda h, c, d: _set(h["biases.0"], "data_offsets", [0, 10**300]),
    "bool layer": lambda h, c, d: _set(c, "layers", [2, True, 2]),
    "unknown dtype": lambda h, c, d: _set(c, "dtype", "object"),
    "dtype disagrees": lambda h, c, d: _set(c, "dtype", "float64"),
    "unknown init": lambda h, c, d: _set(c, "init", "lambda"),
    "bias disagrees": lambda h, c, d: _set(c, "bias", False),
    "architecture disagrees": lambda h, c, d: _set(c, "layers", [2, 4, 2]),
    "rng generator": lambda h, c, d: _set(c["rng"], "bit_generator", "pickle"),
    "rng state": lambda h, c, d: _set(c["rng"]["state"], "state", -5),
    "missing config key": lambda h, c, d: c.pop("bias"),
    "extra config key": lambda h, c, d: _set(c, "__reduce__", "os.system"),
    "format": lambda h, c, d: _set(h["__metadata__"], "format", "torch"),
    "version": lambda h, c, d: _set(h["__metadata__"], "version", "4"),
    "version 3 read as 2": lambda h, c, d: _set(h["__metadata__"], "version", "2"),
    "old version, new layout": lambda h, c, d: _set(h["__metadata__"], "version", "1"),
    "digest": lambda h, c, d: _set(h["__metadata__"], "sha256", "0" * 64),
    "flipped data bit": lambda h, c, d: bytes([d[0] ^ 1]) + d[1:],
    "extra metadata": lambda h, c, d: _set(h["__metadata__"], "code", "x"),
    "metadata not str": lambda h, c, d: _set(h["__metadata__"], "version", 1),
    "no metadata": lambda h, c, d: h.pop("__metadata__"),
    "missing array": lambda h, c, d: h.pop("biases.1"),
    "unexpected array": lambda h, c, d: _set(h, "pickle", dict(h["biases.1"])),
    "renamed array": lambda h, c, d: _set(h, "weights.9", h.pop("weights.1")),
    "wrong dtype": lambda h, c, d: _set(h["biases.0"], "dtype", "I32"),
    "object dtype": lambda h, c, d: _set(h["biases.0"], "dtype", "O"),
    "wrong shape": lambda h, c, d: _set(h["biases.0"], "shape", [1, 3]),
    "offsets overlap": lambda h, c, d: _set(h["biases.1"], "data_offsets",
                                            h["biases.0"]["data_offsets"]),
    "offsets too short": lambda h, c, d: _set(h["biases.0"], "data_offsets", [0]),
    "extra entry key": lambda h, c, d: _set(h["biases.0"], "pickle", True),
    "nan in data": lambda h, c, d: d[:-4] + np.float32(np.nan).tobytes(),
    "inf in data": lambda h, c, d: np.float32(np.inf).tobytes() + d[4:],
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampered_files_are_refused(valid_file, scratch, name):
    # Re-signed, but for what the digest alone catches: each check is tried on its own.
    resign = name not in ("digest", "flipped data bit", "version 3 read as 2")
    with pytest.raises(ModelFileError):
        _load_bytes(scratch, _tampered(valid_file, TAMPERINGS[name], resign))


def test_untampered_repacking_loads(valid_file, scratch):
    """The tampering helper itself produces loadable files when it changes nothing."""
    model = _load_bytes(scratch, _tampered(valid_file, lambda h, c, d: None))
    assert model.layers == [2, 3, 2]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)
CONFIG_PATHS = [
    ("layers",), ("layers", 1), ("activations",), ("activations", 0),
    ("activations", 0, "name"), ("activations", 0, "negative_slope"), ("output_activation",),
    ("output_activation", "name"), ("loss",), ("bias",), ("dtype",), ("seed",), ("init",),
    ("optimizer",), ("optimizer", "class"), ("optimizer", "learning_rate"),
    ("optimizer", "momentum"), ("optimizer", "nesterov"), ("rng",), ("rng", "bit_generator"),
    ("rng", "state"), ("rng", "state", "inc"), ("rng", "has_uint32"),
]
HEADER_PATHS = [("weights.0",), ("weights.0", "shape"), ("weights.0", "shape", 0),
                ("weights.0", "data_offsets"), ("weights.0", "data_offsets", 1),
                ("weights.0", "dtype"), ("__metadata__",), ("__metadata__", "model")]


def _replace(tree: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


@settings(max_examples=200, deadline=None)
@given(where=st.sampled_from(CONFIG_PATHS + HEADER_PATHS), value=JSON)
def test_any_json_value_anywhere_raises_model_file_error_or_loads(valid_file, scratch, where,
                                                                     value):
    header, data = _split(valid_file)
    if where in CONFIG_PATHS:
        config = _config_and_rng(header)
        _replace(config, where, value)
        _store_config_and_rng(header, config)
    else:
        _replace(header, where, value)
    resigned(header, data)
    try:
        model = _load_bytes(scratch, _pack(header, data))
    except ModelFileError:
        return
    assert [p.shape for p in _params(model)] == [(2, 3), (3, 2), (3,), (2,)]
    assert all(np.isfinite(p).all() for p in _params(model))


def _raw_header(text: str, data: bytes = b"") -> bytes:
    return len(text.encode()).to_bytes(8, "little") + text.encode() + data


@pytest.mark.parametrize("raw", [
    _raw_header('{"a": 1, "a": 2}'),
    _raw_header('{"__metadata__": {"format": "agnostic_mlp", "version": "1", '
                '"model": "\\ud800"}}'),
    _raw_header('{"__metadata__": {"format": ' + "9" * 5000 + "}}"),
    _raw_header('{"__metadata__": {"format": NaN}}'),
    _raw_header("[" * 100_000 + "]" * 100_000),
    _raw_header("\xff\xfe"),
    b"\xff" * 8 + b"{}",
    (2**63).to_bytes(8, "little") + b"{}",
], ids=["duplicate keys", "lone surrogate", "huge int", "NaN", "deep nesting", "not utf-8",
        "length 2**64-1", "length 2**63"])
def test_malformed_headers_are_refused(scratch, raw):
    with pytest.raises(ModelFileError):
        _load_bytes(scratch, raw)


@pytest.mark.parametrize("layers", [[2, 3, 2], [100_000, 100_000, 2], [10**12, 10**12, 2]])
def test_enormous_declared_arrays_are_refused_before_allocation(valid_file, scratch, layers):
    def enormous(header, config, data):
        config["layers"] = layers
        shapes = {"weights.0": layers[:2], "weights.1": layers[1:], "biases.0": layers[1:2],
                  "biases.1": layers[2:]}
        if layers[0] == 2:  # the configuration is small, the arrays are not
            shapes["weights.0"] = [10**12, 10**12]
        offset = 0
        for name, shape in shapes.items():  # consistent offsets: only the file size is short
            size = 4 * math.prod(shape)
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size

    raw = _tampered(valid_file, enormous)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            _load_bytes(scratch, raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


class _Payload:
    """Unpickling this creates the marker file: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_pickle_payloads_are_refused_and_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload).close()  # the payload works: it would be detected
    assert marker.exists()
    marker.unlink()
    valid = tmp_path / "valid.safetensors"
    MLP(2, [3], 1, seed=0).save(valid)
    npz = tmp_path / "payload.npz"
    np.savez(npz, w=np.array([_Payload(marker)], dtype=object))
    npy = tmp_path / "payload.npy"
    np.save(npy, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    candidates = {
        "raw pickle": payload,
        "npz": npz.read_bytes(),
        "npy": npy.read_bytes(),
        "pickle after a valid file": valid.read_bytes() + payload,
        "pickle before a valid file": payload + valid.read_bytes(),
        "pickle as the header": _raw_header(payload.decode("latin-1")),
    }

    def forbidden(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    path = tmp_path / "model.safetensors"
    for name, raw in candidates.items():
        path.write_bytes(raw)
        with pytest.raises(ModelFileError):
            MLP.load(path)
        assert not marker.exists(), name
