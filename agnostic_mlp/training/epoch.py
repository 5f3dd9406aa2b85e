"""One pass over the batches: the engine's step, batch after batch, on the device.

A :class:`Block` is device data and the order its rows are taken in; an epoch
is one block (data in memory) or several (data streamed from disk). The
runners return the new parameters and optimizer state with the batches' loss
sums and hit counts still on the device: nothing here waits for the device.

:class:`EagerRunner` calls the engine once per batch. SGD (without weight
decay or Nesterov's momentum) takes the engine's fused
:func:`~agnostic_mlp.engine.descent_step`, and where the backend offers an
in-place descent (writeable arrays in the CPU's memory) it updates a private
copy of the weights (or of their momentum buffers) in place.
:class:`CompiledRunner` (JAX) compiles a whole block of full batches into one
``lax.scan``.

Across processes, a runner is given the engine's ``reduce`` and as many rates
as the processes' longest epoch has steps: a process whose batches run out
first takes the remaining steps without a batch (it adds nothing to their
gradients, and applies their update), so every process takes every step.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .._typing import Array, Namespace
from ..backends import Backend
from ..engine import (
    Objective,
    Params,
    Reduce,
    all_finite,
    descent_step,
    evaluate,
    pure_descend,
    train_step,
)
from ..optimizers import Optimizer, OptimizerState
from .batches import batch_count, bounds_of

__all__ = ["Block", "EpochResult", "Runner", "epoch_summary", "make_runner"]


@dataclass(frozen=True)
class Block:
    """Device data and the order of its rows: batches are consecutive ``batch_size`` rows.

    Attributes
    ----------
    x, y : array
        Features and targets on the device.
    weights : array or None
        Per-sample weights.
    order : array or None
        The rows to take, in order (an index array on the device): a permutation
        of them, or of some of them. None takes every row in order.
    batch_size : int
    """

    x: Array
    y: Array
    weights: Array | None
    order: Array | None
    batch_size: int

    @property
    def n(self) -> int:
        """Rows the block trains on."""
        return int((self.x if self.order is None else self.order).shape[0])

    @property
    def n_batches(self) -> int:
        """Batches in the block; the last may be short."""
        return batch_count(self.n, self.batch_size)

    def batch(self, xp: Namespace, b: int) -> tuple[Array, Array, Array | None]:
        """Batch ``b``: views of the rows in order, or the gathered rows of the order."""
        lo, hi = bounds_of(b, self.n, self.batch_size)
        w = self.weights
        if self.order is None:  # the standard forbids stops past the end: hence min
            return self.x[lo:hi, ...], self.y[lo:hi, ...], None if w is None else w[lo:hi]
        idx = self.order[lo:hi]
        return (xp.take(self.x, idx, axis=0), xp.take(self.y, idx, axis=0),
                None if w is None else xp.take(w, idx, axis=0))

    def batch_sums(self, xp: Namespace, values: Array) -> Array:
        """``values``, one per row in training order, summed per batch (on the device)."""
        n, bs = self.n, self.batch_size
        full = n // bs
        sums = [xp.sum(xp.reshape(values[:full * bs], (full, bs)), axis=1)] if full else []
        if n > full * bs:
            sums.append(xp.reshape(xp.sum(values[full * bs:]), (1,)))
        return xp.concat(sums)

    def weight_sums(self, xp: Namespace) -> Array:
        """Each batch's summed sample weights (the block must have weights)."""
        assert self.weights is not None
        w = self.weights if self.order is None else xp.take(self.weights, self.order, axis=0)
        return self.batch_sums(xp, w[:self.n])


@dataclass
class EpochResult:
    """What a pass over some batches leaves: parameters, state, and per-batch numbers.

    Attributes
    ----------
    params : Params
    state : OptimizerState
    losses : list of array
        Per block, each batch's summed loss (a 1-D device array): a number
        per batch, not per sample, stays on the device until the epoch ends.
    hits : list of array
        Per block, each batch's correct predictions (empty unless classifying).
    weight_sums : list of array
        Per block, each batch's summed sample weights (empty unless weighted).
    """

    params: Params
    state: OptimizerState
    losses: list[Array] = dataclasses.field(default_factory=list)
    hits: list[Array] = dataclasses.field(default_factory=list)
    weight_sums: list[Array] = dataclasses.field(default_factory=list)


class Runner:
    """Runs batches through the engine's step; see :func:`make_runner`."""

    def __init__(self, runtime: Backend, objective: Objective, optimizer: Optimizer,
                 weighted: bool = False, reduce: Reduce | None = None,
                 hits: bool | None = None) -> None:
        self.runtime, self.objective, self.optimizer = runtime, objective, optimizer
        self.weighted, self.reduce = weighted, reduce
        self.head = objective.loss.head
        # Whether to count each batch's correct predictions (for a training accuracy).
        self.hits = self.head.classifier if hits is None else hits
        # Told how many of the epoch's batches have been handed to the device so far, as
        # they are (after each batch, or each compiled block): a host count that waits
        # for nothing, for a progress display within long epochs.
        self.tick: Callable[[int], None] | None = None

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        """Every batch of ``blocks`` in turn, ``rates[k]`` the learning rate of the k-th.

        ``blocks`` is iterated once, lazily (streamed data is read as it goes).
        Rates beyond the batches are steps without a batch (with ``reduce`` only).
        """
        raise NotImplementedError

    def _keep(self, result: EpochResult, losses: Array, block: Block) -> None:
        """Record a block's per-sample losses, summed per batch (and its batches' weights)."""
        xp = self.runtime.xp
        result.losses.append(block.batch_sums(xp, losses))
        if self.weighted:
            result.weight_sums.append(block.weight_sums(xp))

    def summary(self, result: EpochResult,
                validation: tuple[Array, Array] | None) -> dict[str, Array]:
        """The epoch's numbers as named device arrays: see :func:`epoch_summary`."""
        return epoch_summary(self.runtime.xp, self.objective, result.params, result.losses,
                             result.hits, validation)

    def steps(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
              rates: Sequence[float]) -> Iterator[tuple[Params, OptimizerState]]:
        """The parameters and state after each batch, one batch at a time (to find a bad one).

        Always out of place: ``params`` stays as it was.
        """
        xp, objective, optimizer = self.runtime.xp, self.objective, self.optimizer
        fused = self.fused()
        # As run() computes it, so that the same batch is found: a fused GEMM rounds
        # otherwise than a product then a subtraction. Into a copy per step, so that
        # every step yielded stays as it was.
        descend = (self.runtime.in_place_descent if fused else None) or pure_descend
        k = 0
        for block in blocks:
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                if fused:
                    params, state = self._descend(params, state, xb, yb, rates[k], descend,
                                                  private=descend is not pure_descend)
                else:
                    params, state, _, _ = train_step(xp, objective, optimizer, params, state,
                                                     xb, yb, rates[k], wb, self.reduce)
                k += 1
                yield params, state
        for j in range(k, len(rates)):  # no batch left here; the other processes' steps
            params, state, _, _ = train_step(xp, objective, optimizer, params, state, None,
                                             None, rates[j], None, self.reduce)
            yield params, state

    def _descend(self, params: Params, state: OptimizerState, xb: Array, yb: Array, lr: float,
                 descend: Callable[..., Array], private: bool) -> tuple[Params, OptimizerState]:
        """One :func:`descent_step` on its own copies (``private``: of what ``descend``
        writes into), with the state it leaves."""
        xp = self.runtime.xp
        mu, buffers = self._buffers(params, state)
        if private:
            params, buffers = _private(xp, params, buffers)
        params, buffers, _, _ = descent_step(xp, self.objective, params, xb, yb, lr, descend,
                                             mu, buffers)
        return params, _advanced(state, 1, buffers)

    def _buffers(self, params: Params, state: OptimizerState) -> tuple[float, Params | None]:
        """The momentum and its buffers as parameters (None for plain SGD)."""
        mu = self.optimizer.descent_momentum or 0.0
        return mu, (params.like(state.momentum) if mu else None)  # type: ignore[attr-defined]

    def fused(self) -> bool:
        """Whether SGD may be applied during backprop (:func:`descent_step`)."""
        return (self.optimizer.descent_momentum is not None and self.reduce is None
                and not self.objective.l2 and not self.weighted)


def _private(xp: Namespace, params: Params,
             buffers: Params | None) -> tuple[Params, Params | None]:
    """Copies of what an in-place descent writes into: the weights, or their buffers."""
    if buffers is None:
        return Params(tuple(xp.asarray(w, copy=True) for w in params.weights),
                      params.biases), None
    return params, Params(tuple(xp.asarray(b, copy=True) for b in buffers.weights),
                          buffers.biases)


def _advanced(state: OptimizerState, steps: int, buffers: Params | None) -> OptimizerState:
    """``state`` after ``steps`` fused steps that left ``buffers``."""
    if buffers is None:
        return dataclasses.replace(state, step=state.step + steps)
    return dataclasses.replace(state, step=state.step + steps,  # type: ignore[call-arg]
                               momentum=buffers.flat())  # an SGDState: only SGD fuses


class EagerRunner(Runner):
    """One engine call per batch."""

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        xp, objective, optimizer, reduce = (
            self.runtime.xp, self.objective, self.optimizer, self.reduce)
        fused = self.fused()
        descend: Callable[..., Array] = pure_descend
        mu, buffers = self._buffers(params, state) if fused else (0.0, None)
        if fused and self.runtime.in_place_descent is not None:
            # In place only into private copies: the committed arrays stay as they are.
            descend = self.runtime.in_place_descent
            params, buffers = _private(xp, params, buffers)
        count = self.hits
        correct = self.head.correct
        tick = self.tick
        result = EpochResult(params, state)
        k = 0
        for block in blocks:
            losses: list[Array] = []
            hits: list[Array] = []
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                if fused:
                    params, buffers, sums, out = descent_step(
                        xp, objective, params, xb, yb, rates[k], descend, mu, buffers)
                else:
                    params, state, sums, out = train_step(
                        xp, objective, optimizer, params, state, xb, yb, rates[k], wb, reduce)
                k += 1
                losses.append(sums)
                if count:
                    hits.append(correct(xp, yb, out))
                if tick is not None:
                    tick(k)
            self._keep(result, xp.concat(losses), block)
            if count:
                result.hits.append(xp.stack(hits))
        if k < len(rates):  # no batch left here; the other processes' steps
            idle = len(rates) - k
            for j in range(k, len(rates)):
                params, state, _, _ = train_step(xp, objective, optimizer, params, state, None,
                                                 None, rates[j], None, reduce)
            if count:  # no hits in these steps; and no samples, so no losses
                result.hits.append(xp.zeros((idle,), dtype=self.runtime.dtype,
                                            device=self.runtime.device))
        if fused:
            state = _advanced(state, k, buffers)
        result.params, result.state = params, state
        return result


class CompiledRunner(Runner):
    """A whole block as one compiled function: its full batches as a ``scan``, then its last.

    Compiled functions are cached by what they close over (the objective, the
    optimizer's class and hyperparameters but the rate, the task), so each
    shape compiles once per process, whatever the number of ``fit`` calls. The
    committed parameters and state are never donated (a failed epoch must
    leave them as they were); inside the scan, XLA updates its carry in place.
    """

    _cache: ClassVar[dict[Any, tuple[Callable[..., Any], ...]]] = {}
    _lock = threading.Lock()
    _last_rates: tuple[tuple[float, ...], Array] | None = None

    def fused(self) -> bool:
        return False  # the compiled step is the optimizer's; XLA fuses it anyway

    def steps(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
              rates: Sequence[float]) -> Iterator[tuple[Params, OptimizerState]]:
        xp, runtime = self.runtime.xp, self.runtime
        host_step = int(state.step)
        state = self._traceable(state)
        one_step = self._compiled()[1]
        k = 0
        for block in blocks:
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                params, state, _, _ = one_step(params, state, xb, yb, wb,
                                               runtime.put(rates[k], runtime.dtype_name))
                k += 1
                yield params, dataclasses.replace(state, step=host_step + k)

    def _traceable(self, state: OptimizerState) -> OptimizerState:
        # The step count travels as a device scalar; the host keeps its own count.
        assert self.runtime.compiler is not None
        self.runtime.compiler.register(type(state))
        # From a Python int, a weakly typed scalar: Adam's powers of it stay in the
        # parameters' dtype (a NumPy int64 would make them float64 under JAX's x64).
        return dataclasses.replace(state, step=self.runtime.xp.asarray(int(state.step)))

    def _compiled(self) -> tuple[Callable[..., Any], ...]:
        optimizer = self.optimizer
        hyper = tuple(sorted((k, repr(v)) for k, v in optimizer.get_config().items()
                             if k != "learning_rate"))
        key = (self.objective, type(optimizer), hyper, self.hits)
        with self._lock:
            if key not in self._cache:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[key] = self._build()
            return self._cache[key]

    def _build(self) -> tuple[Callable[..., Any], ...]:
        compiler = self.runtime.compiler
        assert compiler is not None
        xp, objective, head, count = self.runtime.xp, self.objective, self.head, self.hits
        # The cache outlives this fit and is keyed by the hyperparameters as they are now:
        # a copy, not the user's instance, whose settings may change after (and no state).
        optimizer = copy.copy(self.optimizer)
        optimizer.state = None

        def step(params: Params, state: Any, xb: Array, yb: Array, wb: Array | None,
                 lr: Array) -> tuple[Params, Any, Array, Array]:
            params, state, sums, out = train_step(xp, objective, optimizer, params, state,
                                                  xb, yb, lr, wb)
            hits = head.correct(xp, yb, out) if count else sums[0]
            return params, state, sums, hits

        def rows_of(a: Array | None, rows: Array) -> Array | None:
            return None if a is None else xp.take(a, rows, axis=0)

        def block(params: Params, state: Any, x: Array, y: Array, w: Array | None,
                  order: Array | None, rates: Array,
                  batch_size: int) -> tuple[Params, Any, Array, Array]:
            n = x.shape[0] if order is None else order.shape[0]
            full, bs = n // batch_size, batch_size
            rows = order if order is not None else xp.arange(n)
            losses, hits = [], []
            if full:
                def batches(a: Array | None) -> Array | None:
                    # In order, the batches are slices of the data; shuffled, each
                    # step gathers its rows (no permuted copy of the data).
                    if a is None or order is not None:
                        return None
                    return xp.reshape(a[:full * bs, ...], (full, bs, *a.shape[1:]))

                def body(carry: Any, xs: Any) -> tuple[Any, Any]:
                    r, lr, xb, yb, wb = xs
                    if order is not None:
                        xb, yb, wb = rows_of(x, r), rows_of(y, r), rows_of(w, r)
                    p, s = carry
                    p, s, sums, h = step(p, s, xb, yb, wb, lr)
                    return (p, s), (sums, h)

                idx = xp.reshape(rows[:full * bs], (full, bs))
                (params, state), (s, h) = compiler.scan(
                    body, (params, state),
                    (idx, rates[:full], batches(x), batches(y), batches(w)))
                losses.append(xp.reshape(s, (-1,)))
                hits.append(h)
            if n > full * bs:
                r = rows[full * bs:]
                params, state, s, h = step(params, state, rows_of(x, r), rows_of(y, r),
                                           rows_of(w, r), rates[full])
                losses.append(s)
                hits.append(h[None])
            return params, state, xp.concat(losses), xp.concat(hits)

        return compiler.jit(block, static_argnums=(7,)), compiler.jit(step)

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        host_step = int(state.step)
        state = self._traceable(state)
        compiled_block = self._compiled()[0]
        result = EpochResult(params, state)
        k = 0
        for block in blocks:
            n_batches = block.n_batches
            lrs = self._rates(rates[k:k + n_batches])
            params, state, losses, hits = compiled_block(
                params, state, block.x, block.y, block.weights, block.order, lrs,
                block.batch_size)
            k += n_batches
            self._keep(result, losses, block)
            if self.hits:
                result.hits.append(hits)
            if self.tick is not None:
                self.tick(k)
        result.params = params
        result.state = dataclasses.replace(state, step=host_step + k)
        return result

    def _rates(self, rates: Sequence[float]) -> Array:
        """The rates on the device; the last block's again if they are the same (one
        ``device_put`` less an epoch, a third of a small epoch's time, at a constant rate)."""
        key = tuple(rates)
        cached = self._last_rates
        if cached is None or cached[0] != key:
            cached = (key, self.runtime.put(list(key), self.runtime.dtype_name))
            self._last_rates = cached
        return cached[1]

    def summary(self, result: EpochResult,
                validation: tuple[Array, Array] | None) -> dict[str, Array]:
        return self.runtime.compiled(epoch_summary, static_argnums=(0, 1))(
            self.runtime.xp, self.objective, result.params, result.losses, result.hits,
            validation)


def epoch_summary(xp: Namespace, objective: Objective, params: Params, losses: list[Array],
                  hits: list[Array], validation: tuple[Array, Array] | None
                  ) -> dict[str, Array]:
    """The epoch's numbers by name: ``losses`` (each batch's sum), ``finite`` (1 for each
    finite parameter, from :func:`~agnostic_mlp.engine.all_finite`: no mask), ``hits``
    (each batch's, when classifying) and ``val`` (the validation loss, and accuracy
    when classifying)."""
    dtype = params.weights[0].dtype
    parts = {"losses": xp.concat(losses),
             "finite": xp.astype(xp.stack([all_finite(xp, p) for p in params.flat()]), dtype)}
    if hits:
        parts["hits"] = xp.concat(hits)
    if validation is not None:
        metrics = evaluate(xp, objective.activations, objective.loss, params, *validation)
        parts["val"] = xp.stack([xp.astype(v, dtype) for v in metrics.values()])
    return parts


def make_runner(runtime: Backend, objective: Objective, optimizer: Optimizer,
                weighted: bool = False, reduce: Reduce | None = None,
                hits: bool | None = None) -> Runner:
    """The runner for this backend: compiled where it can compile and nothing needs the host.

    ``weighted``: whether batches carry per-sample weights; ``reduce(grads, n)``
    combines each step's gradients with other processes' (then nothing is compiled);
    ``hits``: whether to count each batch's correct predictions (None: if the loss
    classifies), which a caller without a training accuracy can spare.
    """
    cls = CompiledRunner if runtime.compiler is not None and reduce is None else EagerRunner
    return cls(runtime, objective, optimizer, weighted, reduce, hits)
