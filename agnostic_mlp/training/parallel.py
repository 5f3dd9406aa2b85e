"""How one ``fit`` is shared among processes: the points where the loop asks.

The loop (:mod:`agnostic_mlp.training.loop`) consults a :class:`Parallel` at a
few points of a run, and nowhere else:

- :meth:`~Parallel.reducer`: the engine's ``reduce`` for the runner, which
  combines each step's gradients across processes;
- :meth:`~Parallel.agree`, before anything else: the processes check that they
  run the same fit, and agree on the steps of an epoch and the data's totals;
- :meth:`~Parallel.verify`, once callbacks have begun (a checkpoint resumed):
  the processes start from the same weights, optimizer state and generator;
- :meth:`~Parallel.generator`: what shuffles this process's rows this epoch;
- :meth:`~Parallel.sum`: the epoch's numbers (losses, hits, validation), added
  up across processes in the one transfer per epoch;
- :meth:`~Parallel.any`: whether any process's callbacks stop training;
- :meth:`~Parallel.shards`: a per-process value (a digest of this process's
  data, for a checkpoint's fingerprint), as every process sees it;
- :attr:`~Parallel.is_root`: callbacks that only report (progress, the
  tutorial's lines) run on the first process alone, and it alone writes
  checkpoints;
- :meth:`~Parallel.failed`: what an error on one process does to the others.

This base class is one process alone: every hook leaves things as they are,
so a plain ``fit`` runs exactly as it would without it.
:class:`agnostic_mlp.distributed.DataParallel` trains across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends import Backend
from ..engine import Reduce

__all__ = ["Counts", "Parallel"]


@dataclass(frozen=True)
class Counts:
    """How much data one fit trains on, for one process or all of them.

    Attributes
    ----------
    steps : int
        Optimisation steps per epoch.
    samples : int
        Training samples.
    total : float
        Training samples, or their summed weights.
    validation_share : float
        This process's share of the validation samples (1.0 alone; 0.0 without
        validation data).
    """

    steps: int
    samples: int
    total: float
    validation_share: float = 1.0


class Parallel:
    """Training in one process: the base of every way of sharing a fit among processes.

    Attributes
    ----------
    rank : int
        This process's number, 0 for the first.
    size : int
        How many processes train together.
    """

    rank = 0
    size = 1

    @property
    def is_root(self) -> bool:
        """Whether this is the first process, which reports and writes checkpoints."""
        return self.rank == 0

    def reducer(self, runtime: Backend) -> Reduce | None:
        """The engine's ``reduce`` for gradients on ``runtime``; None alone."""
        return None

    def agree(self, run: Any, local: Counts) -> Counts:
        """Check that every process runs the same ``run`` (a read-only
        :class:`~.run.RunView`: its ``spec``); return the counts over all of them."""
        return local

    def verify(self, run: Any) -> None:
        """Check that every process starts from the same weights, state and generator."""

    def generator(self, rng: np.random.Generator) -> np.random.Generator:
        """What shuffles this process's rows for one epoch, drawn from the model's ``rng``."""
        return rng

    def sum(self, numbers: np.ndarray) -> np.ndarray:
        """``numbers`` (float64, the same length everywhere) added up across processes."""
        return numbers

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process."""
        return flag

    def shards(self, value: Any) -> Any:
        """A value that differs between processes (of their data), as every process sees it.

        Alone, the value itself; across processes, every process's, in rank order.
        """
        return value

    def failed(self, error: BaseException) -> None:
        """Called with an error that ends ``fit`` on this process, before it is raised."""
