"""The progress display moves within an epoch, as its batches go to the device, and the
count it is given is the host's: no transfer is added to an epoch's one."""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np
import pytest

from agnostic_mlp import MLP, Callback, Stream
from agnostic_mlp.training import loop
from agnostic_mlp.training.callbacks import Progress
from agnostic_mlp.tutorial import TutorialProgress

X = np.random.default_rng(0).normal(size=(90, 3))
Y = X[:, :1] * 0.5


class Probe(Callback):
    """Every call of ``on_batches`` and ``on_epoch_end``, in order, and the bar's count."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_batches(self, model: Any, epoch: int, done: int, total: int) -> None:
        assert type(done) is int and type(total) is int  # a host count, no device value
        bars = [cb.bar for cb in self.run.callbacks if isinstance(cb, Progress) and cb.bar]
        self.calls.append(("batches", epoch, done, total, bars[0].n if bars else None))

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        self.calls.append(("end", epoch))


def _model(backend: str = "numpy", device: Any = None) -> MLP:
    return MLP(3, [4], 1, seed=0, output_activation="identity", backend=backend,
               device=device)


def test_the_bar_counts_every_batch_within_each_epoch(capsys):
    pytest.importorskip("tqdm")
    probe = Probe()
    _model().fit(X, Y, epochs=3, batch_size=10, verbose=1, callbacks=probe)
    # Nine batches an epoch, each told before the epoch ends; the bar follows them.
    want: list[tuple[Any, ...]] = []
    for epoch in range(3):
        want += [("batches", epoch, done, 9, epoch * 9 + done) for done in range(1, 10)]
        want.append(("end", epoch))
    assert probe.calls == want
    err = capsys.readouterr().err
    assert "27/27" in err and "epoch 3/3" in err


def test_streamed_data_tells_each_batch_of_each_window():
    probe = Probe()
    _model().fit(Stream(X, window=32), Y, epochs=2, batch_size=8, verbose=0,
                 callbacks=probe)
    told = [c for c in probe.calls if c[0] == "batches" and c[1] == 1]
    steps = told[0][3]
    assert [c[2] for c in told] == list(range(1, steps + 1)) and steps >= 12


def test_a_compiled_backend_tells_each_block(backend, device):
    """JAX runs a block of batches as one compiled call: the count moves a block at a
    time (in memory, one block an epoch; streamed, one a window)."""
    probe = Probe()
    _model(backend, device).fit(Stream(X, window=30), Y, epochs=1, batch_size=10,
                                verbose=0, callbacks=probe)
    told = [c[2] for c in probe.calls if c[0] == "batches"]
    assert told[-1] == 9 and told == sorted(told)
    assert len(told) in (3, 9)  # a window's three batches at once, or one by one


def test_the_display_adds_no_transfer_to_the_epochs_one(monkeypatch):
    pytest.importorskip("tqdm")
    calls = []
    fetch = loop.fetch

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return fetch(*args, **kwargs)

    monkeypatch.setattr(loop, "fetch", counted)
    counts = []
    for verbose in (0, 1):
        calls.clear()
        _model().fit(X, Y, epochs=4, batch_size=5, verbose=verbose)
        counts.append(len(calls))
    assert counts == [4, 4]


def test_a_silent_display_is_not_called_per_batch(monkeypatch):
    """verbose=0 (and a log, not a terminal) show nothing within an epoch: not called."""
    def fail(*args: Any) -> None:
        raise AssertionError("called")

    monkeypatch.setattr(Progress, "on_batches", fail)
    monkeypatch.setattr(TutorialProgress, "on_batches", fail)
    _model().fit(X, Y, epochs=2, batch_size=5, verbose=0)
    MLP(3, [4], 1, seed=0).train(X, Y, 2, 0.1, verbose="progress")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_tutorials_line_moves_within_an_epoch_on_a_terminal(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(TutorialProgress, "interval", 0.0)  # redraw after every batch
    errors = MLP(3, [4], 1, seed=0).train(X, Y, 2, 0.1, verbose="progress")
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == 2 * 90 + 2  # every batch (batch_size 1), and each epoch's end
    # Half way through the first epoch: half the first epoch's share of the bar.
    assert frames[44].startswith("[#####.....") and " epoch 0/2" in frames[44]
    assert "error" not in frames[44] and f"error {errors[0]:.3g}" in frames[100]
    assert frames[-1].startswith("[####################] epoch 2/2")
