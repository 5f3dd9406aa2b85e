"""The training loop: mini-batches, validation, early stopping, callbacks, progress.

The data is moved to the device once. Within an epoch every batch's loss stays
on the device; one transfer per epoch brings back the epoch's numbers (losses,
accuracy, validation). Batches are drawn from the model's host generator, so
every backend sees the same batches in the same order.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import data
from .backends import to_numpy
from .errors import DivergenceError
from .losses import Loss
from .optimizers import LearningRate, Optimizer, check_learning_rate, get_optimizer

if TYPE_CHECKING:
    from os import PathLike

    from .model import MLP

__all__ = ["Callback", "EarlyStopping", "History", "fit"]


class Callback:
    """Hooks called by :func:`fit`; return True from ``on_epoch_end`` to stop."""

    def on_train_begin(self, model: MLP) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, model: MLP, epoch: int, logs: dict[str, float]) -> bool | None:
        """Called after each epoch with its ``logs`` (``loss``, ``val_loss``, ...)."""
        return None

    def on_train_end(self, model: MLP) -> None:
        """Called once after the last epoch."""


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor`` defaults to ``"val_loss"`` when there is validation data, else
    ``"loss"``. ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (maximise
    accuracies, minimise losses), as Keras. With ``restore_best_weights`` the
    model ends with the weights of its best epoch.
    """

    patience: int = 10
    min_delta: float = 0.0
    monitor: str | None = None
    restore_best_weights: bool = True
    mode: str = "auto"

    def __post_init__(self) -> None:
        self.patience = data.check_int(self.patience, "patience", 0)
        if not (isinstance(self.min_delta, (int, float)) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0, got {self.min_delta!r}")
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {self.mode!r}")

    def sign(self, monitor: str) -> float:
        """+1 where smaller is better, -1 where larger is."""
        larger = self.mode == "max" or (self.mode == "auto" and monitor.endswith("accuracy"))
        return -1.0 if larger else 1.0


@dataclass
class History:
    """What :func:`fit` returns: per-epoch ``history`` lists, as Keras's ``History``.

    Attributes
    ----------
    history : dict of str to list of float
        ``loss`` and, where they apply, ``accuracy``, ``val_loss``, ``val_accuracy``.
    epoch : list of int
        The epochs run (0-based).
    best_epoch : int or None
        With early stopping, the epoch whose weights the model kept.
    stopped_epoch : int or None
        The epoch after which training stopped early.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]


@dataclass
class FitState:
    """Everything a checkpoint needs to resume ``fit`` exactly."""

    epoch: int = 0
    history: History = field(default_factory=History)
    best: float = math.inf  # the monitored value times EarlyStopping.sign: smaller is better
    best_params: list[Any] | None = None
    wait: int = 0


def evaluate(model: MLP, x: Any, y: Any, loss: Loss) -> dict[str, Any]:
    """Loss (and accuracy for classifiers) of ``model`` on device arrays, left on the device."""
    xp = model.xp
    p, z = model._forward(x, store=False)
    out = {"loss": loss.value(xp, y, p, z)}
    if loss.classifier:
        out["accuracy"] = loss.correct(xp, y, p) / float(y.shape[0])
    return out


def _progress(verbose: int, epochs: int) -> Any:
    if verbose == 1:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=epochs, unit="epoch", file=sys.stderr, leave=True)
    return None


def fit(
    model: MLP,
    X: Any,
    y: Any,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str | Optimizer | None = None,
    learning_rate: LearningRate | None = None,
    shuffle: bool = True,
    validation_split: float = 0.0,
    validation_data: tuple[Any, Any] | None = None,
    early_stopping: bool | EarlyStopping = False,
    patience: int = 10,
    verbose: int = 1,
    callbacks: Sequence[Callback | Callable[..., Any]] = (),
    checkpoint: str | PathLike[str] | None = None,
    loss: Loss | None = None,
    tutorial_log: bool = False,
    names: tuple[str, str] = ("X", "y"),
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches.

    Parameters
    ----------
    X, y : array-like
        Features ``(n_samples, num_inputs)``; targets ``(n_samples, num_outputs)``,
        1-D for one output, or integer class labels for categorical cross-entropy.
    epochs : int
        Passes over the training data.
    batch_size : int
        Samples per gradient step.
    optimizer : str or Optimizer, optional
        ``"sgd"``, ``"adam"`` or an instance; the model's own by default. An
        instance (the model's own included) keeps its state between calls to
        ``fit``, as in Keras and PyTorch; a name builds a fresh one.
    learning_rate : float or callable, optional
        Sets the optimizer's learning rate, which it keeps (a schedule: a
        callable of the step number).
    shuffle : bool
        Shuffle the training samples every epoch with the model's generator.
    validation_split : float
        Fraction of samples, taken from the end (before shuffling, as Keras),
        held out for validation.
    validation_data : (X_val, y_val), optional
        Explicit validation data; takes precedence over ``validation_split``.
    early_stopping : bool or EarlyStopping
        Stop when the monitored loss stops improving; True uses ``patience``.
    patience : int
        Epochs without improvement before stopping, when ``early_stopping=True``.
    verbose : int
        0 silent, 1 a progress bar (tqdm if installed, else a line per epoch),
        2 a line per epoch.
    callbacks : sequence
        :class:`Callback` objects, or callables ``f(model, epoch, logs)``; either
        stops training by returning True.
    checkpoint : path, optional
        Save a checkpoint there after each epoch; if one from the same run
        (same architecture, data size, batch size, loss, optimizer and seed)
        exists, resume from it. A checkpoint from another run, or a damaged
        one, raises :class:`~agnostic_mlp.ModelFileError` before training.
    loss : Loss, optional
        Overrides the model's loss (the tutorial's ``train`` uses its own).
    tutorial_log : bool
        Print the tutorial's ``Error: ... at epoch ...`` lines.
    names : (str, str)
        What errors call ``X`` and ``y`` (the tutorial's ``train`` says inputs, targets).

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        For bad arguments or data, before the model is changed.
    ModelFileError
        If ``checkpoint`` names a damaged checkpoint or one of another run.
    DivergenceError
        If the loss or the weights become NaN or infinite; the model keeps its
        last finite weights (those the failing batch started from, or earlier).
    """
    with model._backend.context():  # CuPy works on its current device
        return _fit(model, X, y, epochs, batch_size, optimizer, learning_rate, shuffle,
                    validation_split, validation_data, early_stopping, patience, verbose,
                    list(callbacks), checkpoint, loss, tutorial_log, names)


def _fit(
    model: MLP, X: Any, y: Any, epochs: Any, batch_size: Any, optimizer: Any,
    learning_rate: Any, shuffle: Any, validation_split: Any, validation_data: Any,
    early_stopping: Any, patience: Any, verbose: Any, callbacks: list[Any], checkpoint: Any,
    loss: Loss | None, tutorial_log: bool, names: tuple[str, str],
) -> History:
    loss = loss if loss is not None else model.loss
    epochs = data.check_int(epochs, "epochs", 1)
    batch_size = data.check_int(batch_size, "batch_size", 1)
    if verbose not in (0, 1, 2) and not isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    verbose = int(verbose)
    if not isinstance(shuffle, bool):
        raise ValueError(f"shuffle must be True or False, got {shuffle!r}")
    if not (isinstance(validation_split, (int, float)) and 0.0 <= validation_split < 1.0):
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")
    if isinstance(early_stopping, bool):
        stopper = EarlyStopping(patience=patience) if early_stopping else None
    elif isinstance(early_stopping, EarlyStopping):
        stopper = early_stopping
    else:
        raise ValueError(f"early_stopping must be a bool or EarlyStopping, got {early_stopping!r}")
    for cb in callbacks:
        if not (isinstance(cb, Callback) or callable(cb)):
            raise TypeError(f"callbacks must hold Callback objects or callables, got {cb!r}")
    opt = get_optimizer(optimizer if optimizer is not None else model.optimizer)
    if learning_rate is not None:
        check_learning_rate(learning_rate)  # now; it is set only once all else is checked

    backend = model._backend
    kind = loss.target_kind
    x_name, y_name = names
    x = data.as_features(backend, X, model.num_inputs, x_name)
    t = data.as_targets(backend, y, x.shape[0], model.num_outputs, kind, y_name)
    val = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        xv = data.as_features(backend, validation_data[0], model.num_inputs, "validation_data[0]")
        tv = data.as_targets(backend, validation_data[1], xv.shape[0], model.num_outputs, kind,
                             "validation_data[1]")
        val = (xv, tv)
    elif validation_split > 0:
        n_val = int(x.shape[0] * validation_split)
        if n_val < 1 or n_val >= x.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} leaves {n_val} validation and "
                f"{x.shape[0] - n_val} training samples; both need at least one"
            )
        val = (x[-n_val:, ...], t[-n_val:, ...])
        x, t = x[:-n_val, ...], t[:-n_val, ...]
    monitor = None
    if stopper is not None:
        monitor = stopper.monitor or ("val_loss" if val is not None else "loss")
        logged = ["loss", "accuracy"] if loss.classifier else ["loss"]
        logged += [f"val_{k}" for k in logged] if val is not None else []
        if monitor not in logged:
            raise ValueError(
                f"EarlyStopping(monitor={monitor!r}) is not among this fit's logs {logged}"
            )
    loop = _Loop(model, x, t, val, loss, opt, batch_size, shuffle, stopper, monitor)
    state = FitState()
    previous_rate = opt.learning_rate
    if learning_rate is not None:
        opt.learning_rate = learning_rate  # kept by the optimizer, as Keras's assignment
    if checkpoint is not None:
        from .persistence import load_checkpoint

        try:
            resumed = load_checkpoint(checkpoint, model, opt, loop.fingerprint())
        except BaseException:
            opt.learning_rate = previous_rate  # a call that fails changes nothing
            raise
        if resumed is not None:
            state = resumed
    return loop.run(state, epochs, verbose, tutorial_log, callbacks, checkpoint)


class _Loop:
    """One call of ``fit``: the data on the device and the epoch loop over it."""

    def __init__(
        self, model: MLP, x: Any, t: Any, val: tuple[Any, Any] | None, loss: Loss,
        opt: Optimizer, batch_size: int, shuffle: bool, stopper: EarlyStopping | None,
        monitor: str | None,
    ) -> None:
        self.model, self.x, self.t, self.val, self.loss, self.opt = model, x, t, val, loss, opt
        self.batch_size, self.shuffle, self.stopper, self.monitor = (
            batch_size, shuffle, stopper, monitor)
        self.n = int(x.shape[0])
        self.n_batches = -(-self.n // batch_size)

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a checkpoint to belong to this run."""
        m = self.model
        return {
            "layers": m.layers, "n_samples": self.n, "batch_size": self.batch_size,
            "shuffle": self.shuffle, "loss": self.loss.name,
            "optimizer": type(self.opt).__name__, "seed": m.seed,
        }

    def _order(self) -> Any:
        if not self.shuffle:
            return None
        perm = self.model.rng.permutation(self.n)
        xp = self.model.xp
        return xp.asarray(perm, device=self.model.device)

    def _batch(self, order: Any, b: int) -> tuple[Any, Any]:
        """Batch ``b`` of a shuffled epoch: gathered rows (a copy)."""
        xp = self.model.xp
        idx = order[b * self.batch_size:min((b + 1) * self.batch_size, self.n)]
        return xp.take(self.x, idx, axis=0), xp.take(self.t, idx, axis=0)

    def _batches(self, order: Any, start: int, stop: int, values: list[Any],
                 hits: list[Any]) -> None:
        model, loss, opt, xp = self.model, self.loss, self.opt, self.model.xp
        step, x, t, bs, n = model._step, self.x, self.t, self.batch_size, self.n
        classifier = loss.classifier
        for b in range(start, stop):
            if order is None:  # slices are views: no copy
                lo, hi = b * bs, min((b + 1) * bs, n)  # the standard forbids stops past the end
                xb, tb = x[lo:hi, ...], t[lo:hi, ...]
            else:
                xb, tb = self._batch(order, b)
            values.append(step(xb, tb, loss, opt))
            if classifier:
                hits.append(loss.correct(xp, tb, model.activations[-1]))

    def _snapshot(self) -> tuple[list[Any], list[list[Any]], int]:
        xp = self.model.xp
        params = [xp.asarray(p, copy=True) for p in self.model.parameters()]
        state = [[xp.asarray(s, copy=True) for s in group] for group in self.opt.state]
        return params, state, self.opt.iterations

    def _restore(self, snap: tuple[list[Any], list[list[Any]], int]) -> None:
        xp = self.model.xp
        params, state, iterations = snap
        self.model._set_parameters([xp.asarray(p, copy=True) for p in params])
        self.opt.state = [[xp.asarray(s, copy=True) for s in group] for group in state]
        self.opt.iterations = iterations

    def _diverged(self, snap: Any, order: Any, epoch: int, bad_loss: int | None) -> None:
        """Rewind to the last finite weights, then raise.

        ``snap`` holds the epoch's starting weights, known finite; the epoch is
        replayed from it one batch at a time (its batches are known) up to the
        batch whose loss was not finite (``bad_loss``) or whose update made the
        weights non-finite, whichever comes first. Only this failure path syncs
        per batch.
        """
        xp = self.model.xp
        self._restore(snap)
        stop = self.n_batches if bad_loss is None else bad_loss
        bad = min(stop, self.n_batches - 1)
        for b in range(stop):
            before = self._snapshot()
            self._batches(order, b, b + 1, [], [])
            if not all(bool(xp.all(xp.isfinite(p))) for p in self.model.parameters()):
                self._restore(before)
                bad = b
                break
        raise DivergenceError(
            f"training diverged: the loss or the weights became NaN or infinite at epoch "
            f"{epoch + 1}, batch {bad + 1} of {self.n_batches}; the model keeps its last "
            "finite weights, those that batch started from. Try a smaller learning rate or "
            "scaling the inputs.",
            epoch=epoch, batch=bad,
        )

    def run(self, state: FitState, epochs: int, verbose: int, tutorial_log: bool,
            callbacks: list[Any], checkpoint: Any) -> History:
        model, xp = self.model, self.model.xp
        history = state.history
        if history.stopped_epoch is not None:  # resumed from a run that had stopped early
            epochs = state.epoch
        for cb in callbacks:
            if isinstance(cb, Callback):
                cb.on_train_begin(model)
        bar = _progress(verbose, epochs)
        if bar is not None:
            bar.update(state.epoch)
        stop = False
        try:
            for epoch in range(state.epoch, epochs):
                order = self._order()
                snap = self._snapshot()
                values: list[Any] = []
                hits: list[Any] = []
                self._batches(order, 0, self.n_batches, values, hits)
                logs = self._epoch_logs(values, hits)
                sample_losses = logs.pop("_sample_losses")
                if not math.isfinite(logs["loss"]):
                    bad = int(np.argmin(np.isfinite(sample_losses))) // self.batch_size
                    self._diverged(snap, order, epoch, bad)
                if not logs.pop("_weights_finite"):  # an update overflowed, the losses did not
                    self._diverged(snap, order, epoch, None)
                for key, value in logs.items():
                    history.history.setdefault(key, []).append(value)
                history.epoch.append(epoch)
                state.epoch = epoch + 1
                self._report(bar, verbose, tutorial_log, epoch, epochs, logs)
                if self.stopper is not None and self._early_stop(state, epoch, logs):
                    stop = True
                for cb in callbacks:
                    result = (cb.on_epoch_end(model, epoch, logs) if isinstance(cb, Callback)
                              else cb(model, epoch, logs))
                    stop = stop or result is True
                if stop:  # before the checkpoint, so a rerun of a finished run stops too
                    history.stopped_epoch = epoch
                if checkpoint is not None:
                    from .persistence import save_checkpoint

                    save_checkpoint(checkpoint, model, self.opt, state,
                                    self.fingerprint())
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
        if self.stopper is not None and self.stopper.restore_best_weights and (
                state.best_params is not None):
            model._set_parameters([xp.asarray(p, copy=True) for p in state.best_params])
        for cb in callbacks:
            if isinstance(cb, Callback):
                cb.on_train_end(model)
        if tutorial_log:
            print("Training complete!")
            print("=====")
        return history

    def _epoch_logs(self, values: list[Any], hits: list[Any]) -> dict[str, Any]:
        """This epoch's numbers, brought to the host in one transfer."""
        model, xp = self.model, self.model.xp
        finite = [xp.all(xp.isfinite(p)) for p in model.parameters()]
        parts = [xp.concat(values), xp.astype(xp.stack(finite), model.dtype)]
        if hits:
            parts.append(xp.stack(hits))
        if self.val is not None:
            metrics = evaluate(model, self.val[0], self.val[1], self.loss)
            parts.append(xp.stack([xp.astype(v, model.dtype) for v in metrics.values()]))
        host = to_numpy(xp.concat(parts)).astype(np.float64)
        n, nb = self.n, self.n_batches
        sample_losses = host[:n]
        logs: dict[str, Any] = {"loss": float(sample_losses.sum() / self.loss.divisor(self.t))}
        n_params = len(finite)
        weights_finite = bool(host[n:n + n_params].all())
        pos = n + n_params
        if hits:
            logs["accuracy"] = float(host[pos:pos + nb].sum() / self.n)
            pos += nb
        if self.val is not None:
            logs["val_loss"] = float(host[pos])
            if self.loss.classifier:
                logs["val_accuracy"] = float(host[pos + 1])
        logs["_sample_losses"] = sample_losses
        logs["_weights_finite"] = weights_finite
        return logs

    def _early_stop(self, state: FitState, epoch: int, logs: dict[str, float]) -> bool:
        assert self.stopper is not None and self.monitor is not None
        current = logs[self.monitor] * self.stopper.sign(self.monitor)
        if current < state.best - self.stopper.min_delta:
            state.best, state.wait = current, 0
            state.history.best_epoch = epoch
            if self.stopper.restore_best_weights:
                xp = self.model.xp
                state.best_params = [xp.asarray(p, copy=True) for p in self.model.parameters()]
            return False
        state.wait += 1
        return state.wait >= self.stopper.patience

    def _report(self, bar: Any, verbose: int, tutorial_log: bool, epoch: int, epochs: int,
                logs: dict[str, float]) -> None:
        if tutorial_log:
            print(f"Error: {logs['loss']} at epoch {epoch + 1}")
        if verbose == 0:
            return
        text = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
        if bar is not None:
            bar.set_postfix_str(text, refresh=False)
            bar.update(1)
        else:
            print(f"Epoch {epoch + 1}/{epochs} - {text}", flush=True)
