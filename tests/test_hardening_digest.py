"""The model file's digest covers every metadata entry (format version 3), older files load.

Every single-bit flip of a small model file's header, and of a checkpoint's
``checkpoint`` and ``rng`` entries, either raises ModelFileError or loads the very
same model: nothing loads as another model, another generator or another run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host
from helpers import pack, split

from agnostic_mlp import MLP, Adam, ModelFileError
from agnostic_mlp.io import checkpoint as checkpoint_file

DATA = Path(__file__).parent / "data"
RNG = np.random.default_rng(4)
X = RNG.normal(size=(24, 2))
LABELS = (X[:, 0] > 0).astype(int)


def _state(model: MLP) -> tuple[Any, ...]:
    """Everything a loaded model is made of."""
    return (json.dumps(model.config.to_json(), sort_keys=True),
            repr(model.rng.bit_generator.state),
            [(host(p).dtype.str, host(p).tobytes()) for p in model.parameters()])


def _outcomes(raw: bytes, bits: range, scratch: Path, load: Any) -> dict[str, list[int]]:
    """For each bit flipped alone: refused, loaded the same, or loaded as something else.

    The file is written once; each flip is written in place and undone after the load.
    """
    scratch.write_bytes(raw)
    want = load(scratch)
    seen: dict[str, list[int]] = {"refused": [], "same": [], "different": []}
    fd = os.open(scratch, os.O_WRONLY)
    try:
        for bit in bits:
            at = bit // 8
            os.pwrite(fd, bytes([raw[at] ^ (1 << (bit % 8))]), at)
            try:
                got = load(scratch)
            except ModelFileError:
                seen["refused"].append(bit)
                continue
            finally:
                os.pwrite(fd, raw[at:at + 1], at)
            seen["same" if got == want else "different"].append(bit)
    finally:
        os.close(fd)
    assert scratch.read_bytes() == raw
    return seen


def _load_model(path: Path) -> tuple[Any, ...]:
    return _state(MLP.load(path))


def _load_checkpoint(path: Path) -> tuple[Any, ...]:
    model_file, snap = checkpoint_file.read(path)
    arrays = {name: model_file.array(name).tobytes() for name in sorted(model_file.schema)}
    return (json.dumps(model_file.config.to_json(), sort_keys=True),
            repr(model_file.rng.bit_generator.state), repr(snap), arrays)


def test_every_bit_flip_of_a_model_files_header_is_refused_or_harmless(tmp_path):
    path = tmp_path / "m.safetensors"
    model = MLP(2, [3], 2, seed=0, activation="leaky_relu", optimizer=Adam(0.01))
    model.rng.random(2)  # a state no seed gives
    model.save(path)
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    # The length, then every byte of the JSON header: the metadata and the arrays' entries.
    seen = _outcomes(raw, range(8 * (8 + n)), tmp_path / "s.safetensors", _load_model)
    assert seen["different"] == []
    assert len(seen["refused"]) + len(seen["same"]) == 8 * (8 + n) > 7000


def _checkpoint(path: Path) -> bytes:
    model = MLP(2, [3], 2, seed=0, optimizer="adam", loss="categorical_cross_entropy")
    model.fit(X, LABELS, epochs=2, batch_size=8, verbose=0, checkpoint=path)
    return path.read_bytes()


def _span(raw: bytes, key: str) -> range:
    """The bits of metadata entry ``key``'s value, as the header's bytes hold it."""
    n = int.from_bytes(raw[:8], "little")
    value = json.dumps(json.loads(raw[8:8 + n])["__metadata__"][key])
    start = raw.index(value.encode(), 8, 8 + n)
    return range(8 * start, 8 * (start + len(value)))


@pytest.mark.parametrize("key", ["checkpoint", "rng"])
def test_every_bit_flip_of_a_checkpoints_state_is_refused_or_harmless(tmp_path, key):
    raw = _checkpoint(tmp_path / "c.safetensors")
    bits = _span(raw, key)
    seen = _outcomes(raw, bits, tmp_path / "s.safetensors", _load_checkpoint)
    assert seen["different"] == []
    assert len(seen["refused"]) + len(seen["same"]) == len(bits) > 1000


def _edited(raw: bytes, key: str, edit: Any) -> bytes:
    """``raw`` with metadata entry ``key`` edited as JSON, the digest left as it was."""
    header, data = split(raw)
    meta = header["__metadata__"]
    value = json.loads(meta[key])
    edit(value)
    meta[key] = json.dumps(value)
    return pack(header, data)


def _set(path: tuple[str, ...], new: Any) -> Any:
    def edit(value: Any) -> None:
        for k in path[:-1]:
            value = value[k]
        value[path[-1]] = new
    return edit


@pytest.mark.parametrize(("key", "edit"), [
    ("model", _set(("optimizer", "learning_rate"), 0.5)),
    ("model", _set(("seed",), 1)),
    ("rng", _set(("state", "state"), 12345)),
    ("checkpoint", _set(("optimizer", "step"), 3)),
    ("checkpoint", _set(("optimizer", "learning_rate"), 0.002)),
    ("checkpoint", _set(("history", "best_epoch"), 0)),
], ids=["learning rate", "seed", "generator", "optimizer step", "live rate", "best epoch"])
def test_a_valid_edit_of_any_metadata_entry_fails_the_digest(tmp_path, key, edit):
    """Each edit passes every other check (the fit below resumes from it, re-signed),
    yet the stored digest refuses it."""
    path = tmp_path / "c.safetensors"
    raw = _checkpoint(path)
    path.write_bytes(_edited(raw, key, edit))
    with pytest.raises(ModelFileError, match="metadata or arrays do not match their SHA-256"):
        checkpoint_file.read(path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        MLP.load(path)
    with pytest.raises(ModelFileError, match="SHA-256"):
        MLP(2, [3], 2, seed=0, optimizer="adam", loss="categorical_cross_entropy").fit(
            X, LABELS, epochs=3, batch_size=8, verbose=0, checkpoint=path)
    # The same edit with a digest to match is a file like any other.
    from helpers import resigned

    header, data = split(path.read_bytes())
    resigned(header, data)
    path.write_bytes(pack(header, data))
    checkpoint_file.read(path)


def test_files_of_format_version_2_still_load():
    """Written by the release before the digest covered the metadata."""
    ref = json.loads((DATA / "model_v2.json").read_text())
    header, _ = split((DATA / "model_v2.safetensors").read_bytes())
    assert header["__metadata__"]["version"] == "2"
    model = MLP.load(DATA / "model_v2.safetensors")
    for got, want in zip(model.parameters(), ref["weights"] + ref["biases"], strict=True):
        assert np.array_equal(host(got), np.array(want))
    np.testing.assert_allclose(host(model.predict(np.array(ref["x"]))), ref["predictions"],
                               rtol=1e-12)
    assert model.rng.bit_generator.state == ref["rng"]
    assert type(model.optimizer) is Adam and model.optimizer.beta_1 == 0.85


def test_a_saved_file_is_version_3_and_its_digest_covers_every_entry(tmp_path):
    path = tmp_path / "m.safetensors"
    MLP(2, [3], 1, seed=0).save(path)
    header, data = split(path.read_bytes())
    meta = header["__metadata__"]
    assert meta["version"] == "3"
    for key in sorted(set(meta) - {"sha256"}):
        changed = dict(header, __metadata__=dict(meta, **{key: meta[key] + " "}))
        path.write_bytes(pack(changed, data))
        with pytest.raises(ModelFileError):
            MLP.load(path)
