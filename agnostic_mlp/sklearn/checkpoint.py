"""The estimators' checkpoints: ``checkpoint=path`` saves the fit after every epoch, and the
same ``fit`` run again resumes from the file.

A checkpoint is an estimator file (:mod:`.persistence`) of the run so far,
with one more entry, ``run``: the run's fingerprint (the estimator's
parameters but ``max_iter``, ``verbose``, ``callbacks``, ``backend``,
``device``, ``checkpoint`` and ``parallel``; the network's layers and dtype;
a digest of every process's training and validation data, as ``MLP.fit``'s
checkpoints digest them), whether the rules had stopped the run, and, for
each process, the RandomState's state with the order scikit-learn's shuffles
have reached. So a run killed at any point and run again ends with the
uninterrupted run's weights, bit for bit on NumPy. A checkpoint of another
run is refused, naming what differs. Across processes, the first writes the
file and every process resumes from it (on a file system they all see).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from ..backends import Backend
from ..config import json_list, json_object
from ..constraints import BOOLEAN, Integer, Real, check
from ..errors import InvalidArgumentError, ModelFileError
from ..io.atomic import check_destination
from ..io.format import Schema, write_entries
from ..io.rng import generator_from_json, generator_to_json
from ..training.callbacks import Callback
from ..training.checkpointing import data_digest
from ..training.parallel import Parallel
from ..training.run import differences
from . import persistence
from .policy import SklearnShuffle
from .stopping import Progress, SklearnStopping

__all__ = ["EstimatorCheckpoint", "Resumed"]

#: The parameters that do not make another run: how long it goes, and what it prints.
_NOT_THE_RUN = ("max_iter", "verbose", "callbacks", "backend", "device", "checkpoint",
                "parallel")


def _state_to_json(rng: np.random.RandomState) -> dict[str, Any]:
    state = rng.get_state(legacy=False)
    twin = np.random.Generator(np.random.MT19937())
    twin.bit_generator.state = {"bit_generator": "MT19937", "state": state["state"]}
    return {"mt19937": generator_to_json(twin), "has_gauss": int(state["has_gauss"]),
            "gauss": float(state["gauss"])}


def _state_from_json(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"mt19937", "has_gauss", "gauss"}:
        raise InvalidArgumentError("its random_state must hold mt19937, has_gauss and gauss")
    twin = generator_from_json(data["mt19937"], "random_state")
    if type(twin.bit_generator).__name__ != "MT19937":
        raise InvalidArgumentError("its random_state is not an MT19937 state")
    return {"bit_generator": "MT19937", "state": twin.bit_generator.state["state"],
            "has_gauss": check(data["has_gauss"], "has_gauss", Integer(0, 1)),
            "gauss": check(data["gauss"], "gauss", Real())}


class Resumed:
    """A checkpoint read back: the estimator of the run so far and where its run stood."""

    def __init__(self, estimator: Any, run: dict[str, Any], index: np.ndarray | None) -> None:
        self.estimator, self.run, self.index = estimator, run, index


class EstimatorCheckpoint(Callback):
    """Save the estimator's fit after every epoch to ``path``; resume from it.

    Parameters
    ----------
    path : str or os.PathLike
    estimator : BaseMLP
        The estimator being fitted (read, never changed, until the fit ends).
    fingerprint : dict
        The run's identity (:meth:`fingerprint`).
    stopping : SklearnStopping
    shuffle : SklearnShuffle
    settings : Settings
        The checked parameters.
    """

    def __init__(self, path: Any, estimator: Any, fingerprint: dict[str, Any],
                 stopping: SklearnStopping, shuffle: SklearnShuffle, settings: Any,
                 parallel: Parallel) -> None:
        self.path = check_destination(path, "checkpoint")
        self.estimator, self.identity = estimator, fingerprint
        self.stopping, self.shuffle, self.settings = stopping, shuffle, settings
        self.parallel = parallel

    def get_config(self) -> dict[str, Any]:
        return {"path": self.path}

    @staticmethod
    def fingerprint(estimator: Any, runtime: Backend, layers: list[int], train: Any,
                    validation: Any, parallel: Parallel) -> dict[str, Any]:
        """The run's identity, as JSON data (every process's data digests, in rank order)."""
        params = {k: persistence.param_to_json(k, v) if k != "random_state" or not isinstance(
            v, np.random.RandomState) else "RandomState"
            for k, v in estimator.get_params(deep=False).items() if k not in _NOT_THE_RUN}
        return {"class": type(estimator).__name__, "params": params, "layers": layers,
                "dtype": runtime.dtype_name, "data": parallel.shards(data_digest(runtime, train)),
                "validation": None if validation is None else parallel.shards(
                    data_digest(runtime, validation))}

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        progress, stopping = self.stopping.progress, self.stopping
        view = copy.copy(self.estimator)  # the estimator as the run now stands
        view._commit(stopping.params, progress, self.settings)
        view._optimizer = self.run.optimizer
        if self.settings.early_stopping and progress.best_params is not None:
            output = view._placement.output
            view._best_coefs = [output(w) for w in progress.best_params.weights]
            view._best_intercepts = [output(b) for b in progress.best_params.biases]
        shuffle, parallel = self.shuffle, self.parallel
        # Each process shuffles its own rows: every process's order goes into the file.
        mine = {"random_state": _state_to_json(shuffle.rng), "rows": shuffle.n,
                "generator": None if shuffle.generator is None else generator_to_json(
                    shuffle.generator)}
        orders = [shuffle.index] if parallel.size == 1 else parallel.shards(shuffle.index)
        processes = [mine] if parallel.size == 1 else parallel.shards(mine)
        if not parallel.is_root:  # the others hold the same weights: one writer
            return
        spec, arrays = persistence.describe(view)
        for rank, (process, index) in enumerate(zip(processes, orders, strict=True)):
            process["shuffled"] = index is not None
            if index is not None:
                arrays[f"run.index.{rank}"] = index.astype(np.float64)
        run = {"fingerprint": self.identity, "stopped": stopping.stopped,
               "processes": processes}
        write_entries(self.path, {"estimator": spec, "run": run}, arrays)

    def saved(self) -> Resumed | None:
        """The checkpoint at ``path`` if there is one; ModelFileError if it is another run's."""
        if not os.path.exists(self.path):
            return None
        est = self.estimator
        runtime = est._placement.runtime

        def run_of(data: Any, code: str) -> tuple[dict[str, Any], Schema]:
            json_object(data, "its run", {"fingerprint", "stopped", "processes"})
            check(data["stopped"], "stopped", BOOLEAN)
            processes = json_list(data["processes"], "its processes")
            if len(processes) != self.parallel.size:
                raise InvalidArgumentError(f"it was written by {len(processes)} processes, "
                                           f"not {self.parallel.size}")
            schema: Schema = {}
            for rank, process in enumerate(processes):
                json_object(process, "a process's run",
                            {"random_state", "shuffled", "rows", "generator"})
                rows = check(process["rows"], "rows", Integer(1, 2**53))
                if check(process["shuffled"], "shuffled", BOOLEAN):
                    schema[f"run.index.{rank}"] = ((rows,), "F64", True)
                if process["generator"] is not None:
                    generator_from_json(process["generator"], "generator")
                _state_from_json(process["random_state"])
            return data, schema

        backend, device = runtime.portable()
        resumed, run, arrays = persistence.read(type(est), self.path, backend, device, run_of)
        differ = differences(run["fingerprint"], self.identity)
        if differ:
            raise ModelFileError(
                f"the checkpoint {self.path} belongs to a different run: {'; '.join(differ)}. "
                "Delete it, or pass another checkpoint path, to start afresh.")
        rank = self.parallel.rank
        process = run["processes"][rank]
        index = None
        if process["shuffled"]:
            host = arrays[f"run.index.{rank}"]
            index = host.astype(np.int64)
            if not np.array_equal(np.sort(index), np.arange(host.shape[0])) or not (
                    np.array_equal(index, host)):
                raise ModelFileError(f"the checkpoint {self.path} cannot resume this run: its "
                                     "shuffled order is not a permutation of the rows")
        return Resumed(resumed, {**process, "stopped": run["stopped"]}, index)

    def restore(self, resumed: Resumed, params: Any, best: Any) -> None:
        """Put the run where the checkpoint left it, its weights ``params`` and best ``best``
        (on the device); nothing is checked here."""
        run, shuffle = resumed.run, self.shuffle
        shuffle.rng.set_state(_state_from_json(run["random_state"]))
        shuffle.index = resumed.index
        shuffle.generator = None if run["generator"] is None else generator_from_json(
            run["generator"])
        self.stopping.progress = _progress_of(resumed.estimator, best)
        self.stopping.params = params
        self.stopping.stopped = run["stopped"]


def _progress_of(est: Any, best: Any) -> Progress:
    """The stopping rules' record, from an estimator's fitted attributes."""
    return Progress(n_iter=est.n_iter_, t=est.t_, loss=est.loss_,
                    loss_curve=list(est.loss_curve_), best_loss=est.best_loss_,
                    validation_scores=None if est.validation_scores_ is None else list(
                        est.validation_scores_),
                    best_validation_score=est.best_validation_score_,
                    validation_loss_curve=None if est.validation_loss_curve_ is None else list(
                        est.validation_loss_curve_),
                    no_improvement_count=est._no_improvement_count, best_params=best)

