"""The tutorial's surface, kept as the "MLP from scratch" tutorial wrote it.

``forward_propagate``, ``back_propagate``, ``gradient_descent``, ``train``,
``activations`` and ``derivatives`` keep their meaning on every backend, and
``train`` prints the tutorial's ``Error: ... at epoch ...`` lines. It is a
mixin over the model shell: nothing of it is allocated until it is used.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from ._typing import Array
from .activations import Activation
from .backends import Backend
from .constraints import BOOLEAN, NONE, InstanceOf, Options, Real, check, short
from .data import as_features, as_targets
from .engine import Objective, Params, forward_all, gradients
from .errors import DivergenceError, InvalidArgumentError
from .losses import MeanSquaredError
from .optimizers import SGD
from .training.callbacks import Callback, Progress
from .training.loop import Dataset, FitConfig
from .training.loop import fit as run_fit
from .training.parallel import Parallel

__all__ = ["TutorialError", "TutorialLog", "TutorialMixin", "TutorialProgress"]


class TutorialError(MeanSquaredError):
    """The tutorial's convention: reports the MSE, descends half the squared error.

    The gradient is that of ``0.5 * sum((y - a)**2)`` per sample, averaged over
    the batch, which is what the tutorial's ``back_propagate(target - output)``
    followed by ``gradient_descent`` applies.
    """

    name = "tutorial"

    def _factor(self, shape: tuple[int, ...]) -> float:
        return 1.0 / shape[0]


class TutorialLog(Callback):
    """Prints ``Error: <loss> at epoch <n>`` each epoch, then ``Training complete!``."""

    reports = True

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        print(f"Error: {logs['loss']} at epoch {epoch + 1}")

    def on_train_end(self, model: Any) -> None:
        print("Training complete!")
        print("=====")


class TutorialProgress(Callback):
    """A short progress display of the tutorial's error: one line redrawn in place on a
    terminal (moving within each epoch too, as its batches go), else a line at every
    fifth of the epochs; ``Training complete!`` at the end.
    """

    reports = True
    #: Seconds between two redraws within an epoch.
    interval = 0.1

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.error = ""  # the last epoch's, shown while the next one runs
        self.drawn = 0.0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, model: Any) -> None:
        self.follows_batches = self._out().isatty()  # elsewhere, five lines only
        self.error, self.drawn = "", time.monotonic()

    def _line(self, done: float, total: int) -> str:
        width = 20
        filled = int(width * done // total)
        return f"[{'#' * filled}{'.' * (width - filled)}] epoch {int(done)}/{total}{self.error}"

    def on_batches(self, model: Any, epoch: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.drawn >= self.interval:
            self.drawn = now
            out = self._out()
            out.write(f"\r{self._line(epoch + done / max(total, 1), self.run.epochs)}")
            out.flush()

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        out = self._out()
        done, total = epoch + 1, self.run.epochs
        self.error = f"  error {logs['loss']:.3g}"
        line = self._line(done, total)
        if out.isatty():
            out.write(f"\r{line}")
            out.flush()
        elif done == total or done % -(-total // 5) == 0:
            print(line, file=out, flush=True)

    def on_train_end(self, model: Any) -> None:
        out = self.stream if self.stream is not None else sys.stdout
        if out.isatty():
            out.write("\n")
        print("Training complete!", file=out, flush=True)


def _listed(values: Any, name: str) -> list[Array]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise InvalidArgumentError(f"{name} must be a list of arrays, got {short(values)}")
    return list(values)


class TutorialMixin:
    """The tutorial's methods and attributes, for the model shell they are mixed into."""

    # What the shell provides.
    runtime: Backend
    num_inputs: int
    num_outputs: int
    layer_activations: list[Activation]
    params: Params
    weights: tuple[Array, ...]
    rng: np.random.Generator
    commit: Callable[..., None]
    identity: Callable[[], dict[str, Any]]

    # -- stored by forward_propagate and back_propagate ----------------------------

    @property
    def activations(self) -> list[Array]:
        """Each layer's activations from the last ``forward_propagate`` (zeros before)."""
        stored = self.__dict__.get("_activations")
        if stored is None:
            rt = self.runtime
            stored = [rt.xp.zeros(n, dtype=rt.dtype, device=rt.device)
                      for n in [self.num_inputs, *(w.shape[1] for w in self.weights)]]
            self.__dict__["_activations"] = stored
        return stored

    @property
    def derivatives(self) -> list[Array]:
        """The weights' descent directions from the last ``back_propagate`` (zeros before)."""
        return self._tutorial_gradients()[0]

    @derivatives.setter
    def derivatives(self, values: list[Array]) -> None:
        self.__dict__["_derivatives"] = _listed(values, "derivatives")

    @property
    def bias_derivatives(self) -> list[Array]:
        """The biases' descent directions from the last ``back_propagate``."""
        return self._tutorial_gradients()[1]

    @bias_derivatives.setter
    def bias_derivatives(self, values: list[Array]) -> None:
        self.__dict__["_bias_derivatives"] = _listed(values, "bias_derivatives")

    def _tutorial_gradients(self) -> tuple[list[Array], list[Array]]:
        # Each allocated only when asked for, and not over one that was assigned.
        xp, params = self.runtime.xp, self.params
        if self.__dict__.get("_derivatives") is None:
            self.__dict__["_derivatives"] = [xp.zeros_like(w) for w in params.weights]
        if self.__dict__.get("_bias_derivatives") is None:
            self.__dict__["_bias_derivatives"] = [xp.zeros_like(b) for b in params.biases]
        return self.__dict__["_derivatives"], self.__dict__["_bias_derivatives"]

    # -- the tutorial's methods ------------------------------------------------------

    def forward_propagate(self, inputs: Any) -> Array:
        """Outputs for one sample (1-D) or a batch (2-D); stores ``activations``."""
        with self.runtime.context():
            x = as_features(self.runtime, inputs, self.num_inputs, "inputs", allow_1d=True)
            outs, _ = forward_all(self.runtime.xp, self.layer_activations, self.params, x)
            self.__dict__["_activations"] = outs
            return outs[-1]

    def back_propagate(self, error: Any) -> None:
        """Backpropagate ``error = target - output`` from the last forward pass.

        Stores in ``derivatives`` (and ``bias_derivatives``) the tutorial's
        descent direction, the negative gradient of half the squared error,
        averaged over the batch.
        """
        with self.runtime.context():
            xp = self.runtime.xp
            out = self.activations[-1]
            err = as_features(self.runtime, error, self.num_outputs, "error", allow_1d=True,
                              width="num_outputs")
            if tuple(err.shape) != tuple(out.shape):
                raise InvalidArgumentError(
                    f"error must have the shape of the last output {tuple(out.shape)}, "
                    f"got {tuple(err.shape)}")
            outs = [a if a.ndim == 2 else xp.reshape(a, (1, -1)) for a in self.activations]
            err = xp.reshape(err, tuple(outs[-1].shape)) / float(outs[-1].shape[0])
            delta = self.layer_activations[-1].backward(xp, outs[-1], err)
            grads = gradients(xp, self.layer_activations, self.params, outs, delta)
            self.__dict__["_derivatives"] = list(grads.weights)
            self.__dict__["_bias_derivatives"] = list(grads.biases)

    def gradient_descent(self, learningRate: float = 1) -> None:  # the tutorial's name
        """Step the parameters along ``derivatives``, as the tutorial does.

        Every derivative is checked (count, shape, finiteness) before any
        parameter changes; a step that would make a weight infinite raises
        :class:`~agnostic_mlp.DivergenceError` and changes nothing.
        """
        lr = check(learningRate, "learningRate", Real())
        with self.runtime.context():
            xp = self.runtime.xp
            params = self.params.flat()
            weights, biases = self._tutorial_gradients()
            steps = [*weights, *biases]
            names = [f"derivatives[{i}]" for i in range(len(weights))] + [
                f"bias_derivatives[{i}]" for i in range(len(biases))]
            if len(steps) != len(params):
                raise InvalidArgumentError(
                    f"derivatives and bias_derivatives hold {len(steps)} arrays for "
                    f"{len(params)} parameters")
            for name, p, d in zip(names, params, steps, strict=True):
                runtime = self.runtime
                if not (runtime.owns(d) and tuple(d.shape) == tuple(p.shape)
                        and d.dtype == p.dtype and runtime.same_device(d)):
                    raise InvalidArgumentError(
                        f"{name} must be an array of the model's backend, device and dtype "
                        f"({runtime.dtype_name}) with shape {tuple(p.shape)}, got "
                        f"{short(getattr(d, 'shape', d))} of {short(getattr(d, 'dtype', d))}")
            with self.runtime.training():  # an overflow is reported below, not warned of
                new = [p + d * lr for p, d in zip(params, steps, strict=True)]
                finite = xp.all(xp.stack([xp.all(xp.isfinite(a)) for a in [*steps, *new]]))
            if not bool(finite):
                raise DivergenceError(
                    "gradient_descent would make the weights NaN or infinite (or a derivative "
                    "is); they are left as they were. Try a smaller learning rate.",
                    epoch=0, batch=0)
            self.commit(self.params.like(new))

    def train(
        self,
        inputs: Any,
        targets: Any,
        epochs: int,
        learning_rate: float,
        *,
        batch_size: int = 1,
        shuffle: bool = False,
        verbose: bool | str = True,
        parallel: Parallel | None = None,
    ) -> list[float]:
        """Train as the tutorial does: SGD on half the squared error.

        Parameters
        ----------
        inputs, targets : array-like
            ``(n_samples, num_inputs)`` and ``(n_samples, num_outputs)`` (or 1-D
            for one output).
        epochs : int
            Passes over the data.
        learning_rate : float
            The step size.
        batch_size : int
            Samples per update (1, the tutorial's, by default); each update
            uses the mean of the per-sample derivatives.
        shuffle : bool
            Shuffle the samples each epoch (with the model's generator).
        verbose : bool or "progress"
            Print the error each epoch, as the tutorial does (the first process
            alone, across processes); ``"progress"``: a short progress display
            instead (one line redrawn on a terminal, else five lines).
        parallel : Parallel, optional
            Train across processes, as :meth:`~agnostic_mlp.Network.fit`.

        Returns
        -------
        list of float
            The mean squared error of each epoch, as the tutorial prints it.
        """
        with self.runtime.context():
            config = FitConfig(epochs=epochs, batch_size=batch_size, shuffle=shuffle)
            optimizer = SGD(check(learning_rate, "learning_rate", Real(0.0)))
            verbose = check(verbose, "verbose", BOOLEAN, Options(("progress",)))
            parallel = check(parallel, "parallel", NONE, InstanceOf(Parallel, "a Parallel"))
            x = as_features(self.runtime, inputs, self.num_inputs, "inputs")
            y = as_targets(self.runtime, targets, x.shape[0], self.num_outputs, "regression",
                           "targets", "inputs")
            objective = Objective(tuple(self.layer_activations), TutorialError())
            shown: dict[bool | str, list[Callback]] = {
                True: [TutorialLog()], False: [], "progress": [TutorialProgress()]}
            callbacks = [Progress(0), *shown[verbose]]
            with self.runtime.training():
                history = run_fit(self, optimizer, objective, Dataset(x, y), None, config,
                                  callbacks, parallel=parallel)
            return history.history["loss"]

