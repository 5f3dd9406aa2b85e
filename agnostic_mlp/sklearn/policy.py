"""scikit-learn's ways inside the library's one ``fit`` loop: its shuffles, its validation
score and how it reads an epoch (:func:`sklearn_policy`).

The loop (:mod:`agnostic_mlp.training.loop`) is the native face's; these are
what scikit-learn does differently, handed to it as objects:

- :class:`SklearnShuffle`: the rows' order of each epoch drawn from the
  estimator's RandomState as ``sklearn.utils.shuffle`` draws it, each epoch's
  permutation applied to the last;
- :class:`ValidationScore`: early stopping's score (accuracy or R²) made of
  parts computed on the device;
- the epoch's loss as scikit-learn averages it (each batch's mean loss,
  weighted by its size), no training accuracy, and scikit-learn's ValueError
  when the weights stop being finite (without early stopping; with it,
  scikit-learn goes on and keeps the best weights, and so does the loop).

Its stopping rules are a callback (:mod:`.stopping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._typing import Array
from ..activations import Activation
from ..backends import Backend
from ..engine import Params, forward
from ..losses import Loss
from ..metrics import Score
from ..training.epoch import Block
from ..training.loop import Policy
from ..training.parallel import Parallel
from ..training.streamed import StreamedDataset
from .data import full_batch, outputs_and_targets

__all__ = ["NONFINITE", "SklearnShuffle", "ValidationScore", "sklearn_policy"]

NONFINITE = ("Solver produced non-finite parameter weights. The input data may contain "
             "large values and need to be preprocessed.")


class SklearnShuffle:
    """Each epoch's order: ``sklearn.utils.shuffle(index, random_state=rng)`` of the last.

    The same draw as scikit-learn's (a permutation of ``arange(n)`` shuffled in
    place, then taken), without its per-call validation, which costs more than
    a small epoch. The order goes to the device once per epoch.

    Streamed data is shuffled as ``MLP.fit`` shuffles it (the windows' order,
    then the rows' within each window: :mod:`agnostic_mlp.training.streamed`),
    by a generator seeded once from ``rng``, when the first epoch draws.

    Across processes, each shuffles its own rows by a permutation seeded from
    one draw of ``rng`` and its rank, so that every process's ``rng`` stays alike
    whatever its shard (scikit-learn has no such run to match).
    """

    def __init__(self, rng: np.random.RandomState, n: int, shuffle: bool) -> None:
        self.rng, self.shuffle, self.n = rng, shuffle, n
        self.index: np.ndarray | None = None  # drawn by the first in-memory epoch
        self.generator: np.random.Generator | None = None

    def blocks(self, data: Any, runtime: Backend, batch_size: int,
               parallel: Parallel) -> Iterable[Block]:
        if isinstance(data, StreamedDataset):
            if self.shuffle and self.generator is None:
                self.generator = np.random.default_rng(self.rng.randint(2**32, size=4))
            return data.blocks(runtime, self.generator, self.shuffle, batch_size)
        if not self.shuffle:
            return data.ordered(runtime, None, batch_size)
        if parallel.size == 1:
            permutation = np.arange(self.n)
            self.rng.shuffle(permutation)
        else:
            seed = [int(s) for s in self.rng.randint(2**31, size=2)]  # alike everywhere
            permutation = np.random.default_rng([*seed, parallel.rank]).permutation(self.n)
        self.index = permutation if self.index is None else self.index[permutation]
        return data.ordered(runtime, self.index, batch_size)

    def state(self) -> Any:
        generator = None if self.generator is None else self.generator.bit_generator.state
        return self.rng.get_state(), self.index, generator

    def shared(self) -> Any:
        """The RandomState's (and the streamed generator's) state; the rows' orders are each
        process's own."""
        state = self.state()
        return state[0], state[2]

    def restore(self, state: Any) -> None:
        self.rng.set_state(state[0])
        self.index = state[1]
        if state[2] is None:
            self.generator = None
        else:
            assert self.generator is not None
            self.generator.bit_generator.state = state[2]


@dataclass(frozen=True)
class ValidationScore:
    """Early stopping's score (the estimator's accuracy or R²) of the network's outputs on
    the held-out data; every process's parts are merged on the host.

    With it comes the held-out data's loss: the estimator's loss (as in
    ``loss_curve_``, weighted by the held-out samples' weights) *without* the L2
    term, which is a property of the weights, not of the data. Each epoch's is
    appended to :attr:`losses` when :meth:`value` merges the parts.
    """

    activations: Sequence[Activation]
    metric: Score
    loss: Loss
    losses: list[float] = field(default_factory=list)

    def parts(self, runtime: Backend, params: Params, data: Any) -> Array:
        xp = runtime.xp
        out, y = outputs_and_targets(runtime, self.activations, params, data)
        score = xp.astype(self.metric.parts(xp, out, y, data.weights), runtime.dtype)
        total: Any = 0.0
        weight: Any = 0.0
        for x, t, w in full_batch(runtime, data, params)():
            piece_out, z = forward(xp, self.activations, params, x)
            size = float(x.shape[0]) if w is None else xp.sum(w)
            total = total + self.loss.value(xp, t, piece_out, z, w) * size
            weight = weight + size
        loss = xp.stack([xp.asarray(total, dtype=runtime.dtype, device=runtime.device),
                         xp.asarray(weight, dtype=runtime.dtype, device=runtime.device)])
        return xp.concat([score, loss])

    def value(self, parts: Sequence[np.ndarray]) -> float:
        host = [np.asarray(p, dtype=np.float64) for p in parts]
        sums = np.sum([p[-2:] for p in host], axis=0)
        self.losses.append(float(sums[0] / sums[1]))
        return self.metric.value([p[:-2] for p in host])


def sklearn_policy(score: ValidationScore | None) -> Policy:
    """How scikit-learn reads an epoch; ``score`` with early stopping."""
    return Policy(train_accuracy=False, val_metrics=False, batch_mean_loss=True, score=score,
                  divergence="raise" if score is None else "ignore",
                  divergence_message=NONFINITE)
