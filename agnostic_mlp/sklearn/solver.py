"""scikit-learn's stochastic solver loop (``_fit_stochastic``), on the library's runners.

Each epoch is one call of a runner (:func:`~agnostic_mlp.training.epoch.make_runner`)
over the epoch's blocks, then ONE transfer of its numbers to the host (the
batches' losses, whether the weights are finite, the validation score's parts),
then scikit-learn's bookkeeping, in its order:

1. the epoch's loss is the batches' losses (each with its L2 term) weighted by
   their sizes; ``t_`` grows by the samples seen;
2. the no-improvement count follows the training loss (``tol``), or with early
   stopping the validation score, whose best weights are kept;
3. the optimizer's end-of-epoch hook (``invscaling``);
4. past ``n_iter_no_change`` epochs without improvement, the optimizer stops
   training, or (``adaptive`` SGD) divides its rate by 5 and training goes on.

Shuffling draws from the estimator's RandomState as ``sklearn.utils.shuffle`` does,
and the order goes to the device once per epoch. An epoch
whose weights are not finite stops training with scikit-learn's ValueError;
the estimator then restores itself (nothing of the failed call remains).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._typing import Array
from ..backends import Backend, to_numpy
from ..engine import Objective, Params
from ..optimizers import OptimizerState
from ..training.epoch import make_runner
from ..training.interrupts import deferred_interrupts
from .optimizers import SklearnOptimizer
from .rows import Rows

# Warnings point at the caller of fit or partial_fit: this module is 5 calls below it.
__all__ = ["NONFINITE", "Data", "Progress", "Run", "Validation", "fit_stochastic"]

NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain "
             "large values and need to be preprocessed.")


@dataclass(frozen=True)
class Data:
    """Training rows and their device targets and weights."""

    rows: Rows
    y: Array
    weights: Array | None = None


@dataclass(frozen=True)
class Validation:
    """The held-out set of early stopping, and how a score is made of the outputs.

    ``parts(xp, out, y, weights)`` gives a 1-D device array; ``score(host_parts)``
    turns it into the float scikit-learn's ``_score`` would give.
    """

    data: Data
    parts: Callable[[Any, Array, Array, Array | None], Array]
    score: Callable[[np.ndarray], float]


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
    no_improvement_count: int = 0
    best_params: Params | None = None


@dataclass(frozen=True)
class Run:
    """The settings of one call."""

    max_iter: int
    batch_size: int
    shuffle: bool
    tol: float
    n_iter_no_change: float
    verbose: bool
    incremental: bool


def _batch_weight_sums(xp: Any, weights: Array, order: Array | None, batch_size: int) -> Array:
    w = weights if order is None else xp.take(weights, order, axis=0)
    n = int(w.shape[0])
    full = n // batch_size
    parts = []
    if full:
        parts.append(xp.sum(xp.reshape(w[:full * batch_size], (full, batch_size)), axis=1))
    if n > full * batch_size:
        parts.append(xp.sum(w[full * batch_size:])[None])
    return xp.concat(parts)


def _shuffled(index: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """``sklearn.utils.shuffle(index, random_state=rng)``: the same draw (a permutation
    of ``arange(n)`` shuffled in place, then taken), without its per-call validation,
    which costs more than a small epoch."""
    permutation = np.arange(index.shape[0])
    rng.shuffle(permutation)
    return index[permutation]


def fit_stochastic(runtime: Backend, objective: Objective, optimizer: SklearnOptimizer,
                   params: Params, state: OptimizerState, train: Data,
                   validation: Validation | None, run: Run, rng: np.random.RandomState,
                   progress: Progress) -> tuple[Params, OptimizerState]:
    """Train for up to ``run.max_iter`` epochs (one if incremental); return the parameters
    and optimizer state, the best ones (by validation score) with early stopping.

    ``progress`` and ``optimizer.learning_rate`` are updated as the epochs go.

    Raises
    ------
    ValueError
        If the weights become non-finite.
    """
    xp = runtime.xp
    n = train.rows.n
    bs = run.batch_size
    sizes = np.array([min(bs, n - lo) for lo in range(0, n, bs)], dtype=np.float64)
    weighted = train.weights is not None
    runner = make_runner(runtime, objective, optimizer, weighted=weighted, hits=False)
    sample_idx = np.arange(n)
    n_params = len(params.flat())
    try:
        for _ in range(run.max_iter):
            order = None
            if run.shuffle:
                sample_idx = _shuffled(sample_idx, rng)
                order = xp.asarray(sample_idx, device=runtime.device)
            blocks = train.rows.blocks(runtime, train.y, train.weights,
                                       sample_idx if run.shuffle else None, order, bs)
            rates = [optimizer.learning_rate] * len(sizes)
            result = runner.run(params, state, blocks, rates)
            parts = [xp.concat(result.losses)]
            if train.weights is not None:
                parts.append(xp.astype(_batch_weight_sums(xp, train.weights, order, bs),
                                       runtime.dtype))
            parts.append(xp.astype(xp.stack([xp.all(xp.isfinite(p))
                                             for p in result.params.flat()]), runtime.dtype))
            if validation is not None:
                v = validation.data
                out = v.rows.forward(runtime, objective.activations, result.params)
                parts.append(xp.astype(validation.parts(xp, out, v.y, v.weights), runtime.dtype))
            host = to_numpy(xp.concat(parts)).astype(np.float64)  # the epoch's one transfer
            nb = len(sizes)
            # Each sample's share of its batch's loss, in training order: summed per batch.
            sums, pos = np.add.reduceat(host[:n], np.arange(0, n, bs)), n
            if weighted:
                batch_losses = sums / host[pos:pos + nb] * sizes
                pos += nb
            else:
                batch_losses = sums
            if validation is None and not host[pos:pos + n_params].all():
                # Without early stopping nothing could bring finite weights back: stop now
                # with the error scikit-learn raises at the end. With it, scikit-learn goes
                # on (the scores are NaN) and keeps the best weights: so does this loop.
                raise ValueError(NONFINITE)
            pos += n_params
            with deferred_interrupts():  # the epoch is taken whole, or not at all
                params, state = result.params, result.state
                stop = _end_epoch(progress, optimizer, run, n, float(batch_losses.sum()) / n,
                                  None if validation is None else validation.score(host[pos:]),
                                  result.params)
            if stop or run.incremental:
                break
            if progress.n_iter == run.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({run.max_iter}) reached and the "
                    "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=6)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.", stacklevel=6)
    if validation is not None and progress.best_params is not None:
        params = progress.best_params
        if not all(bool(xp.all(xp.isfinite(p))) for p in params.flat()):
            raise ValueError(NONFINITE)
    return params, state


def _end_epoch(progress: Progress, optimizer: SklearnOptimizer, run: Run, n: int, loss: float,
               score: float | None, params: Params) -> bool:
    """scikit-learn's bookkeeping after an epoch; whether to stop."""
    progress.n_iter += 1
    progress.loss = loss
    progress.t += n
    progress.loss_curve.append(loss)
    if run.verbose:
        print(f"Iteration {progress.n_iter}, loss = {loss:.8f}")
    if score is not None:
        assert progress.validation_scores is not None and progress.best_validation_score is not None
        progress.validation_scores.append(score)
        if run.verbose:
            print(f"Validation score: {score:f}")
        if score < progress.best_validation_score + run.tol:
            progress.no_improvement_count += 1
        else:
            progress.no_improvement_count = 0
        if score > progress.best_validation_score:
            progress.best_validation_score = score
            progress.best_params = params
    else:
        assert progress.best_loss is not None
        if loss > progress.best_loss - run.tol:
            progress.no_improvement_count += 1
        else:
            progress.no_improvement_count = 0
        if loss < progress.best_loss:
            progress.best_loss = loss
    optimizer.iteration_ends(progress.t)
    if progress.no_improvement_count > run.n_iter_no_change:
        what = "Validation score" if score is not None else "Training loss"
        message = (f"{what} did not improve more than tol={run.tol:f} for "
                   f"{int(run.n_iter_no_change)} consecutive epochs.")
        stop, tail = optimizer.trigger_stopping()
        if run.verbose:
            print(message + tail)
        if stop:
            return True
        progress.no_improvement_count = 0
    return False
