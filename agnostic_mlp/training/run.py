"""What plugins see of a ``fit`` call: its identity, a read-only view, and a resumed state.

The loop (:mod:`.loop`) owns the run. Callbacks and the ways of sharing a run
among processes see it through a :class:`RunView`, which reads and never
writes. What makes a run this run is a :class:`RunSpec`, computed once when
the run is prepared: processes that train together compare it, and a
checkpoint keeps it (with a digest of the data) to refuse another run's file.
A checkpoint that resumes hands the loop a :class:`RunState`, which the loop
commits whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends import Backend
from ..config import learning_rate_to_json
from ..constraints import short
from ..engine import Objective, Params
from ..errors import InvalidArgumentError
from ..optimizers import Optimizer, OptimizerState
from .history import History
from .parallel import Counts, Parallel

__all__ = ["RunSpec", "RunState", "RunView", "differences", "flat", "grouped",
           "process_differences"]

#: The settings a resumed run may change: how long it goes, and where it computes.
RESUMABLE = ("epochs", "backend")


@dataclass(frozen=True)
class RunSpec:
    """What makes a run this run, as JSON data: computed once, compared, never changed.

    Attributes
    ----------
    settings : Mapping
        The backend, dtype, layers, activations, loss, L2 term, the optimizer's
        class and hyperparameters (a learning-rate schedule by its parameters, code
        by its name), batch size, shuffling, epochs, whether samples are weighted,
        the logs, the configuration of every callback that keeps state, and the
        model's own settings beyond these (``MLP``'s seed and initializer).
    """

    settings: Mapping[str, Any]

    @classmethod
    def of(cls, run: RunView) -> RunSpec:
        """The spec of ``run``, as it stands now."""
        params, optimizer, objective = run.model.params, run.optimizer, run.objective
        opt = {k: _rate(v) if k == "learning_rate" else v
               for k, v in optimizer.get_config().items()}
        return cls({
            "backend": run.runtime.name,
            "dtype": run.runtime.dtype_name,
            "model": dict(run.model.identity()),
            "layers": [int(w.shape[0]) for w in params.weights]
            + [int(params.weights[-1].shape[1])],
            "bias": bool(params.biases),
            "activations": [repr(a) for a in objective.activations],
            "loss": repr(objective.loss),
            "l2": float(objective.l2),
            "optimizer": {"class": type(optimizer).__name__, **opt},
            "batch_size": run.config.batch_size,
            "shuffle": run.config.shuffle,
            "epochs": run.epochs,
            "sample_weights": run.train.weights is not None,
            "logs": list(run.metrics),
            "callbacks": [{"name": cb.name, "config": cb.get_config()}
                          for cb in run.callbacks if cb.stateful],
        })

    def resumable(self) -> dict[str, Any]:
        """The settings a checkpoint must match: all but :data:`RESUMABLE`."""
        return {k: v for k, v in self.settings.items() if k not in RESUMABLE}


def _rate(learning_rate: Any) -> Any:
    """A learning rate as JSON: a number, a built-in schedule's parameters, or code's name."""
    if not callable(learning_rate):
        try:  # checked when an epoch asks for it; here only described
            return float(learning_rate)
        except (TypeError, ValueError, OverflowError):
            return short(learning_rate)
    try:
        return learning_rate_to_json(learning_rate, "learning_rate")
    except InvalidArgumentError:
        return f"a callable {getattr(learning_rate, '__qualname__', type(learning_rate).__name__)}"


@dataclass(frozen=True)
class RunState:
    """A run as a checkpoint left it, checked and on the device, for the loop to commit.

    Attributes
    ----------
    params : Params
    rng_state : dict
        The model's generator's state.
    optimizer_state : OptimizerState
    learning_rate : float or None
        The rate a callback had set (None: the optimizer's own, a schedule).
    history : History
    epoch : int
        The next epoch to run.
    """

    params: Params
    rng_state: dict[str, Any]
    optimizer_state: OptimizerState
    learning_rate: float | None
    history: History
    epoch: int


class RunView:
    """A ``fit`` call as callbacks and ways of sharing it see it: read, never written.

    Parameters
    ----------
    run : FitRun
        The run it shows.
    """

    def __init__(self, run: Any) -> None:
        self._run = run

    @property
    def model(self) -> Any:
        """The model being trained (``commit`` replaces its parameters)."""
        return self._run.model

    @property
    def optimizer(self) -> Optimizer:
        """The run's optimizer; callbacks may set its ``learning_rate``."""
        optimizer: Optimizer = self._run.optimizer
        return optimizer

    @property
    def objective(self) -> Objective:
        objective: Objective = self._run.objective
        return objective

    @property
    def runtime(self) -> Backend:
        runtime: Backend = self._run.runtime
        return runtime

    @property
    def train(self) -> Any:
        """The training data (a :class:`~.loop.Data`)."""
        return self._run.train

    @property
    def validation(self) -> Any:
        """The validation data, or None."""
        return self._run.validation

    @property
    def config(self) -> Any:
        """The call's :class:`~.loop.FitConfig`."""
        return self._run.config

    @property
    def parallel(self) -> Parallel:
        parallel: Parallel = self._run.parallel
        return parallel

    @property
    def shuffle(self) -> Any:
        """What orders the epochs' rows (a :class:`~.loop.Order`)."""
        return self._run.shuffle

    @property
    def callbacks(self) -> tuple[Any, ...]:
        """The run's callbacks, in the order they are called."""
        return tuple(self._run.callbacks)

    @property
    def history(self) -> History:
        """The logs so far; ``best_epoch`` is the callbacks' to set."""
        history: History = self._run.history
        return history

    @property
    def epochs(self) -> int:
        """The epoch to end with."""
        return int(self._run.epochs)

    @property
    def epoch(self) -> int:
        """The next epoch to run (more than 0 when resumed)."""
        return int(self._run.epoch)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The names the epoch's logs have."""
        return tuple(self._run.metrics)

    @property
    def counts(self) -> Counts:
        """Steps per epoch and the data's totals, over every process."""
        counts: Counts = self._run.counts
        return counts

    @property
    def spec(self) -> RunSpec:
        """The run's identity (set once the run is prepared)."""
        spec: RunSpec = self._run.spec
        return spec


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1, {"c": 2}]}}`` as ``{"a.b.0": 1, "a.b.1.c": 2}``, to name what differs."""
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(
        value, list) and any(isinstance(v, (Mapping, list)) for v in value) else None
    if items is None:
        return {prefix[:-1]: value}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(flat(v, f"{prefix}{k}."))
    if not out:  # an empty dict or list of containers still counts
        out[prefix[:-1]] = value
    return out


def differences(saved: Any, now: Any) -> list[str]:
    """What differs between two runs' identities, entry by entry, in a few words each."""
    old, new = flat(saved), flat(now)
    return [f"{k} (saved {short(old.get(k))}, now {short(new.get(k))})"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def grouped(values: Sequence[Any]) -> str:
    """``"32 on processes 0, 2; 64 on process 1"``: a value per process, grouped."""
    groups: dict[str, list[int]] = {}
    for rank, value in enumerate(values):
        groups.setdefault(short(value, 80), []).append(rank)
    return "; ".join(f"{v} on process{'es' if len(r) > 1 else ''} {', '.join(map(str, r))}"
                     for v, r in groups.items())


def process_differences(everyone: Sequence[Any]) -> list[str]:
    """What differs between processes' identities (one per process, in rank order)."""
    flats = [flat(value) for value in everyone]
    # A key some processes lack (another optimizer's hyperparameter) follows from a
    # difference already named (the optimizer's class).
    return [f"{key} ({grouped([f[key] for f in flats])})" for key in flats[0]
            if all(key in f for f in flats) and any(f[key] != flats[0][key] for f in flats)]


