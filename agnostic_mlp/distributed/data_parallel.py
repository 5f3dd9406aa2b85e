"""Data parallelism: every process trains the same model on its own shard of the data.

:class:`DataParallel` is the ``fit`` loop's
:class:`~agnostic_mlp.training.parallel.Parallel` over any
:class:`~agnostic_mlp.distributed.communicator.Communicator`;
:class:`MPIDataParallel` is it over MPI. What holds across the processes:

- Every step, the gradients are summed with one allreduce
  (:class:`~agnostic_mlp.distributed.reduce.GradientAllreduce`), weighted by
  each process's batch, and every process applies the same update: N
  processes with ``batch_size`` B train the model one process trains on
  batches made of each process's batch, in rank order. A process whose shard
  runs out of batches first takes the remaining steps of the epoch without
  one.
- At the start, the processes check that they run the same fit (backend,
  dtype, layers, activations, loss, optimizer, batch size, epochs, logs,
  callbacks) and, once a checkpoint is resumed, that they hold the same
  weights, optimizer state and generator; else every process raises
  :class:`~agnostic_mlp.errors.ProcessMismatchError`, naming what differs.
- Each epoch, each process shuffles its own shard with a generator seeded by
  one draw from the model's (so the models' generators stay equal); the
  epoch's losses, hits and validation metrics are summed across processes in
  one allreduce, so every process logs the same numbers, stops at the same
  epoch and detects a divergence at the same batch.
- Progress and the tutorial's lines come from process 0, which alone writes
  checkpoints; every process resumes from them.
- An error on one process (not a divergence or a mismatch, which every
  process raises together) would leave the others waiting: it is printed and
  the job is ended (``MPI_Abort``), unless ``abort_on_error=False``. So is an
  exception the program does not catch, raised anywhere (bad data refused on
  one process before ``fit`` begins, a failed read of its shard): with more
  than one process, :class:`DataParallel` chains ``sys.excepthook`` to end
  the job, as ``python -m mpi4py`` does.
"""

from __future__ import annotations

import hashlib
import json
import sys
import traceback
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backends import Backend, to_numpy
from ..constraints import BOOLEAN, check
from ..errors import DivergenceError, NonFiniteError, ProcessMismatchError
from ..training.parallel import Counts, Parallel
from ..training.run import RunView, process_differences
from .communicator import Communicator
from .mpi import MPICommunicator
from .reduce import GradientAllreduce

__all__ = ["DataParallel", "MPIDataParallel"]


class DataParallel(Parallel):
    """Train one model across the processes of ``communicator``, each on its own data.

    Parameters
    ----------
    communicator : Communicator
        The processes that train together.
    abort_on_error : bool
        End every process when one fails with an error the others do not share
        (they would wait for it forever); with False the error is raised on
        that process alone, and ending the others is the program's task.

    Attributes
    ----------
    allreduce : GradientAllreduce or None
        The last ``fit``'s gradient reducer: its buffer path and time spent.
    """

    def __init__(self, communicator: Communicator, abort_on_error: bool = True) -> None:
        self.communicator = communicator
        self.abort_on_error = check(abort_on_error, "abort_on_error", BOOLEAN)
        self.rank = int(communicator.rank)
        self.size = int(communicator.size)
        self.allreduce: GradientAllreduce | None = None
        if self.abort_on_error and self.size > 1:
            _end_job_on_uncaught_exceptions(communicator, self.rank, self.size)

    @property
    def buffer_path(self) -> str | None:
        """How the last ``fit``'s gradients went to the communicator; None before a step."""
        return None if self.allreduce is None else self.allreduce.path

    def communication(self) -> dict[str, Any]:
        """The last ``fit``'s allreduces: buffer path, count, bytes each, seconds in all."""
        a = self.allreduce
        if a is None:
            return {"path": None, "steps": 0, "bytes": 0, "seconds": 0.0}
        return {"path": a.path, "steps": a.calls, "bytes": a.nbytes, "seconds": a.seconds}

    # -- the loop's hooks -----------------------------------------------------------

    def reducer(self, runtime: Backend) -> GradientAllreduce:
        self.allreduce = GradientAllreduce(self.communicator, runtime)
        return self.allreduce

    def agree(self, run: RunView, local: Counts) -> Counts:
        validation = 0 if run.validation is None else run.validation.n
        everyone = self.communicator.allgather(
            {"settings": run.spec.settings, "counts": local, "validation": validation})
        differ = process_differences([e["settings"] for e in everyone])
        if differ:
            raise ProcessMismatchError(
                f"the {self.size} processes do not run the same fit: {'; '.join(differ)}. "
                "Every process must build the same model and call fit with the same "
                "settings; only their data may differ.")
        counts: list[Counts] = [e["counts"] for e in everyone]
        n_val = sum(e["validation"] for e in everyone)
        total = 0.0
        for c in counts:  # in rank order, so that every process gets the same sum
            total += c.total
        return Counts(steps=max(c.steps for c in counts), samples=sum(c.samples for c in counts),
                      total=total, validation_share=validation / n_val if n_val else 0.0)

    def verify(self, run: RunView) -> None:
        model, state = run.model, run.optimizer.state
        mine = {
            "weights": _digest(to_numpy(p) for p in model.params.flat()),
            "optimizer state": None if state is None else _digest(
                [np.asarray(int(state.step))] + [to_numpy(a) for arrays in state.slots().values()
                                                 for a in arrays]),
            "random generator": hashlib.sha256(json.dumps(
                run.shuffle.shared(), sort_keys=True, default=_plain).encode()).hexdigest(),
            "epoch": run.epoch,
        }
        everyone = self.communicator.allgather(mine)
        differ = [k for k in mine if any(e[k] != everyone[0][k] for e in everyone)]
        if differ:  # the same seeds (the spec compared them), but not the same start
            raise ProcessMismatchError(
                f"the {self.size} processes do not start from the same {', '.join(differ)}. "
                "Build the model with the same seed on every process (or give every process "
                "the same weights and a fresh optimizer); a checkpoint must be on a file "
                "system that every process sees.")

    def generator(self, rng: np.random.Generator) -> np.random.Generator:
        # One draw on every process: the models' generators stay equal, whatever the shards.
        return np.random.default_rng([int(rng.integers(2**63)), self.rank])

    def sum(self, numbers: np.ndarray) -> np.ndarray:
        buffer = np.array(numbers, dtype=np.float64, copy=True)
        self.communicator.allreduce(buffer)
        return buffer

    def any(self, flag: bool) -> bool:
        buffer = np.array([1.0 if flag else 0.0])
        self.communicator.allreduce(buffer)
        return bool(buffer[0] > 0)

    def shards(self, value: Any) -> Any:
        return self.communicator.allgather(value)

    def failed(self, error: BaseException) -> None:
        if (isinstance(error, (DivergenceError, NonFiniteError, ProcessMismatchError))
                or self.size == 1
                or not self.abort_on_error):
            return  # every process raises it together, or none waits for this one
        print(f"agnostic_mlp: process {self.rank} of {self.size} failed during fit; ending "
              "every process (the others would wait for it):", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)
        self.communicator.abort(1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class MPIDataParallel(DataParallel):
    """Data parallelism over MPI: launch with ``mpiexec -n N python train.py``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The processes that train together; ``MPI.COMM_WORLD`` by default.
    cuda_aware : bool, optional
        Whether the MPI library takes CUDA memory (CuPy and torch GPU buffers
        then go to it directly); by default what the library says of itself.
    abort_on_error : bool
        As :class:`DataParallel`.

    Raises
    ------
    BackendUnavailableError
        If mpi4py is not installed (``pip install -e '.[mpi]'`` from a clone).
    """

    def __init__(self, comm: Any = None, *, cuda_aware: bool | None = None,
                 abort_on_error: bool = True) -> None:
        super().__init__(MPICommunicator(comm, cuda_aware), abort_on_error)


def _end_job_on_uncaught_exceptions(communicator: Communicator, rank: int, size: int) -> None:
    """After the usual traceback, an uncaught exception ends every process (once installed)."""
    previous = sys.excepthook
    if getattr(previous, "ends_the_job", False):
        return

    def hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        previous(kind, error, tb)
        print(f"agnostic_mlp: process {rank} of {size} stopped on an uncaught "
              f"{kind.__name__}; ending every process (the others would wait for it)",
              file=sys.stderr)
        communicator.abort(1)

    hook.ends_the_job = True  # type: ignore[attr-defined]
    sys.excepthook = hook


# -- what the processes compare ----------------------------------------------------


def _plain(value: Any) -> Any:
    """A generator's state entry as JSON data (arrays as lists)."""
    return value.tolist() if isinstance(value, np.ndarray) else str(value)


def _digest(arrays: Iterable[np.ndarray]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()
