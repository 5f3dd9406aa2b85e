"""A real Ctrl-C at every instruction between an epoch's work and the end of its commit.

The interpreter's opcode tracing (``sys.settrace`` with ``f_trace_opcodes``) counts
every bytecode the main thread runs from the moment an epoch's numbers reach the
host (the loop's ``_logs`` returns) until the callbacks after the commit begin;
each trial then sends a real SIGINT (``signal.raise_signal``) at one of those
bytecodes, so the library's own handlers (held back or not) see it as a user's
Ctrl-C. Whatever the moment, the weights, the optimizer's state and the
generator are all as the epoch found them, or all as it left them, and training
resumed from there ends bit for bit where an uninterrupted run ends (NumPy).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, Adam, Callback
from agnostic_mlp.training.loop import FitRun

pytestmark = [pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                 reason="signals reach the main thread only"),
              pytest.mark.usefixtures("sigint_raises")]

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int)
EPOCHS, BATCH, INTERRUPTED = 3, 8, 1  # interrupt the second epoch: its optimizer has state
STEPS = 5  # batches per epoch


class Marker(Callback):
    """The first of the user's callbacks: where the window of the trials ends."""

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        return None


class SigintAt:
    """Counts the bytecodes the main thread runs from the end of epoch ``epoch``'s work to
    the first call of ``end``; sends SIGINT at the ``at``-th (never, for None)."""

    def __init__(self, epoch: int, at: int | None, end: CodeType) -> None:
        self.epoch, self.at, self.end = epoch, at, end
        self.epochs_seen = self.count = 0
        self.armed = self.sent = False
        self.where = ""  # the line the signal was sent at
        self.previous: Any = None

    @contextlib.contextmanager
    def watching(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        logs = FitRun._logs

        def _logs(run: FitRun, result: Any) -> Any:
            out = logs(run, result)
            self.epochs_seen += 1
            if self.epochs_seen == self.epoch + 1:
                self._arm(sys._getframe(1))
            return out

        self.previous = sys.gettrace()
        with monkeypatch.context() as patch:
            patch.setattr(FitRun, "_logs", _logs)
            try:
                yield
            finally:
                self._disarm()

    def _arm(self, frame: FrameType | None) -> None:
        self.armed = True
        # A collection's callbacks (JAX's, once imported) would run traced, and what is
        # raised in them is swallowed: collections wait until the window ends.
        self.collecting = gc.isenabled()
        gc.disable()
        sys.settrace(self._call)
        while frame is not None:  # the frames already running: run_epoch, fit, ...
            frame.f_trace, frame.f_trace_opcodes = self._opcode, True
            frame = frame.f_back

    def _disarm(self) -> None:
        if self.armed:
            self.armed = False
            if self.collecting:
                gc.enable()
            sys.settrace(self.previous)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not self.armed:
            return None
        if frame.f_code is self.end:
            self._disarm()
            return None
        frame.f_trace_opcodes = True
        return self._opcode

    def _opcode(self, frame: FrameType, event: str, arg: Any) -> Any:
        if not self.armed:
            return None
        if event == "opcode":
            self.count += 1
            if self.count == self.at:
                self.sent = True
                code = frame.f_code
                self.where = f"{code.co_filename}:{frame.f_lineno} ({code.co_name})"
                signal.raise_signal(signal.SIGINT)
        return self._opcode


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return bool(a == b)


def _optimizer_state(optimizer: Any) -> tuple[int, dict[str, list[np.ndarray]]]:
    state = optimizer.state
    return int(state.step), {k: [host(a) for a in v] for k, v in state.slots().items()}


# -- the native face: MLP.fit ---------------------------------------------------------------


def _model() -> MLP:
    return MLP(4, [6], 2, seed=3, dtype="float64", activation="tanh",
               loss="categorical_cross_entropy")


def _native_state(model: MLP, optimizer: Adam) -> Any:
    return ([host(p) for p in model.parameters()], _optimizer_state(optimizer),
            model.rng.bit_generator.state)


class Keep(Callback):
    """Every epoch's end: weights, optimizer, generator."""

    def __init__(self, optimizer: Adam) -> None:
        self.optimizer = optimizer
        self.kept: list[Any] = []

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        self.kept.append(_native_state(model, self.optimizer))


@pytest.mark.parametrize("checkpointed", [False, True], ids=["in memory", "checkpoint"])
def test_sigint_at_every_bytecode_of_the_commit_leaves_one_epoch_whole_and_resumes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkpointed: bool) -> None:
    reference, optimizer = _model(), Adam(0.01)
    keep = Keep(optimizer)
    reference.fit(X, LABELS, epochs=EPOCHS, batch_size=BATCH, optimizer=optimizer, verbose=0,
                  callbacks=keep)
    before, after, end = keep.kept[INTERRUPTED - 1], keep.kept[INTERRUPTED], keep.kept[-1]

    def fit(model: MLP, optimizer: Adam, path: Path | None, epochs: int = EPOCHS) -> None:
        model.fit(X, LABELS, epochs=epochs, batch_size=BATCH, optimizer=optimizer, verbose=0,
                  callbacks=Marker(), checkpoint=path)

    outcomes: Counter[str] = Counter()
    # With a checkpoint, every seventh bytecode (each trial writes files); without, all.
    for at in itertools.count(1, 7 if checkpointed else 1):
        model, optimizer = _model(), Adam(0.01)
        path = tmp_path / f"{at}.ckpt" if checkpointed else None
        sigint = SigintAt(INTERRUPTED, at, Marker.on_epoch_end.__code__)
        with sigint.watching(monkeypatch):
            try:
                fit(model, optimizer, path)
            except KeyboardInterrupt:
                assert sigint.sent, "a KeyboardInterrupt of no signal"
            else:
                assert not sigint.sent, f"bytecode {at}, at {sigint.where}: no KeyboardInterrupt"
                break  # past the window: every bytecode of it was tried
        now = _native_state(model, optimizer)
        outcome = "before" if _same(now, before) else "after" if _same(now, after) else None
        assert outcome is not None, f"bytecode {at}, at {sigint.where}: weights, optimizer and " \
                                    "generator are not all of one epoch's end"
        outcomes[outcome] += 1
        if checkpointed:  # the same fit again resumes from the file
            fit(model, optimizer, path)
        else:  # the same optimizer continues for the epochs left
            fit(model, optimizer, None, EPOCHS - optimizer.iterations // STEPS)
        assert _same(_native_state(model, optimizer), end), f"bytecode {at}, at {sigint.where}"
    # The window spans both sides of the commit.
    assert at > 200 and min(outcomes["before"], outcomes["after"]) > 10, outcomes


# -- the estimators: a Ctrl-C ends fit with the record's weights, optimizer, generator ----


def _estimator(random_state: Any, **params: Any) -> Any:
    from agnostic_mlp import MLPClassifier

    return MLPClassifier(**{**dict(hidden_layer_sizes=(6,), max_iter=EPOCHS, batch_size=BATCH,
                                   tol=0.0, n_iter_no_change=100, callbacks=[Marker()]),
                            "random_state": random_state, **params})


def _estimator_state(est: Any, rng: np.random.RandomState | None) -> Any:
    generator = None if rng is None else rng.get_state()
    return ([*est.coefs_, *est.intercepts_], _optimizer_state(est._optimizer), est.n_iter_,
            list(est.loss_curve_), generator)


@pytest.mark.parametrize("checkpointed", [False, True], ids=["in memory", "checkpoint"])
def test_an_estimator_interrupted_across_the_commit_keeps_one_epoch_whole(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, checkpointed: bool) -> None:
    """Interrupted, ``fit`` returns (scikit-learn's "Training interrupted by user."), and the
    weights, the optimizer, the generator and the record are all of one epoch."""
    pytest.importorskip("sklearn")
    warnings.simplefilter("ignore")  # ConvergenceWarning; the interrupt's warning
    states = []
    for epochs in (INTERRUPTED, INTERRUPTED + 1, EPOCHS):
        rng = np.random.RandomState(0)
        states.append(_estimator_state(_estimator(rng, max_iter=epochs).fit(X, LABELS), rng))
    before, after, end = states
    outcomes: Counter[str] = Counter()
    # Every third bytecode; with a checkpoint (each trial writes files), every 23rd.
    for at in itertools.count(1, 23 if checkpointed else 3):
        # A checkpoint takes an int seed (a RandomState's draws are not a fingerprint).
        rng = None if checkpointed else np.random.RandomState(0)
        path = tmp_path / f"{at}.ckpt" if checkpointed else None
        est = _estimator(0 if rng is None else rng, checkpoint=path)
        sigint = SigintAt(INTERRUPTED, at, Marker.on_epoch_end.__code__)
        with sigint.watching(monkeypatch):
            est.fit(X, LABELS)
        if not sigint.sent:
            break
        now = _estimator_state(est, rng)
        ref_before, ref_after = (before, after) if rng else ((*before[:-1], None),
                                                              (*after[:-1], None))
        outcome = "before" if _same(now, ref_before) else "after" if _same(
            now, ref_after) else None
        assert outcome is not None, f"bytecode {at}, at {sigint.where}: weights, optimizer, " \
                                    "generator and record are not all of one epoch's end"
        outcomes[outcome] += 1
        if checkpointed:
            resumed = _estimator(0, checkpoint=path).fit(X, LABELS)
            assert _same(_estimator_state(resumed, None)[:-1], end[:-1]), f"bytecode {at}"
    assert at > 500 and min(outcomes["before"], outcomes["after"]) > 10, outcomes


# -- a Ctrl-C as a divergence is handled: the generator is put back whole ------------------


class AtError(Callback):
    """Where the window of the divergence trials ends: fit's error callbacks."""

    def on_train_error(self, model: Any, error: BaseException) -> None:
        return None


def test_sigint_while_a_divergence_is_handled_puts_the_generator_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """From the divergence's replay to fit's error callbacks: the model keeps the last
    finite weights with their optimizer state (or, interrupted before, the epoch's
    start), and the generator is always as the epoch found it."""
    from agnostic_mlp import SGD, DivergenceError

    x = RNG.normal(size=(40, 4)) * 1e150  # the first batch's loss is infinite

    def diverging() -> tuple[MLP, Any]:
        model = MLP(4, [6], 1, seed=3, dtype="float64", output_activation="identity")
        return model, SGD(1e10)

    model, optimizer = diverging()
    start = ([host(p) for p in model.parameters()], model.rng.bit_generator.state)
    with pytest.raises(DivergenceError):
        model.fit(x, x[:, :1] ** 2, epochs=2, batch_size=8, optimizer=optimizer, verbose=0)
    kept = [host(p) for p in model.parameters()], optimizer.iterations
    diverged = FitRun._diverged
    outcomes: Counter[str] = Counter()
    for at in itertools.count(1, 2):  # every other bytecode
        model, optimizer = diverging()
        sigint = SigintAt(0, at, AtError.on_train_error.__code__)

        def arm(run: FitRun, *args: Any, sigint: SigintAt = sigint) -> Any:
            sigint._arm(sys._getframe(0))
            return diverged(run, *args)

        with monkeypatch.context() as patch:
            patch.setattr(FitRun, "_diverged", arm)
            try:
                model.fit(x, x[:, :1] ** 2, epochs=2, batch_size=8, optimizer=optimizer,
                          verbose=0, callbacks=AtError())
            except KeyboardInterrupt:
                assert sigint.sent
            except DivergenceError:
                assert not sigint.sent
                break
            finally:
                sigint._disarm()
        where = f"bytecode {at}, at {sigint.where}"
        assert model.rng.bit_generator.state == start[1], where
        now = [host(p) for p in model.parameters()]
        if _same(now, start[0]) and optimizer.state is None:
            outcomes["before"] += 1
        else:
            assert _same(now, kept[0]) and optimizer.iterations == kept[1], where
            outcomes["kept"] += 1
    assert at > 500 and min(outcomes.values()) > 10, outcomes
