"""Data parallelism in one process, on every backend: no MPI needed.

A stand-in communicator makes this process look like ``copies`` identical
processes (its allreduce multiplies the buffer in place, its allgather
repeats the value), so the gradient reducer's buffer paths, the loop's hooks
and the checks at the start run on every backend, GPUs included; what real
processes add is tested under ``mpiexec`` in ``test_distributed.py``.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, Adam, InvalidArgumentError
from agnostic_mlp.backends import get_backend
from agnostic_mlp.distributed import DataParallel, GradientAllreduce, ProcessMismatchError
from agnostic_mlp.engine import Params
from agnostic_mlp.training.parallel import Parallel


class Copies:
    """``copies`` processes that hold exactly what this one holds."""

    stream_ordered = False

    def __init__(self, copies: int = 2, device_buffers: bool = False,
                 gathered: list[Any] | None = None) -> None:
        self.copies, self.device_buffers = copies, device_buffers
        self.gathered = gathered  # what the others' allgather gives, if not copies of ours
        self.rank, self.size = 0, copies
        self.allreduces = 0

    def allreduce(self, buffer: Any) -> None:
        self.allreduces += 1
        buffer *= self.copies

    def allgather(self, value: Any) -> list[Any]:
        return [value, *self.gathered] if self.gathered is not None else [value] * self.copies

    def abort(self, code: int) -> NoReturn:
        raise AssertionError("abort called")


def _path(backend: str, device_buffers: bool) -> str:
    if backend in ("numpy", "torch"):
        return "host memory, in place"
    if backend == "cupy":
        return "CUDA memory, direct" if device_buffers else "pinned host buffer"
    return "host buffer"


@pytest.mark.parametrize("device_buffers", [False, True])
def test_the_reducer_packs_every_layer_into_one_allreduce(backend, device, device_buffers):
    runtime = get_backend(backend, device, "float64")
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4, 2), (4,), (2,)]
    flat = [runtime.asarray(rng.normal(size=s)) for s in shapes]
    grads = Params(tuple(flat[:2]), tuple(flat[2:]))
    communicator = Copies(3, device_buffers)
    reduce = GradientAllreduce(communicator, runtime)
    combined, total = reduce(grads, 5)
    # Three processes with the same batch of 5: the mean gradient is theirs, the total 15.
    assert communicator.allreduces == 1
    assert float(host(total)) == 15.0
    for got, want in zip(combined.flat(), flat, strict=True):
        assert runtime.owns(got) and runtime.same_device(got)
        np.testing.assert_allclose(host(got), host(want), rtol=1e-15)
    assert reduce.path == _path(backend, device_buffers)
    assert reduce.nbytes == 8 * (12 + 8 + 4 + 2 + 1)


def _data(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _model(backend: str, device: Any) -> MLP:
    return MLP(4, [5], 2, activation="tanh", loss="categorical_cross_entropy",
               dtype="float64", seed=3, backend=backend, device=device)


def test_identical_processes_train_the_model_of_one(backend, device):
    """Two processes with the same shard: every global batch is one batch twice over."""
    x, y = _data()
    alone, shared = _model(backend, device), _model(backend, device)
    # Unshuffled: across processes each shuffles its shard with a generator of its own.
    kwargs: dict[str, Any] = dict(epochs=3, batch_size=8, optimizer=Adam(0.02), verbose=0,
                                  shuffle=False, validation_data=(x[:10], y[:10]))
    want = alone.fit(x, y, **kwargs)
    parallel = DataParallel(Copies(2), abort_on_error=False)
    kwargs["optimizer"] = Adam(0.02)
    got = shared.fit(x, y, parallel=parallel, **kwargs)
    assert parallel.communication()["steps"] == 3 * 4
    assert parallel.buffer_path == _path(backend, False)
    for a, b in zip(alone.parameters(), shared.parameters(), strict=True):
        np.testing.assert_allclose(host(b), host(a), rtol=1e-12, atol=1e-12)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-12)


class OtherBatchSize(Copies):
    """Two processes; the other one calls fit with a batch size 8 larger."""

    def allgather(self, value: Any) -> list[Any]:
        other = copy.deepcopy(value)
        if isinstance(value, dict) and "settings" in value:
            other["settings"]["batch_size"] += 8
        return [value, other]


def test_processes_that_differ_are_named_before_anything_changes():
    x, y = _data()
    model = _model("numpy", None)
    before = [host(p).copy() for p in model.parameters()]
    optimizer = Adam()
    with pytest.raises(ProcessMismatchError, match=r"batch_size \(8 on process 0; 16 on "
                                                   r"process 1\)"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, optimizer=optimizer,
                  parallel=DataParallel(OtherBatchSize(), abort_on_error=False))
    assert all(np.array_equal(host(p), b) for p, b in zip(model.parameters(), before,
                                                          strict=True))
    assert optimizer.state is None


def test_parallel_must_be_a_parallel():
    with pytest.raises(InvalidArgumentError, match="parallel"):
        _model("numpy", None).fit(*_data(), parallel="mpi")  # type: ignore[arg-type]
    assert Parallel().sum(np.ones(2)).tolist() == [1.0, 1.0]


class Gathered(Copies):
    """One process that keeps what it was asked to allgather."""

    def __init__(self) -> None:
        super().__init__(1)
        self.asked: list[Any] = []

    def allgather(self, value: Any) -> list[Any]:
        self.asked.append(copy.deepcopy(value))
        return super().allgather(value)


def test_one_run_identity_serves_the_processes_and_the_checkpoint(tmp_path, monkeypatch):
    """The spec is computed once per fit; DataParallel compares it and the checkpoint keeps it."""
    import json

    from agnostic_mlp import Callback
    from agnostic_mlp.training.run import RunSpec

    built: list[RunSpec] = []
    of = RunSpec.of.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(RunSpec, "of", classmethod(lambda cls, run: built.append(
        of(cls, run)) or built[-1]))
    seen: list[Any] = []

    class Writer(Callback):
        def on_train_begin(self, model: Any) -> None:
            seen.append(self.run)
            with pytest.raises(AttributeError):
                self.run.epoch = 3  # type: ignore[misc]  # the view is read-only

    x, y = _data()
    communicator = Gathered()
    path = tmp_path / "run.ckpt"
    _model("numpy", None).fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint=path,
                              callbacks=[Writer()],
                              parallel=DataParallel(communicator, abort_on_error=False))
    assert len(built) == 1 and seen[0].spec is built[0]
    (settings,) = [g["settings"] for g in communicator.asked
                   if isinstance(g, dict) and "settings" in g]
    assert settings == dict(built[0].settings) and settings["batch_size"] == 8
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    fingerprint = json.loads(header["__metadata__"]["checkpoint"])["fingerprint"]
    assert {k: v for k, v in fingerprint.items() if k not in ("data", "windows", "validation")} \
        == json.loads(json.dumps(built[0].resumable()))
    assert "epochs" in settings and "epochs" not in fingerprint  # a resumed run may go longer
