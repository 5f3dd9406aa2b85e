"""The ``fit`` loop: epochs of batches on the device, callbacks at the edges of epochs.

An epoch is transactional. The runner computes new parameters and optimizer
state from the committed ones without changing them (or on a private copy);
one transfer then brings the epoch's numbers to the host (losses, hits,
whether the weights are finite, validation); only then is the new state
committed to the model and the optimizer, whole, with Ctrl-C held back for
that moment. An epoch that fails in any way (an interrupt, an error, a bad
value in streamed data) leaves the model, the optimizer and the random
generator as the previous epoch left them. A divergence is the one exception:
the model keeps the weights from before the batch that diverged.

Across processes, the run asks its :class:`~agnostic_mlp.training.parallel.Parallel`
at the few points that module lists; alone, those points change nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._typing import Array
from ..backends import Backend, to_numpy
from ..constraints import BOOLEAN, Integer, Real, check
from ..engine import Objective, Params, evaluate, finite_params
from ..errors import DivergenceError, InvalidArgumentError, NonFiniteError
from ..optimizers import Optimizer, OptimizerState
from ..schedules import LearningRate
from .batches import batch_count, batch_sizes
from .callbacks import Callback
from .epoch import Block, EpochResult, make_runner
from .history import History
from .interrupts import deferred_interrupts
from .parallel import Counts, Parallel
from .run import RunSpec, RunState, RunView
from .streamed import StreamedDataset
from .transfer import fetch, pack, unpack

__all__ = [
    "Data",
    "Dataset",
    "FitConfig",
    "FitRun",
    "Order",
    "Policy",
    "Rows",
    "Score",
    "Shuffle",
    "Trainable",
    "fit",
]


class Trainable(Protocol):
    """What the loop needs of a model: where it runs, its parameters and generator."""

    runtime: Backend
    rng: np.random.Generator

    @property
    def params(self) -> Params: ...

    def commit(self, params: Params, rng_state: dict[str, Any] | None = None) -> None: ...

    def identity(self) -> dict[str, Any]:
        """The model's settings beyond its layers and activations, as JSON data (a seed)."""
        ...


@dataclass(frozen=True)
class FitConfig:
    """The settings of one ``fit`` call, checked once.

    Attributes
    ----------
    epochs : int
        The number of the epoch to end with (a resumed run continues up to it).
    batch_size : int
    shuffle : bool
        Shuffle the training rows every epoch with the model's generator.
    """

    epochs: int = 10
    batch_size: int = 32
    shuffle: bool = True

    def __post_init__(self) -> None:
        # Bounded as a checkpoint counts them: a run of more epochs could not be saved.
        object.__setattr__(self, "epochs", check(self.epochs, "epochs", Integer(1, 2**31 - 1)))
        object.__setattr__(self, "batch_size", check(self.batch_size, "batch_size",
                                                     Integer(1, 2**62)))
        object.__setattr__(self, "shuffle", check(self.shuffle, "shuffle", BOOLEAN))


class Rows:
    """The counts of data held whole as features ``x`` (rows first) and targets ``y``."""

    x: Any
    y: Array

    @property
    def n(self) -> int:
        """Rows."""
        return int(self.x.shape[0])

    @property
    def n_outputs(self) -> int:
        """Targets per row."""
        return int(self.y.shape[-1])

    def n_batches(self, batch_size: int) -> int:
        """Batches of ``batch_size`` per epoch."""
        return batch_count(self.n, batch_size)


@dataclass(frozen=True)
class Dataset(Rows):
    """Checked data on the model's device: features, targets, optional per-sample weights."""

    x: Array
    y: Array
    weights: Array | None = None

    def sample(self, runtime: Backend, rows: np.ndarray) -> tuple[list[Array], list[list[int]]]:
        """The rows ``rows`` of every array, and the arrays' shapes."""
        idx = runtime.put(rows)
        arrays = [self.x, self.y] + ([self.weights] if self.weights is not None else [])
        return ([runtime.xp.take(a, idx, axis=0) for a in arrays],
                [list(map(int, a.shape)) for a in arrays])

    def blocks(self, runtime: Backend, rng: np.random.Generator, shuffle: bool,
               batch_size: int) -> list[Block]:
        """The epoch's blocks: all rows, in a fresh order drawn from ``rng`` if ``shuffle``."""
        # Drawn on the host: every backend sees the same batches.
        return self.ordered(runtime, rng.permutation(self.n) if shuffle else None, batch_size)

    def windows(self, runtime: Backend) -> Iterator[tuple[Array, Array]]:
        """The data as one window: in memory is a stream of one window."""
        yield self.x, self.y

    def split(self, n_last: int) -> tuple[Dataset, Dataset]:
        """The rows but the last ``n_last``, and the last ``n_last`` (weights dropped)."""
        x, y = self.x, self.y
        return Dataset(x[:-n_last, ...], y[:-n_last, ...]), Dataset(x[-n_last:, ...],
                                                                  y[-n_last:, ...])

    def metrics(self, runtime: Backend, objective: Objective, params: Params) -> Array:
        """The mean loss (and accuracy for classifiers), on the device."""
        values = evaluate(runtime.xp, objective.activations, objective.loss, params, self.x,
                          self.y).values()
        return runtime.xp.stack([runtime.xp.astype(v, runtime.dtype) for v in values])

    def ordered(self, runtime: Backend, index: np.ndarray | None,
                batch_size: int) -> list[Block]:
        """The epoch's blocks with the rows in the host order ``index`` (None: as they are)."""
        order = None if index is None else runtime.put(index)
        return [Block(self.x, self.y, self.weights, order, batch_size)]


class Data(Protocol):
    """Training or validation data, as the loop sees it: in memory (:class:`Dataset`),
    streamed from disk a window at a time (:class:`~.streamed.StreamedDataset`), or
    any other source of blocks (the estimators' sparse rows)."""

    @property
    def n(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    @property
    def weights(self) -> Array | None: ...

    def n_batches(self, batch_size: int) -> int: ...

    def blocks(self, runtime: Backend, rng: Any, shuffle: bool,
               batch_size: int) -> Iterable[Block]: ...

    def sample(self, runtime: Backend, rows: np.ndarray) -> tuple[list[Array],
                                                                  list[list[int]]]: ...


class Order(Protocol):
    """What draws each epoch's order of the rows, and keeps what it drew."""

    def blocks(self, data: Any, runtime: Backend, batch_size: int,
               parallel: Parallel) -> Iterable[Block]:
        """The epoch's blocks of ``data``, drawing the order (if any) now."""
        ...

    def state(self) -> Any:
        """What :meth:`restore` needs to undo the next draws."""
        ...

    def restore(self, state: Any) -> None:
        """Put back what :meth:`state` gave."""
        ...

    def shared(self) -> Any:
        """What of :meth:`state` every process training together holds alike (JSON data)."""
        ...


class Shuffle:
    """What orders each epoch's rows: the model's generator, as ``fit`` shuffles.

    The loop saves :meth:`state` before an epoch draws, and restores it
    if the epoch fails, so a failed epoch leaves the generator as it was.
    """

    def __init__(self, rng: np.random.Generator, shuffle: bool) -> None:
        self.rng, self.shuffle = rng, shuffle

    def blocks(self, data: Any, runtime: Backend, batch_size: int,
               parallel: Parallel) -> Iterable[Block]:
        """The epoch's blocks of ``data``, drawing the order (if any) now."""
        return data.blocks(runtime, parallel.generator(self.rng), self.shuffle, batch_size)

    def state(self) -> Any:
        """The generator's state, before an epoch draws from it."""
        return self.rng.bit_generator.state

    def restore(self, state: Any) -> None:
        """Put back what :meth:`state` gave."""
        self.rng.bit_generator.state = state

    def shared(self) -> Any:
        """The generator's state: each process's order is drawn from it (see
        :meth:`Parallel.generator`), so the processes keep it alike."""
        return self.state()


@dataclass(frozen=True)
class Policy:
    """How one face of the library reads an epoch; the defaults are the native face's.

    Attributes
    ----------
    train_accuracy : bool
        Count each batch's hits for a training ``accuracy`` (classifiers).
    val_metrics : bool
        Log ``val_loss`` (and ``val_accuracy``) on the validation data.
    batch_mean_loss : bool
        The epoch's ``loss`` is the batches' weighted mean losses, averaged with
        the batches' sizes as weights (scikit-learn's); by default it is the
        epoch's summed loss over the summed weights. The two differ only with
        sample weights.
    score : Score or None
        A validation score logged as ``val_score`` (scikit-learn's accuracy or R²).
    divergence : {"rewind", "raise", "ignore"}
        On a non-finite loss or weight: keep the last finite weights and raise
        :class:`~agnostic_mlp.DivergenceError` (``"rewind"``); raise
        :class:`~agnostic_mlp.errors.NonFiniteError` (a ValueError) with
        ``divergence_message``, leaving the model as the epoch
        found it (``"raise"``); or commit the epoch and go on (``"ignore"``).
    divergence_message : str
    """

    train_accuracy: bool = True
    val_metrics: bool = True
    batch_mean_loss: bool = False
    score: Score | None = None
    divergence: str = "rewind"
    divergence_message: str = ""


class Score(Protocol):
    """A validation score: parts computed on the device, a number made of them on the host."""

    def parts(self, runtime: Backend, params: Params, data: Any) -> Array:
        """A 1-D device array of what the score is made of, for ``params`` on ``data``."""
        ...

    def value(self, parts: Sequence[np.ndarray]) -> float:
        """The score, from :meth:`parts` brought to the host: one process's, or every
        process's in rank order."""
        ...


class FitRun:
    """One call of ``fit``: the model, its data, the optimizer, and the epochs so far.

    Callbacks and the :class:`Parallel` see it through :attr:`view`.

    Attributes
    ----------
    model, optimizer, history
    view : RunView
        The run, read-only.
    spec : RunSpec
        The run's identity, set by :meth:`prepare`.
    epochs : int
        The epoch to end with.
    epoch : int
        The next epoch to run (more than 0 when resumed from a checkpoint).
    metrics : list of str
        The names the epoch's logs will have.
    parallel : Parallel
        How the run is shared among processes (by default, one process alone).
    """

    def __init__(self, model: Trainable, optimizer: Optimizer, objective: Objective,
                 train: Data, validation: Data | None, config: FitConfig,
                 callbacks: Sequence[Callback], parallel: Parallel | None = None,
                 shuffle: Order | None = None, policy: Policy | None = None) -> None:
        self.model, self.optimizer, self.objective = model, optimizer, objective
        self.train, self.validation, self.config = train, validation, config
        self.parallel = parallel = Parallel() if parallel is None else parallel
        self.shuffle = Shuffle(model.rng, config.shuffle) if shuffle is None else shuffle
        self.policy = policy = Policy() if policy is None else policy
        # Callbacks that only report (progress, printing) run on the first process alone.
        self.callbacks = [cb for cb in callbacks if parallel.is_root or not cb.reports]
        self.history = History()
        self.epochs = config.epochs
        self.epoch = 0
        self.committed = 0  # epochs (or a resumed checkpoint) this call has committed
        self.runtime = model.runtime
        self.head = objective.loss.head
        accuracy = self.head.classifier and policy.train_accuracy
        self.metrics = ["loss", *(["accuracy"] if accuracy else [])]
        if validation is not None and policy.val_metrics:
            self.metrics += ["val_loss", *(["val_accuracy"] if self.head.classifier else [])]
        if validation is not None and policy.score is not None:
            self.metrics.append("val_score")
        self.runner = make_runner(self.runtime, objective, optimizer,
                                  weighted=train.weights is not None,
                                  reduce=parallel.reducer(self.runtime), hits=accuracy)
        self.counts = Counts(steps=0, samples=0, total=0.0)  # set by prepare()
        self.view = RunView(self)
        self.spec = RunSpec({})  # set by prepare()

    # -- the run -------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the optimizer's state, and show the callbacks this run; nothing changes."""
        train = self.train
        total = train.n if train.weights is None else float(
            to_numpy(self.runtime.xp.sum(train.weights)))
        self.spec = RunSpec.of(self.view)
        self.counts = self.parallel.agree(self.view, Counts(
            steps=train.n_batches(self.config.batch_size), samples=train.n, total=total,
            validation_share=0.0 if self.validation is None else 1.0))
        n_out = train.n_outputs
        self._divisor = self.counts.total * self.objective.loss.per_sample(n_out)
        state = self.optimizer.state
        if state is not None:
            params = self.model.params.flat()
            shapes = [tuple(p.shape) for p in params]
            # What a fresh state holds, from one number per parameter: which slots it fills.
            xp, device = self.runtime.xp, self.runtime.device
            fresh = self.optimizer.init(
                xp, tuple(xp.zeros((1,), dtype=p.dtype, device=device) for p in params))
            for slot, arrays in state.slots().items():
                if arrays and [tuple(a.shape) for a in arrays] != shapes:
                    raise InvalidArgumentError(
                        f"the optimizer holds {slot} for parameters of other shapes (another "
                        "model's); give this fit a fresh optimizer")
                if not arrays and fresh.slots()[slot]:
                    raise InvalidArgumentError(
                        f"the optimizer holds no {slot}, which its settings need (they were "
                        "changed after its state was made); give this fit a fresh optimizer")
        for cb in self.callbacks:
            cb.set_run(self.view)

    def fit(self) -> History:
        """Run the epochs; return the history."""
        model = self.model
        for cb in self.callbacks:
            cb.on_train_begin(model)
        for cb in self.callbacks:
            resumed = cb.resume(model)
            if resumed is not None:
                self._resume(resumed)
        try:
            self.parallel.verify(self.view)
            if self.history.stopped_epoch is None:  # not a run that had already stopped
                for epoch in range(self.epoch, self.epochs):
                    logs = self.run_epoch(epoch)
                    self.history.record(epoch, logs)
                    self.epoch = epoch + 1
                    if self._stop(epoch, logs):
                        break
        except BaseException as error:
            for cb in self.callbacks:
                cb.on_train_error(model, error)
            raise
        for cb in self.callbacks:
            cb.on_train_end(model)
        return self.history

    def _resume(self, state: RunState) -> None:
        """Commit a saved run, whole: the resumed state stays, whatever happens next."""
        with deferred_interrupts():
            self.model.commit(state.params, state.rng_state)
            self.optimizer.state = state.optimizer_state
            if state.learning_rate is not None:
                self.optimizer.learning_rate = state.learning_rate
            self.history, self.epoch = state.history, state.epoch
            self.committed += 1

    def _stop(self, epoch: int, logs: dict[str, float]) -> bool:
        stop = False
        for cb in self.callbacks:  # in order: a checkpoint, last, sees the decision
            if cb.on_epoch_end(self.model, epoch, logs) is True and not stop:
                stop = True
                self.history.stopped_epoch = epoch
        if self.parallel.any(stop) and not stop:  # another process's callback stopped
            stop = True
            self.history.stopped_epoch = epoch
        return stop

    def state(self) -> OptimizerState:
        """The optimizer's state, or a fresh one for the model's parameters."""
        state = self.optimizer.state
        params = self.model.params.flat()
        if state is None:
            return self.optimizer.init(self.runtime.xp, params)
        return state

    # -- one epoch ----------------------------------------------------------------

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch and commit it; return its logs."""
        model, optimizer = self.model, self.optimizer
        params, state = model.params, self.state()
        first = int(state.step)
        # Every rate is asked for (and checked) before anything is drawn or changed; a
        # constant rate is checked once (anything may have set the attribute).
        if callable(optimizer.learning_rate):
            rates = [optimizer.rate_at(first + k) for k in range(self.counts.steps)]
        else:
            rate = check(optimizer.learning_rate, "the optimizer's learning_rate", Real(0.0))
            rates = [rate] * self.counts.steps
        drawn = self.shuffle.state()
        committed = False
        # Callbacks told of the batches as they go (a progress display within the epoch).
        told = [cb for cb in self.callbacks if cb.follows_batches
                and type(cb).on_batches is not Callback.on_batches]
        steps = self.counts.steps

        def tick(done: int) -> None:
            for cb in told:
                cb.on_batches(model, epoch, done, steps)

        self.runner.tick = tick if told else None
        try:
            try:
                blocks = self.shuffle.blocks(self.train, self.runtime, self.config.batch_size,
                                             self.parallel)
                result = self.runner.run(params, state, blocks, rates)
                logs, bad_loss, finite = self._logs(result)
                if bad_loss is not None or not finite:
                    self._diverged(epoch, params, state, blocks, rates, bad_loss)
                # An interrupt up to here, or one held back by the commit, leaves everything
                # as the epoch found it, or everything as it left it: never a mixture.
                with deferred_interrupts():
                    model.commit(result.params)
                    optimizer.state = result.state
                    self.committed += 1
                    committed = True
            except BaseException:
                if not committed:
                    self.shuffle.restore(drawn)
                raise
        except KeyboardInterrupt:  # also one that came as the generator was put back
            if not committed:
                self.shuffle.restore(drawn)  # again, whole
            raise
        return logs

    def _logs(self, result: EpochResult) -> tuple[dict[str, float], int | None, bool]:
        """The epoch's numbers, brought to the host in one transfer and read by name."""
        validation, policy, xp = self.validation, self.policy, self.runtime.xp
        in_memory = (validation.x, validation.y) if (
            policy.val_metrics and isinstance(validation, Dataset)) else None
        parts = self.runner.summary(result, in_memory)
        if policy.val_metrics and isinstance(validation, StreamedDataset):
            parts["val"] = validation.metrics(self.runtime, self.objective, result.params)
        if policy.score is not None and validation is not None:
            parts["score"] = policy.score.parts(self.runtime, result.params, validation)
        if policy.batch_mean_loss and result.weight_sums:
            parts["weights"] = xp.concat(result.weight_sums)
        host = fetch(xp, parts)
        steps = self.counts.steps
        # Each step's numbers (0 past this process's data), then added up across processes.
        sums = np.zeros(steps)
        losses = host["losses"]
        sums[:losses.shape[0]] = losses
        shared = {"sums": sums, "finite": host["finite"]}
        if "hits" in host:
            hits = np.zeros(steps)
            hits[:host["hits"].shape[0]] = host["hits"]
            shared["hits"] = hits
        if "val" in host:  # means, weighted by this process's share
            shared["val"] = host["val"] * self.counts.validation_share
        if "weights" in host:  # and each step's rows, for its mean loss
            weights, rows = np.zeros(steps), np.zeros(steps)
            weights[:host["weights"].shape[0]] = host["weights"]
            sizes = batch_sizes(self.train.n, self.config.batch_size)
            rows[:sizes.shape[0]] = sizes
            shared.update(weights=weights, rows=rows)
        numbers = unpack(self.parallel.sum(pack(shared)), shared)
        batch_sums = numbers["sums"]
        if "weights" in numbers:  # each step's weighted mean, weighted by its rows
            loss = float((batch_sums / numbers["weights"] * numbers["rows"]).sum()
                         / self.counts.samples)
        else:
            loss = float(batch_sums.sum() / self._divisor)
        logs = {"loss": loss}
        if "hits" in numbers:
            logs["accuracy"] = float(numbers["hits"].sum() / self.counts.samples)
        if "val" in numbers:
            logs["val_loss"] = float(numbers["val"][0])
            if self.head.classifier:
                logs["val_accuracy"] = float(numbers["val"][1])
        if "score" in host:
            assert policy.score is not None
            everyone = [host["score"]] if self.parallel.size == 1 else list(
                self.parallel.shards(host["score"]))
            logs["val_score"] = policy.score.value(everyone)
        finite_sums = np.isfinite(batch_sums)
        bad = None if finite_sums.all() else int(np.argmin(finite_sums))
        # Added across processes: one process's non-finite parameter makes its count short.
        finite = bool((numbers["finite"] == self.parallel.size).all())
        return logs, bad, finite and math.isfinite(logs["loss"])

    def _diverged(self, epoch: int, params: Params, state: OptimizerState,
                  blocks: Iterable[Block],
                  rates: Sequence[float], bad_loss: int | None) -> None:
        """Keep the last finite weights, then raise.

        The epoch is replayed from its start one batch at a time (its batches
        are known) up to the batch whose loss was not finite (``bad_loss``) or
        whose update made the weights non-finite, whichever comes first. Only
        this failure path waits for the device after each batch.
        """
        policy = self.policy
        if policy.divergence == "ignore":
            return
        if policy.divergence == "raise":
            raise NonFiniteError(policy.divergence_message)
        xp = self.runtime.xp
        n_batches = len(rates)
        stop = n_batches if bad_loss is None else bad_loss
        bad = min(stop, n_batches - 1)
        kept = (params, state)
        for b, (p, s) in enumerate(self.runner.steps(params, state, blocks, rates)):
            if b >= stop:
                break
            if not finite_params(xp, p):
                bad = b
                break
            kept = (p, s)
        with deferred_interrupts():
            self.model.commit(kept[0])
            self.optimizer.state = kept[1]
        raise DivergenceError(
            f"training diverged: the loss or the weights became NaN or infinite at epoch "
            f"{epoch + 1}, batch {bad + 1} of {n_batches}; the model keeps its last finite "
            "weights, those that batch started from. Try a smaller learning rate or scaling "
            "the inputs.",
            epoch=epoch, batch=bad,
        )


def fit(model: Trainable, optimizer: Optimizer, objective: Objective, train: Data,
        validation: Data | None, config: FitConfig, callbacks: Sequence[Callback],
        learning_rate: LearningRate | None = None,
        parallel: Parallel | None = None, shuffle: Order | None = None,
        policy: Policy | None = None) -> History:
    """Train ``model`` on checked device data; return the history.

    ``learning_rate``, if given, becomes the optimizer's (as Keras's
    assignment), unless the call fails before its first epoch is committed:
    then the optimizer keeps its own, and the model is as it was. ``parallel``
    shares the run among processes (one process alone by default); ``shuffle``
    orders the epochs' rows (the model's generator by default); ``policy`` is
    how the epochs are read (the native face's by default).
    """
    run = FitRun(model, optimizer, objective, train, validation, config, callbacks, parallel,
                 shuffle, policy)
    previous = optimizer.learning_rate
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    committed = run.committed
    try:
        run.prepare()
        return run.fit()
    except BaseException as error:
        run.parallel.failed(error)
        if run.committed == committed:
            optimizer.learning_rate = previous
        raise
