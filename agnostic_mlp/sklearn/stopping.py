"""scikit-learn's end-of-epoch rules, as a callback of the library's loop.

After each epoch, in scikit-learn's order (``_fit_stochastic``,
``_update_no_improvement_count``):

1. ``n_iter_``, ``t_`` (samples seen), ``loss_`` and ``loss_curve_`` grow;
2. the no-improvement count follows the training loss (``tol``), or with early
   stopping the validation score, whose best weights are kept;
3. ``invscaling`` SGD sets its rate from ``t_``;
4. past ``n_iter_no_change`` epochs without improvement, training stops, or
   (``adaptive`` SGD) the rate is divided by 5 and training goes on.

The record (:class:`Progress`) and the weights it belongs to are updated
together, with Ctrl-C held back, and so are the optimizer's state and the
shuffle's that go with them: whatever interrupts the run (even after the loop
committed an epoch this record has not counted yet), the estimator takes the
record's weights, optimizer and generator together (:meth:`SklearnStopping.rewind`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..engine import Params
from ..optimizers import Optimizer
from ..training.callbacks import Callback
from ..training.interrupts import deferred_interrupts
from ..training.loop import Order
from .optimizers import SklearnSGD

__all__ = ["Progress", "SklearnStopping"]


@dataclass
class Progress:
    """What scikit-learn keeps about the solver's run between calls (the fitted attributes)."""

    n_iter: int = 0
    t: int = 0
    loss: float | None = None
    loss_curve: list[float] = field(default_factory=list)
    best_loss: float | None = math.inf
    validation_scores: list[float] | None = None
    best_validation_score: float | None = None
    validation_loss_curve: list[float] | None = None
    no_improvement_count: int = 0
    best_params: Params | None = None


class SklearnStopping(Callback):
    """scikit-learn's ``tol``, ``n_iter_no_change``, best weights, rate rules and verbose lines.

    Parameters
    ----------
    progress : Progress
        The record so far (the previous fit's, with ``warm_start``); updated in place.
    params : Params
        The weights it belongs to.
    tol, n_iter_no_change, verbose
        scikit-learn's.
    validation_losses : list of float, optional
        With early stopping, the held-out loss of each epoch so far, appended by the
        loop's validation score before the callbacks run (``ValidationScore.losses``).
    order : Order, optional
        What draws the epochs' order (the estimator's shuffle), whose state is
        kept with the record.
    """

    def __init__(self, progress: Progress, params: Params, tol: float, n_iter_no_change: float,
                 verbose: bool, validation_losses: list[float] | None = None,
                 order: Order | None = None) -> None:
        self.progress, self.params = progress, params
        self.validation_losses = validation_losses
        self.tol, self.n_iter_no_change, self.verbose = tol, n_iter_no_change, verbose
        self.order = order
        self.stopped = False
        # The optimizer's state and the order's state that go with the record's weights.
        self._kept: tuple[Any, Any] | None = None

    def on_train_begin(self, model: Any) -> None:
        self._kept = (self.run.optimizer.state, self._order_state())

    def _order_state(self) -> Any:
        return None if self.order is None else self.order.state()

    def rewind(self) -> None:
        """Put the optimizer's state and the order's back to those of the record's weights.

        After an interrupt: the loop may have committed an epoch (weights,
        optimizer, generator) that this record has not counted yet.
        """
        if self._kept is None:  # interrupted before training began: nothing moved
            return
        state, order = self._kept
        with deferred_interrupts():
            self.run.optimizer.state = state
            if self.order is not None:
                self.order.restore(order)

    def get_config(self) -> dict[str, Any]:
        return {"tol": self.tol, "n_iter_no_change": self.n_iter_no_change,
                "verbose": self.verbose}

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> bool:
        optimizer: Optimizer = self.run.optimizer
        progress = dataclasses.replace(self.progress, loss_curve=list(self.progress.loss_curve))
        loss, score = logs["loss"], logs.get("val_score")
        progress.n_iter += 1
        progress.loss = loss
        progress.t += self.run.counts.samples  # every process's, across processes
        progress.loss_curve.append(loss)
        lines = [f"Iteration {progress.n_iter}, loss = {loss:.8f}"]
        if score is not None:
            assert progress.validation_scores is not None
            assert progress.best_validation_score is not None
            progress.validation_scores = [*progress.validation_scores, score]
            if self.validation_losses:
                progress.validation_loss_curve = [*(progress.validation_loss_curve or []),
                                                  self.validation_losses[-1]]
            lines.append(f"Validation score: {score:f}")
            if score < progress.best_validation_score + self.tol:
                progress.no_improvement_count += 1
            else:
                progress.no_improvement_count = 0
            if score > progress.best_validation_score:
                progress.best_validation_score = score
                progress.best_params = model.params
        else:
            assert progress.best_loss is not None
            if loss > progress.best_loss - self.tol:
                progress.no_improvement_count += 1
            else:
                progress.no_improvement_count = 0
            if loss < progress.best_loss:
                progress.best_loss = loss
        rate = optimizer.learning_rate
        assert not callable(rate)  # scikit-learn's rates are numbers, changed between epochs
        if isinstance(optimizer, SklearnSGD) and optimizer.schedule == "invscaling":
            rate = optimizer.initial_rate / (progress.t + 1) ** optimizer.power_t
        stop = False
        if progress.no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if score is not None else "Training loss"
            message = (f"{what} did not improve more than tol={self.tol:f} for "
                       f"{int(self.n_iter_no_change)} consecutive epochs.")
            if isinstance(optimizer, SklearnSGD) and optimizer.schedule == "adaptive" and (
                    rate > 1e-6):
                rate = rate / 5.0
                message += f" Setting learning rate to {rate:f}"
                progress.no_improvement_count = 0
            else:
                if isinstance(optimizer, SklearnSGD) and optimizer.schedule == "adaptive":
                    message += " Learning rate too small. Stopping."
                else:
                    message += " Stopping."
                stop = True
            lines.append(message)
        with deferred_interrupts():  # the record and its weights, together
            self.progress, self.params = progress, model.params
            self._kept = (optimizer.state, self._order_state())
            optimizer.learning_rate = rate
            self.stopped = stop
        if self.verbose:
            print("\n".join(lines))
        return stop
