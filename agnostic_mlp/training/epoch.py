"""One pass over the batches: the engine's step, batch after batch, on the device.

A :class:`Block` is device data and the order its rows are taken in; an epoch
is one block (data in memory) or several (data streamed from disk). The
runners return the new parameters and optimizer state with the batches' loss
sums and hit counts still on the device: nothing here waits for the device.

:class:`EagerRunner` calls the engine once per batch. Plain SGD takes the
engine's fused :func:`~agnostic_mlp.engine.descent_step`, and where the backend
offers an in-place descent (writeable arrays in the CPU's memory) it updates
a private copy of the parameters in place. :class:`CompiledRunner` (JAX)
compiles a whole block of full batches into one ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .._typing import Array, Namespace
from ..backends import Backend
from ..engine import Objective, Params, descent_step, pure_descend, train_step
from ..optimizers import Optimizer, OptimizerState

__all__ = ["Block", "EpochResult", "Runner", "make_runner"]

Reduce = Callable[[Params, Any], Params]


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
        A permutation of the rows (an index array on the device); None takes them in order.
    batch_size : int
    """

    x: Array
    y: Array
    weights: Array | None
    order: Array | None
    batch_size: int

    @property
    def n(self) -> int:
        """Rows in the block."""
        return int(self.x.shape[0])

    @property
    def n_batches(self) -> int:
        """Batches in the block; the last may be short."""
        return -(-self.n // self.batch_size)

    def batch(self, xp: Namespace, b: int) -> tuple[Array, Array, Array | None]:
        """Batch ``b``: views of the rows in order, or the gathered rows of the order."""
        lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.n)
        w = self.weights
        if self.order is None:  # the standard forbids stops past the end: hence min
            return self.x[lo:hi, ...], self.y[lo:hi, ...], None if w is None else w[lo:hi]
        idx = self.order[lo:hi]
        return (xp.take(self.x, idx, axis=0), xp.take(self.y, idx, axis=0),
                None if w is None else xp.take(w, idx, axis=0))


@dataclass
class EpochResult:
    """What a pass over some batches leaves: parameters, state, and per-batch numbers.

    Attributes
    ----------
    params : Params
    state : OptimizerState
    loss_sums : list of array
        Per block, a 1-D device array of the batches' summed losses.
    hits : list of array
        Per block, the batches' correct predictions (empty unless classifying).
    """

    params: Params
    state: OptimizerState
    loss_sums: list[Array]
    hits: list[Array]


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

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        """Every batch of ``blocks`` in turn, ``rates[k]`` the learning rate of the k-th.

        ``blocks`` is iterated once, lazily (streamed data is read as it goes).
        """
        raise NotImplementedError

    def steps(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
              rates: Sequence[float]) -> Iterator[tuple[Params, OptimizerState]]:
        """The parameters and state after each batch, one batch at a time (to find a bad one).

        Always out of place: ``params`` stays as it was.
        """
        xp, objective, optimizer = self.runtime.xp, self.objective, self.optimizer
        fused = self.fused()
        k = 0
        for block in blocks:
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                if fused:  # as run() computes it, so the same batch is found
                    params, _, _ = descent_step(xp, objective, params, xb, yb, rates[k])
                    state = dataclasses.replace(state, step=state.step + 1)
                else:
                    params, state, _, _ = train_step(xp, objective, optimizer, params, state,
                                                     xb, yb, rates[k], wb, self.reduce)
                k += 1
                yield params, state

    def fused(self) -> bool:
        """Whether plain SGD may be applied during backprop (:func:`descent_step`)."""
        return (self.optimizer.plain_descent and self.reduce is None and not self.objective.l2
                and not self.weighted)


class EagerRunner(Runner):
    """One engine call per batch."""

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        xp, objective, optimizer, reduce = (
            self.runtime.xp, self.objective, self.optimizer, self.reduce)
        fused = self.fused()
        descend: Callable[..., Array] = pure_descend
        if fused:
            in_place = self.runtime.in_place_descent(params.weights[0])
            if in_place is not None:  # on a private copy: the committed arrays stay as they are
                descend = in_place
                params = Params(tuple(xp.asarray(w, copy=True) for w in params.weights),
                                params.biases)
        count = self.hits
        correct = self.head.correct
        all_sums: list[Array] = []
        all_hits: list[Array] = []
        k = 0
        for block in blocks:
            sums: list[Array] = []
            hits: list[Array] = []
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                if fused:
                    params, loss_sum, out = descent_step(xp, objective, params, xb, yb,
                                                         rates[k], descend)
                else:
                    params, state, loss_sum, out = train_step(
                        xp, objective, optimizer, params, state, xb, yb, rates[k], wb, reduce)
                k += 1
                sums.append(loss_sum)
                if count:
                    hits.append(correct(xp, yb, out))
            all_sums.append(xp.stack(sums))
            if count:
                all_hits.append(xp.stack(hits))
        if fused:
            state = dataclasses.replace(state, step=state.step + k)
        return EpochResult(params, state, all_sums, all_hits)


class CompiledRunner(Runner):
    """A block's full batches as one compiled ``scan``, its short last batch as one compiled step.

    Compiled functions are cached by what they close over (the objective, the
    optimizer's class and hyperparameters but the rate, the task), so each
    shape compiles once per process, whatever the number of ``fit`` calls.
    """

    _cache: ClassVar[dict[Any, tuple[Callable[..., Any], ...]]] = {}
    _lock = threading.Lock()

    def fused(self) -> bool:
        return False  # the compiled step is the optimizer's; XLA fuses it anyway

    def steps(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
              rates: Sequence[float]) -> Iterator[tuple[Params, OptimizerState]]:
        xp, runtime = self.runtime.xp, self.runtime
        assert runtime.compiler is not None
        runtime.compiler.register(type(state))
        host_step = int(state.step)
        state = dataclasses.replace(state, step=xp.asarray(host_step))
        k = 0
        for block in blocks:
            one_step = self._compiled(block.weights is not None)[2]  # it donates nothing
            for b in range(block.n_batches):
                xb, yb, wb = block.batch(xp, b)
                params, state, _, _ = one_step(params, state, xb, yb, wb,
                                               xp.asarray(rates[k], dtype=runtime.dtype))
                k += 1
                yield params, dataclasses.replace(state, step=host_step + k)

    def _compiled(self, weighted: bool) -> tuple[Callable[..., Any], ...]:
        optimizer = self.optimizer
        hyper = tuple(sorted((k, repr(v)) for k, v in optimizer.get_config().items()
                             if k != "learning_rate"))
        key = (self.objective, type(optimizer), hyper, weighted, self.hits)
        with self._lock:
            if key not in self._cache:
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[key] = self._build()
            return self._cache[key]

    def _build(self) -> tuple[Callable[..., Any], ...]:
        compiler = self.runtime.compiler
        assert compiler is not None
        xp, objective, optimizer, head, count = (
            self.runtime.xp, self.objective, self.optimizer, self.head, self.hits)

        def step(params: Params, state: Any, xb: Array, yb: Array, wb: Array | None,
                 lr: Array) -> tuple[Params, Any, Array, Array]:
            params, state, loss_sum, out = train_step(xp, objective, optimizer, params, state,
                                                      xb, yb, lr, wb)
            hits = head.correct(xp, yb, out) if count else loss_sum
            return params, state, loss_sum, hits

        def scan(params: Params, state: Any, x: Array, y: Array, w: Array | None,
                 idx: Array, rates: Array) -> tuple[Params, Any, Array, Array]:
            def body(carry: Any, xs: Any) -> tuple[Any, Any]:
                rows, lr = xs
                wb = None if w is None else xp.take(w, rows, axis=0)
                p, s = carry
                p, s, loss_sum, hits = step(p, s, xp.take(x, rows, axis=0),
                                            xp.take(y, rows, axis=0), wb, lr)
                return (p, s), (loss_sum, hits)

            (params, state), (sums, hits) = compiler.scan(body, (params, state), (idx, rates))
            return params, state, sums, hits

        # After a scan, the tail's inputs are the scan's outputs, not the committed
        # state, and are donated; a block shorter than one batch has only the tail.
        return (compiler.jit(scan), compiler.jit(step, donate_argnums=(0, 1)),
                compiler.jit(step))

    def run(self, params: Params, state: OptimizerState, blocks: Iterable[Block],
            rates: Sequence[float]) -> EpochResult:
        xp, runtime = self.runtime.xp, self.runtime
        compiler = runtime.compiler
        assert compiler is not None
        compiler.register(type(state))
        host_step = int(state.step)
        # The step count travels as a device scalar; the host keeps its own count.
        state = dataclasses.replace(state, step=xp.asarray(host_step))
        all_sums: list[Array] = []
        all_hits: list[Array] = []
        k = 0
        for block in blocks:
            scan, donating_tail, tail = self._compiled(block.weights is not None)
            full = block.n // block.batch_size
            bs = block.batch_size
            sums, hits = [], []
            if full:
                order = block.order if block.order is not None else xp.arange(
                    block.n, device=runtime.device)
                idx = xp.reshape(order[:full * bs], (full, bs))
                lrs = xp.asarray(list(rates[k:k + full]), dtype=runtime.dtype,
                                 device=runtime.device)
                params, state, s, h = scan(params, state, block.x, block.y, block.weights, idx,
                                           lrs)
                sums.append(s)
                hits.append(h)
                k += full
            if block.n > full * bs:
                xb, yb, wb = block.batch(xp, full)
                params, state, s, h = (donating_tail if k else tail)(
                    params, state, xb, yb, wb, xp.asarray(rates[k], dtype=runtime.dtype))
                sums.append(s[None])
                hits.append(h[None])
                k += 1
            all_sums.append(xp.concat(sums))
            if self.hits:
                all_hits.append(xp.concat(hits))
        state = dataclasses.replace(state, step=host_step + k)
        return EpochResult(params, state, all_sums, all_hits)


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
