"""Checkpointing as a callback: save the run after every epoch, resume it from the file.

A checkpoint belongs to one run. Its fingerprint is the run's settings at
its start: the model's configuration, the optimizer's class and
hyperparameters (a schedule by its parameters), the batch size and
shuffling, a digest of the data and of the validation data (their shapes,
dtypes and a strided sample of rows), and the configuration of every
callback that keeps state (early stopping's patience, monitor, ...). A file
whose fingerprint differs is refused, naming what differs; the learning rate
a callback lowered during the run is state, not fingerprint, and resumes.

Across processes, the first process alone writes the file, and every process
resumes from it (it must be on a file system they all see); the fingerprint
then holds the digest of every process's data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

import numpy as np

from ..backends import to_numpy
from ..config import learning_rate_to_json, optimizer_to_json
from ..errors import InvalidArgumentError, ModelFileError
from ..io import checkpoint as checkpoint_file
from ..io.atomic import check_destination
from ..optimizers import OptimizerState
from .callbacks import Callback
from .history import History
from .run import RunState, RunView, differences, flat
from .streamed import StreamedDataset

__all__ = ["Checkpoint", "data_digest"]

_SAMPLE_ROWS = 256


def data_digest(runtime: Any, data: Any) -> dict[str, Any]:
    """Shapes and a SHA-256 of a strided sample of rows of ``data``, in one transfer.

    ``data`` is a :class:`~agnostic_mlp.training.loop.Data`: in memory or streamed,
    the same rows give the same digest.
    """
    xp = runtime.xp
    n = data.n
    rows = np.unique(np.linspace(0, n - 1, min(n, _SAMPLE_ROWS)).astype(np.int64))
    arrays, shapes = data.sample(runtime, rows)
    flat = [xp.reshape(xp.astype(a, runtime.dtype), (-1,)) for a in arrays]
    sample = to_numpy(xp.concat(flat))
    h = hashlib.sha256(np.ascontiguousarray(sample, dtype=np.float64).tobytes())
    return {"n_samples": n, "shapes": shapes, "sha256": h.hexdigest()}


class Checkpoint(Callback):
    """Save the run to ``path`` after every epoch; resume from it if it holds this run.

    Parameters
    ----------
    path : str or os.PathLike
        Checked before training: a regular file or nothing, in a folder where
        a file can be written.
    """

    def __init__(self, path: Any) -> None:
        self.path = check_destination(path, "checkpoint")
        self.fingerprint: dict[str, Any] = {}

    def get_config(self) -> dict[str, Any]:
        return {"path": self.path}

    def set_run(self, run: RunView) -> None:
        super().set_run(run)
        # What a file cannot hold is refused now, before the first epoch.
        optimizer_to_json(run.optimizer, "the optimizer")
        learning_rate_to_json(run.optimizer.learning_rate, "checkpoint=")
        self.fingerprint = self._fingerprint(run)

    def _fingerprint(self, run: RunView) -> dict[str, Any]:
        """The run's identity (:class:`~.run.RunSpec`) and a digest of its data, as JSON."""
        def data(d: Any) -> Any:
            if d is None:
                return None
            return run.parallel.shards(data_digest(run.runtime, d))

        # A shuffled run's batches depend on the windows its data is read in.
        windows = run.parallel.shards(run.train.layout(run.config.batch_size)) if (
            run.config.shuffle and isinstance(run.train, StreamedDataset)) else None
        return {**run.spec.resumable(), "data": data(run.train), "windows": windows,
                "validation": data(run.validation)}

    def resume(self, model: Any) -> RunState | None:
        """The run as the file at ``path`` left it, if there is one and it is this run's.

        Raises
        ------
        ModelFileError
            If the file is another run's (naming what differs), or damaged.
        """
        if not os.path.exists(self.path):
            return None
        run = self.run
        model_file, snap = checkpoint_file.read(self.path)
        saved, now = flat(snap.fingerprint), flat(self.fingerprint)
        # The run's own optimizer may come back with a rate a callback lowered (an
        # interrupted run, rerun in the same process, its optimizer past the file):
        # that is the run resuming, and the file's live rate is taken back.
        state = run.optimizer.state
        continued = state is not None and int(state.step) >= snap.step
        if snap.learning_rate is not None and (
                continued or now.get("optimizer.learning_rate") == snap.learning_rate):
            now["optimizer.learning_rate"] = saved.get("optimizer.learning_rate")
        differ = differences(saved, now)
        if differ:
            raise ModelFileError(
                f"the checkpoint {self.path} belongs to a different run: {'; '.join(differ)}. "
                "Delete it, or pass another checkpoint path, to start afresh.")
        runtime = run.runtime
        try:
            params = model.params.like([runtime.asarray(a) for a in model_file.params()])
            state = self._optimizer_state(snap, runtime)
            stateful = [cb for cb in run.callbacks if cb.stateful]
            for cb, (name, cb_state, arrays) in zip(stateful, snap.callbacks, strict=True):
                if name != cb.name:
                    raise InvalidArgumentError(f"its callback {name!r} is not {cb.name!r}")
                cb.load_state_dict(cb_state, {k: [runtime.asarray(a) for a in v]
                                              for k, v in arrays.items()})
            if sorted(snap.history) != sorted(run.metrics if snap.epoch else []):
                raise InvalidArgumentError(f"its history has {sorted(snap.history)}, not "
                                           f"{sorted(run.metrics)}")
        except (InvalidArgumentError, ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(f"the checkpoint {self.path} cannot resume this run: "
                                 f"{exc}") from None
        history = History()
        history.history = {k: list(v) for k, v in snap.history.items()}
        history.epoch = list(range(snap.epoch))
        history.best_epoch, history.stopped_epoch = snap.best_epoch, snap.stopped_epoch
        return RunState(params=params, rng_state=dict(model_file.rng.bit_generator.state),
                        optimizer_state=state, learning_rate=snap.learning_rate,
                        history=history, epoch=snap.epoch)

    def _optimizer_state(self, snap: checkpoint_file.Snapshot, runtime: Any) -> OptimizerState:
        state_type = self.run.optimizer.state_type
        slots = {f.name for f in dataclasses.fields(state_type) if f.name != "step"}
        saved = {k for k, v in snap.slots.items()}
        if snap.step == 0 and not saved:
            return self.run.optimizer.init(runtime.xp, self.run.model.params.flat())
        # Slots a configuration leaves empty (SGD without momentum) are not saved.
        if not saved <= slots:
            raise InvalidArgumentError(f"its optimizer state has {sorted(saved)}, not "
                                       f"{sorted(slots)}")
        fresh = self.run.optimizer.init(runtime.xp, self.run.model.params.flat())
        expected = {k for k, v in fresh.slots().items() if v}
        if saved != expected:
            raise InvalidArgumentError(f"its optimizer state has {sorted(saved)}, but this "
                                       f"optimizer keeps {sorted(expected)}")
        return dataclasses.replace(fresh, step=snap.step, **{
            k: tuple(runtime.asarray(a) for a in v) for k, v in snap.slots.items()})

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        run = self.run
        if not run.parallel.is_root:  # the others hold the same state: one writer
            return
        state = run.optimizer.state
        assert state is not None  # an epoch has been committed
        history = run.history
        lr = run.optimizer.learning_rate
        snap = checkpoint_file.Snapshot(
            fingerprint=self.fingerprint,
            epoch=run.epoch,
            history={k: list(v) for k, v in history.history.items()},
            best_epoch=history.best_epoch,
            stopped_epoch=history.stopped_epoch,
            learning_rate=None if callable(lr) else float(lr),
            step=int(state.step),
            slots={k: list(v) for k, v in state.slots().items() if v},
            callbacks=[(cb.name, cb.state_dict(), cb.state_arrays())
                       for cb in run.callbacks if cb.stateful],
        )
        checkpoint_file.write(self.path, model.config, list(model.params.flat()), model.rng,
                              snap)
