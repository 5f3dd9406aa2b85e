"""fit(..., checkpoint=path): interrupt, resume, and refuse checkpoints of other runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host
from hypothesis import given, settings
from hypothesis import strategies as st

from agnostic_mlp import (
    MLP,
    SGD,
    Adam,
    Callback,
    EarlyStopping,
    ExponentialDecay,
    ModelFileError,
    Optimizer,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)


def _model(backend: str = "numpy", device: Any = None, **kwargs: Any) -> MLP:
    options: dict[str, Any] = dict(seed=3, dtype="float64", activation="tanh",
                                   loss="categorical_cross_entropy")
    options.update(kwargs)
    return MLP(4, [6], 3, backend=backend, device=device, **options)


def _fit_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(
        epochs=6, batch_size=8, optimizer="adam", validation_split=0.25, shuffle=True,
        early_stopping=EarlyStopping(patience=50), verbose=0,
    )
    kwargs.update(overrides)
    return kwargs


class Recorder(Callback):
    """Records the epochs it sees; raises KeyboardInterrupt at the end of ``interrupt_at``."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.epochs: list[int] = []
        self.interrupt_at = interrupt_at

    def on_epoch_end(self, model, epoch, logs):
        self.epochs.append(epoch)
        if epoch == self.interrupt_at:
            raise KeyboardInterrupt


def _params(model: MLP) -> list[np.ndarray]:
    """Copies: ``host`` returns a NumPy model's own arrays, which training mutates."""
    return [np.array(host(p), copy=True) for p in [*model.weights, *model.biases]]


def _fingerprint(model: MLP, opt: Optimizer | None = None) -> str:
    """A hash of everything a failed call must leave untouched."""
    digest = hashlib.sha256()
    for p in _params(model):
        digest.update(p.tobytes())
    opt = opt if opt is not None else model.optimizer
    for group in (opt.state.slots().values() if opt.state is not None else []):
        for s in group:
            digest.update(host(s).tobytes())
    digest.update(repr((opt.iterations, model.rng.bit_generator.state)).encode())
    return digest.hexdigest()


def _same(a: MLP, b: MLP) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_params(a), _params(b), strict=True))


@pytest.mark.parametrize("interrupt_at", [1, 4])
def test_interrupt_then_resume_equals_an_uninterrupted_run(backend, device, tmp_path,
                                                            interrupt_at):
    reference = _model(backend, device)
    expected = reference.fit(X, LABELS, **_fit_kwargs())

    path = tmp_path / "run.ckpt"
    stopped = Recorder(interrupt_at)
    with pytest.raises(KeyboardInterrupt):
        _model(backend, device).fit(X, LABELS, checkpoint=path, callbacks=[stopped],
                                    **_fit_kwargs())
    assert stopped.epochs == list(range(interrupt_at + 1))

    resumed_model = _model(backend, device)  # a fresh process would build it the same way
    resumed = Recorder()
    history = resumed_model.fit(X, LABELS, checkpoint=path, callbacks=[resumed],
                                **_fit_kwargs())
    # The epoch that was interrupted before its checkpoint is run again, then the rest.
    assert resumed.epochs == list(range(interrupt_at, 6))
    assert history.history == expected.history
    assert history.epoch == expected.epoch == list(range(6))
    assert history.best_epoch == expected.best_epoch
    assert _same(resumed_model, reference)
    assert resumed_model.rng.bit_generator.state == reference.rng.bit_generator.state


def test_resume_with_momentum_and_a_schedule(tmp_path):
    def kwargs():
        opt = SGD(ExponentialDecay(0.2, decay_steps=3, decay_rate=0.5), momentum=0.9)
        return _fit_kwargs(optimizer=opt, early_stopping=False, validation_split=0.0)

    reference = _model()
    expected = reference.fit(X, LABELS, **kwargs())
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _model().fit(X, LABELS, checkpoint=path, callbacks=[Recorder(2)], **kwargs())
    model = _model()
    assert model.fit(X, LABELS, checkpoint=path, **kwargs()).history == expected.history
    assert _same(model, reference)


def test_a_finished_run_continues_when_asked_for_more_epochs(tmp_path):
    reference = _model()
    expected = reference.fit(X, LABELS, **_fit_kwargs(epochs=5))
    path = tmp_path / "run.ckpt"
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=3))
    model, seen = _model(), Recorder()
    history = model.fit(X, LABELS, checkpoint=path, callbacks=[seen], **_fit_kwargs(epochs=5))
    assert seen.epochs == [3, 4]
    assert history.history == expected.history and _same(model, reference)


def test_rerunning_a_run_that_stopped_early_does_not_train_again(tmp_path):
    # min_delta so large that only the first epoch counts as an improvement: stops at epoch 1.
    stopper = EarlyStopping(patience=1, min_delta=1e9, monitor="loss")
    path = tmp_path / "run.ckpt"
    first = _model()
    history = first.fit(X, LABELS, checkpoint=path, **_fit_kwargs(early_stopping=stopper))
    assert (history.stopped_epoch, history.best_epoch) == (1, 0)

    again, seen = _model(), Recorder()
    rerun = again.fit(X, LABELS, checkpoint=path, callbacks=[seen],
                      **_fit_kwargs(early_stopping=stopper))
    assert seen.epochs == []
    assert rerun.history == history.history and rerun.stopped_epoch == 1
    assert _same(again, first)  # the best weights, restored again


def test_the_checkpoint_is_a_loadable_model_file(tmp_path):
    path = tmp_path / "run.ckpt"
    model = _model()
    model.fit(X, LABELS, checkpoint=path, **_fit_kwargs(early_stopping=False))
    loaded = MLP.load(path, backend="numpy")
    assert _same(loaded, model)
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    ckpt = json.loads(header["__metadata__"]["checkpoint"])
    assert ckpt["epoch"] == 6 and ckpt["optimizer"]["step"] == 6 * 4
    assert ckpt["fingerprint"]["optimizer"]["class"] == "Adam"
    assert ckpt["fingerprint"]["batch_size"] == 8
    assert {f"optimizer.{slot}.{i}" for i in range(4) for slot in ("m", "v")} <= set(header)


@pytest.mark.parametrize("change, differs", [
    ({"batch_size": 4}, "batch_size"),
    ({"shuffle": False}, "shuffle"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"optimizer": Adam(0.01)}, "optimizer.learning_rate"),
    ({"validation_split": 0.5}, "n_samples"),
    ({"model": {"dtype": "float32"}}, "dtype"),
    ({"model": {"activation": "relu"}}, "activations"),
    ({"model": {"seed": 4}}, "seed"),
])
def test_a_checkpoint_of_another_run_is_refused(backend, device, tmp_path, change, differs):
    path = tmp_path / "run.ckpt"
    _model(backend, device).fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=2))
    change = dict(change)
    model = _model(backend, device, **change.pop("model", {}))
    before, seen = _fingerprint(model), Recorder()
    with pytest.raises(ModelFileError, match=f"different run: .*{differs}"):
        model.fit(X, LABELS, checkpoint=path, callbacks=[seen], **_fit_kwargs(**change))
    assert seen.epochs == [] and _fingerprint(model) == before


def test_another_architecture_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=2))
    other = MLP(4, [7], 3, seed=3, dtype="float64", activation="tanh",
                loss="categorical_cross_entropy")
    before = _fingerprint(other)
    with pytest.raises(ModelFileError, match=r"different run: .*layers"):
        other.fit(X, LABELS, checkpoint=path, **_fit_kwargs())
    assert _fingerprint(other) == before


@pytest.mark.parametrize("damage", ["truncate", "flip", "model file", "garbage"])
def test_a_damaged_checkpoint_is_refused_before_training(tmp_path, damage):
    path = tmp_path / "run.ckpt"
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=2))
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[:-3])
    elif damage == "flip":
        path.write_bytes(raw[:20] + bytes([raw[20] ^ 0x40]) + raw[21:])
    elif damage == "model file":
        _model().save(path)
    else:
        path.write_bytes(b"\x80\x04not a checkpoint")
    model, seen = _model(), Recorder()
    before = _fingerprint(model)
    with pytest.raises(ModelFileError):
        model.fit(X, LABELS, checkpoint=path, callbacks=[seen], **_fit_kwargs())
    assert seen.epochs == [] and _fingerprint(model) == before


@pytest.mark.parametrize("tamper", ["history length", "state count", "iterations",
                                    "huge iterations", "rng"])
def test_tampered_checkpoint_metadata_is_refused(tmp_path, tamper):
    path = tmp_path / "run.ckpt"
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=2))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    ckpt = json.loads(header["__metadata__"]["checkpoint"])
    config = json.loads(header["__metadata__"]["model"])
    rng = json.loads(header["__metadata__"]["rng"])
    if tamper == "history length":  # a history with no array behind it
        ckpt["history"]["keys"].append("val_loss")
    elif tamper == "state count":
        ckpt["optimizer"]["slots"]["m"] = 10**9
    elif tamper == "iterations":
        ckpt["optimizer"]["step"] = -1
    elif tamper == "huge iterations":  # would overflow a schedule's float arithmetic
        ckpt["optimizer"]["step"] = 10**400
    else:
        rng["state"]["inc"] = "not a number"
    header["__metadata__"]["checkpoint"] = json.dumps(ckpt)
    header["__metadata__"]["model"] = json.dumps(config)
    header["__metadata__"]["rng"] = json.dumps(rng)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    model = _model()
    before = _fingerprint(model)
    with pytest.raises(ModelFileError):
        model.fit(X, LABELS, checkpoint=path, **_fit_kwargs())
    assert _fingerprint(model) == before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["inf", "nan"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=6,
)
CHECKPOINT_PATHS = [
    ("fingerprint",), ("fingerprint", "batch_size"), ("fingerprint", "optimizer", "beta_1"),
    ("epoch",), ("history",), ("history", "keys"), ("history", "keys", 0),
    ("history", "best_epoch"), ("history", "stopped_epoch"), ("optimizer",),
    ("optimizer", "learning_rate"), ("optimizer", "step"), ("optimizer", "slots"),
    ("optimizer", "slots", "m"), ("callbacks",), ("callbacks", 0), ("callbacks", 0, "name"),
    ("callbacks", 0, "state"), ("callbacks", 0, "state", "best"),
    ("callbacks", 0, "state", "wait"),
    ("callbacks", 0, "arrays"), ("callbacks", 0, "arrays", "best"),
]


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory) -> tuple[bytes, Path]:
    folder = tmp_path_factory.mktemp("checkpoint")
    path = folder / "run.ckpt"
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=2, validation_split=0.0))
    return path.read_bytes(), folder / "tampered.ckpt"


@settings(max_examples=100, deadline=None)
@given(where=st.sampled_from(CHECKPOINT_PATHS), value=JSON)
def test_any_json_value_in_the_checkpoint_raises_model_file_error_or_resumes(
        checkpoint_file, where, value):
    raw, path = checkpoint_file
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    ckpt = json.loads(header["__metadata__"]["checkpoint"])
    tree = ckpt
    for key in where[:-1]:
        tree = tree[key]
    tree[where[-1]] = value
    header["__metadata__"]["checkpoint"] = json.dumps(ckpt)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    model = _model()
    before = _fingerprint(model)
    try:
        model.fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=3, validation_split=0.0))
    except ModelFileError:
        assert _fingerprint(model) == before
        return
    assert all(np.isfinite(p).all() for p in _params(model))


class _Momentum(Optimizer):
    def __init__(self) -> None:
        super().__init__(0.1, 0.0)


def test_unsaveable_components_fail_before_the_first_epoch(tmp_path):
    model, seen = _model(), Recorder()
    before = _fingerprint(model)
    with pytest.raises(ValueError, match="custom _Momentum"):
        model.fit(X, LABELS, checkpoint=tmp_path / "run.ckpt", callbacks=[seen],
                  **_fit_kwargs(optimizer=_Momentum()))
    assert seen.epochs == [] and _fingerprint(model) == before
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_fails_before_the_first_epoch(tmp_path):
    model, seen = _model(), Recorder()
    with pytest.raises(FileNotFoundError, match="folder"):
        model.fit(X, LABELS, checkpoint=tmp_path / "nope" / "run.ckpt", callbacks=[seen],
                  **_fit_kwargs())
    assert seen.epochs == []


def test_checkpoint_paths_may_be_strings(tmp_path: Path):
    path = str(tmp_path / "run.ckpt")
    _model().fit(X, LABELS, checkpoint=path, **_fit_kwargs(epochs=1))
    assert MLP.load(path).layers == [4, 6, 3]
