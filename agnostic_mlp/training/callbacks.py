"""Callbacks: what ``fit`` does at the edges of epochs, beyond training.

Early stopping, learning-rate reduction, progress and (in ``tutorial.py``)
the tutorial's printing are callbacks; so are plain callables
``f(model, epoch, logs)``. A callback that keeps state saves it with
:meth:`Callback.state_dict` (JSON) and :meth:`Callback.state_arrays`, so a
checkpoint resumes it exactly; its :meth:`~Callback.get_config` is part of
what a checkpoint must match.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from .._typing import Array
from ..components import Component
from ..constraints import BOOLEAN, NONE, InstanceOf, Integer, Options, Real, check
from ..errors import InvalidArgumentError
from .run import RunState, RunView

__all__ = [
    "Callback",
    "EarlyStopping",
    "LambdaCallback",
    "Progress",
    "ReduceLROnPlateau",
    "as_callbacks",
]


class Callback(Component):
    """Hooks called by ``fit``; return True from :meth:`on_epoch_end` to stop.

    Attributes
    ----------
    run : RunView
        The ``fit`` call, read-only, set before :meth:`on_train_begin`: its
        ``model``, ``optimizer``, ``history``, ``epochs``, ``metrics`` (the names
        the epoch's logs will have), ``spec``, ...
    reports : bool
        Whether it only reports (prints, draws) and changes nothing: when
        training runs across processes, the first process alone calls it.
    follows_batches : bool
        Whether its :meth:`on_batches`, if overridden, is called.
    """

    # None until set_run: the view is what a callback reads while a fit runs.
    run: RunView = cast(RunView, None)
    reports = False
    #: Whether :meth:`on_batches`, if overridden, is called (a display turns it off
    #: where it shows nothing within an epoch: one call a batch costs a little).
    follows_batches = True

    @property
    def name(self) -> str:  # type: ignore[override]
        return type(self).__name__

    @property
    def stateful(self) -> bool:
        """Whether it keeps state that a checkpoint saves (it overrides :meth:`state_dict`)."""
        return type(self).state_dict is not Callback.state_dict

    def set_run(self, run: RunView) -> None:
        """Called first, with the ``fit`` call; refuse settings that cannot apply to it here."""
        self.run = run

    def __getstate__(self) -> dict[str, Any]:
        # The fit call it last served (its model, data, modules) is not part of it: a
        # callback (an estimator's parameter) pickles, copies and clones without it.
        state = dict(self.__dict__)
        state.pop("run", None)
        return state

    def on_train_begin(self, model: Any) -> None:
        """Called once before the first epoch."""

    def resume(self, model: Any) -> RunState | None:
        """Called after every :meth:`on_train_begin`: a saved state for the loop to commit
        (a checkpoint's), or None."""
        return None

    def on_batches(self, model: Any, epoch: int, done: int, total: int) -> None:
        """Called during an epoch as its batches are handed to the device: ``done`` of
        ``total`` so far (a count on the host: nothing waits for the device, and the
        epoch's numbers are not known yet). After every batch, or every block of
        batches a backend compiles; keep it cheap (a display throttles itself).
        Nothing of the model may change here: the epoch is not committed."""

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after each epoch with its ``logs`` (``loss``, ``val_loss``, ...)."""
        return None

    def on_train_end(self, model: Any) -> None:
        """Called once after the last epoch."""

    def on_train_error(self, model: Any, error: BaseException) -> None:
        """Called when ``fit`` stops on an exception (an interrupt, a divergence, ...)."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback has learnt during ``fit``, as JSON data, for a checkpoint."""
        return {}

    def state_arrays(self) -> dict[str, list[Array]]:
        """Arrays of its state (lists of device arrays), for a checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any], arrays: dict[str, list[Array]]) -> None:
        """Resume from what :meth:`state_dict` and :meth:`state_arrays` gave."""


class LambdaCallback(Callback):
    """A plain callable ``f(model, epoch, logs)`` as a callback; True stops training."""

    def __init__(self, on_epoch_end: Callable[[Any, int, dict[str, float]], Any]) -> None:
        self.function = on_epoch_end

    def get_config(self) -> dict[str, Any]:
        return {"function": getattr(self.function, "__qualname__", repr(self.function))}

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> bool | None:
        return self.function(model, epoch, logs) is True


def as_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` (None, one callback or callable, or a sequence of them) as a list.

    Raises
    ------
    InvalidArgumentError
        For anything else; the message names ``callbacks``.
    """
    if callbacks is None:
        return []
    single = isinstance(callbacks, Callback) or (
        callable(callbacks) and not isinstance(callbacks, (list, tuple)))
    items = [callbacks] if single else callbacks
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise InvalidArgumentError(
            f"callbacks must be a Callback, a callable f(model, epoch, logs), or a list of "
            f"them, got {items!r}")
    out: list[Callback] = []
    for i, cb in enumerate(items):
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(LambdaCallback(cb))
        else:
            raise InvalidArgumentError(
                f"callbacks[{i}] must be a Callback or a callable f(model, epoch, logs), "
                f"got {cb!r}")
    return out


def _encode(x: float) -> float | str:
    # Plain JSON has no inf or NaN: they travel as strings.
    return x if math.isfinite(x) else str(x)


def _decode(value: Any, what: str) -> float:
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    return check(value, what, Real())


class _Monitor(Callback):
    """Shared by callbacks that watch one logged number for improvement."""

    def __init__(self, monitor: str | None, mode: str, min_delta: float) -> None:
        self.monitor = check(monitor, "monitor", NONE, InstanceOf(str))
        self.mode = check(mode, "mode", Options(("auto", "min", "max")))
        self.min_delta = check(min_delta, "min_delta", Real(0.0))
        self.best = math.inf  # the monitored value times sign: smaller is better
        self.wait = 0
        self.watched = ""

    def set_run(self, run: RunView) -> None:
        super().set_run(run)
        watched = self.monitor or ("val_loss" if "val_loss" in run.metrics else "loss")
        if watched not in run.metrics:
            raise InvalidArgumentError(
                f"{type(self).__name__}(monitor={watched!r}) is not among this fit's logs "
                f"{list(run.metrics)}")
        self.watched = watched

    def sign(self) -> float:
        """+1 where smaller is better, -1 where larger is."""
        larger = self.mode == "max" or (self.mode == "auto" and self.watched.endswith("accuracy"))
        return -1.0 if larger else 1.0

    def improved(self, logs: Mapping[str, float]) -> bool:
        """Whether this epoch beat the best by ``min_delta``; keeps the count of epochs since."""
        current = logs[self.watched] * self.sign()
        if current < self.best - self.min_delta:
            self.best, self.wait = current, 0
            return True
        self.wait += 1
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": _encode(self.best), "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any], arrays: dict[str, list[Array]]) -> None:
        self.best = _decode(state["best"], "best")
        self.wait = check(state["wait"], "wait", Integer(0))


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        The least change that counts as an improvement.
    monitor : str, optional
        A log name; ``"val_loss"`` when there is validation data, else ``"loss"``.
    restore_best_weights : bool
        End with the weights of the best epoch.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` maximises accuracies and
        minimises losses, as Keras.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, monitor: str | None = None,
                 restore_best_weights: bool = True, mode: str = "auto") -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = check(patience, "patience", Integer(0))
        self.restore_best_weights = check(restore_best_weights, "restore_best_weights",
                                          BOOLEAN)
        self.best_params: Any = None

    def get_config(self) -> dict[str, Any]:
        return {"patience": self.patience, "min_delta": self.min_delta,
                "monitor": self.monitor, "restore_best_weights": self.restore_best_weights,
                "mode": self.mode}

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights are kept (the run's history keeps it)."""
        return None if self.run is None else self.run.history.best_epoch

    def on_train_begin(self, model: Any) -> None:
        self.best, self.wait, self.best_params = math.inf, 0, None

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> bool:
        if self.improved(logs):
            self.run.history.best_epoch = epoch
            if self.restore_best_weights:
                self.best_params = model.params  # committed parameters never change in place
            return False
        return self.wait >= self.patience

    def on_train_end(self, model: Any) -> None:
        if self.restore_best_weights and self.best_params is not None:
            model.commit(self.best_params)

    def state_arrays(self) -> dict[str, list[Array]]:
        return {"best": list(self.best_params.flat())} if self.best_params is not None else {}

    def load_state_dict(self, state: dict[str, Any], arrays: dict[str, list[Array]]) -> None:
        super().load_state_dict(state, arrays)
        self.best_params = self.run.model.params.like(arrays["best"]) if "best" in arrays \
            else None


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving, as Keras.

    Parameters
    ----------
    factor : float
        In (0, 1): the new rate is ``rate * factor``.
    patience : int
        Epochs without improvement before a reduction.
    min_lr : float
        The rate is never reduced below this.
    monitor, mode, min_delta
        As :class:`EarlyStopping`.

    The optimizer's rate must be a number (not a schedule). The reduced rate is
    the optimizer's, so a checkpoint saves it and a resumed run continues with it.
    """

    def __init__(self, factor: float = 0.1, patience: int = 10, min_lr: float = 0.0,
                 monitor: str | None = None, mode: str = "auto",
                 min_delta: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.factor = check(factor, "factor", Real(0.0, 1.0, low_open=True, high_open=True))
        self.patience = check(patience, "patience", Integer(0))
        self.min_lr = check(min_lr, "min_lr", Real(0.0))

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "patience": self.patience, "min_lr": self.min_lr,
                "monitor": self.monitor, "mode": self.mode, "min_delta": self.min_delta}

    def set_run(self, run: RunView) -> None:
        super().set_run(run)
        if callable(run.optimizer.learning_rate):
            raise InvalidArgumentError(
                "ReduceLROnPlateau needs a constant learning rate, not a schedule")

    def on_train_begin(self, model: Any) -> None:
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> bool:
        if not self.improved(logs) and self.wait >= self.patience:
            optimizer = self.run.optimizer
            optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
            self.wait = 0
        return False


class Progress(Callback):
    """A progress bar (tqdm, ``verbose=1``, if installed) or a line per epoch (``verbose=2``).

    The bar counts batches: it moves within an epoch as the batches are handed
    to the device (no wait for the device), and shows the epoch and, after
    each, its logs.
    """

    reports = True

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = check(verbose, "verbose", Options((0, 1, 2)))
        self.bar: Any = None
        self.steps = 1  # batches an epoch
        self.shown = 0  # the epoch the bar names

    def get_config(self) -> dict[str, Any]:
        return {"verbose": self.verbose}

    def on_train_begin(self, model: Any) -> None:
        self.bar = None
        self.follows_batches = False
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            run = self.run
            self.steps, self.shown = max(1, int(run.counts.steps)), run.epoch
            self.bar = tqdm(total=run.epochs * self.steps, unit="batch", file=sys.stderr,
                            leave=True, initial=run.epoch * self.steps,
                            desc=f"epoch {min(run.epoch + 1, run.epochs)}/{run.epochs}")
            self.follows_batches = True

    def on_batches(self, model: Any, epoch: int, done: int, total: int) -> None:
        bar = self.bar
        if bar is not None:  # tqdm redraws at most every mininterval
            if epoch != self.shown:
                self.shown = epoch
                bar.set_description_str(f"epoch {epoch + 1}/{self.run.epochs}", refresh=False)
            bar.update(epoch * self.steps + min(done, self.steps) - bar.n)

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.verbose == 0:
            return
        text = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
        if self.bar is not None:
            bar = self.bar
            bar.set_postfix_str(text, refresh=False)
            bar.update((epoch + 1) * self.steps - bar.n)
        else:
            print(f"Epoch {epoch + 1}/{self.run.epochs} - {text}", flush=True)

    def on_train_end(self, model: Any) -> None:
        self._close()

    def on_train_error(self, model: Any, error: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
