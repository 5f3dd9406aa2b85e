"""The math of a multilayer perceptron, as pure functions on explicit values.

Nothing here holds state or knows a backend: ``xp`` is the namespace, the
parameters are a :class:`Params` value, and every function returns new
arrays, leaving its inputs alone. A training step is::

    loss_sum, grads, out = loss_and_gradients(xp, objective, params, x, y)
    params, state = optimizer.update(xp, params.flat(), grads.flat(), state, lr)

:func:`train_step` is that step; :func:`descent_step` is the same step for
SGD without weight decay or Nesterov's momentum, with each layer's update
applied as soon as its gradient is made (through a ``descend`` function that a
backend may make in-place).

Across processes (data parallelism), :func:`train_step` takes a :data:`Reduce`
function, which combines each process's gradients between the two lines
above (:func:`shared_gradients`): every process then applies the same update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._typing import Array, Namespace
from .activations import Activation
from .losses import Loss
from .optimizers import Optimizer

__all__ = [
    "Objective",
    "Params",
    "Reduce",
    "all_finite",
    "backprop",
    "descent_step",
    "evaluate",
    "finite_params",
    "forward",
    "forward_all",
    "gradients",
    "loss_and_gradients",
    "pure_descend",
    "shared_gradients",
    "train_step",
]


class Params(NamedTuple):
    """A network's parameters: one weight matrix ``(n_in, n_out)`` and bias per layer.

    ``biases`` is empty for a network without biases. A NamedTuple of tuples
    is a pytree, so JAX can trace and donate it.
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]

    def flat(self) -> tuple[Array, ...]:
        """Weights then biases, in one tuple: the order optimizers and files see."""
        return (*self.weights, *self.biases)

    def like(self, flat: Sequence[Array]) -> Params:
        """Parameters of this structure from a flat sequence (as :meth:`flat` gives)."""
        n = len(self.weights)
        return Params(tuple(flat[:n]), tuple(flat[n:]))


def all_finite(xp: Namespace, a: Array) -> Array:
    """Whether every value of ``a`` is finite, as a 0-d boolean on the device.

    From the extremes, since the standard's ``max`` and ``min`` propagate NaN:
    two reductions and no temporary, where ``all(isfinite(a))`` makes a mask
    as large as ``a``, and PyTorch's ``isfinite`` ``abs(a)`` besides (on the
    CPU, 164 MiB at once for a 64 MiB float32 layer, and 6 to 26 times the time).
    """
    return xp.logical_and(xp.isfinite(xp.max(a)), xp.isfinite(xp.min(a)))


def finite_params(xp: Namespace, params: Params) -> bool:
    """Whether every parameter is finite (:func:`all_finite` of each; waits for the device)."""
    return all(bool(all_finite(xp, p)) for p in params.flat())


@dataclass(frozen=True)
class Objective:
    """What a training step minimises.

    Attributes
    ----------
    activations : tuple of Activation
        One per layer; the last is the output's.
    loss : Loss
        The batch's mean loss.
    l2 : float
        scikit-learn's ``alpha``: ``0.5 * l2 * sum(W**2)`` is added to the
        batch's summed loss, so its share of the mean is divided by the batch's
        size (or its weight). Biases are not penalised.
    """

    activations: tuple[Activation, ...]
    loss: Loss
    l2: float = 0.0


def _through(xp: Namespace, activations: Sequence[Activation], params: Params, x: Array,
             keep: list[Array] | None) -> tuple[Array, Array]:
    a = z = x
    biases = params.biases
    for i, w in enumerate(params.weights):
        z = xp.matmul(a, w)
        if biases:
            z = z + biases[i]
        a = activations[i].forward(xp, z)
        if keep is not None:
            keep.append(a)
    return a, z


def forward(xp: Namespace, activations: Sequence[Activation], params: Params,
            x: Array) -> tuple[Array, Array]:
    """Outputs and output pre-activations (logits) for the batch ``x``."""
    return _through(xp, activations, params, x, None)


def evaluate(xp: Namespace, activations: Sequence[Activation], loss: Loss, params: Params,
             x: Array, y: Array) -> dict[str, Array]:
    """The mean loss (and accuracy for classifiers) on ``(x, y)``, as 0-d device arrays."""
    out, z = forward(xp, activations, params, x)
    metrics = {"loss": loss.value(xp, y, out, z)}
    if loss.head.classifier:
        metrics["accuracy"] = loss.head.correct(xp, y, out) / float(y.shape[0])
    return metrics


def forward_all(xp: Namespace, activations: Sequence[Activation], params: Params,
                x: Array) -> tuple[list[Array], Array]:
    """Every layer's activations ``[x, a_1, ..., a_L]`` and the output's pre-activation."""
    outs = [x]
    z = _through(xp, activations, params, x, outs)[1]
    return outs, z


def backprop(xp: Namespace, activations: Sequence[Activation], weights: Sequence[Array],
             outs: Sequence[Array], delta: Array) -> Iterator[tuple[int, Array]]:
    """``(i, delta_i)`` for each layer from the last: the gradient at its pre-activation.

    ``delta`` is the output layer's. Each layer's delta for the layer below is
    computed before ``(i, delta_i)`` is yielded, so the consumer may replace
    (or update in place) ``weights[i]`` at once.
    """
    for i in range(len(weights) - 1, -1, -1):
        # .T (2-D arrays) is in the standard and is a view everywhere: no copy.
        back = xp.matmul(delta, weights[i].T) if i > 0 else None
        yield i, delta
        if back is not None:
            delta = activations[i - 1].backward(xp, outs[i], back)


def gradients(xp: Namespace, activations: Sequence[Activation], params: Params,
              outs: Sequence[Array], delta: Array, l2: Any = None) -> Params:
    """The parameters' gradients, from the output delta; ``l2`` times each weight is added."""
    n = len(params.weights)
    grad_w: list[Array] = [None] * n
    grad_b: list[Array] = [None] * n if params.biases else []
    for i, d in backprop(xp, activations, params.weights, outs, delta):
        g = xp.matmul(outs[i].T, d)
        grad_w[i] = g if l2 is None else g + l2 * params.weights[i]
        if params.biases:
            grad_b[i] = xp.sum(d, axis=0)
    return Params(tuple(grad_w), tuple(grad_b))


def loss_and_gradients(
    xp: Namespace, objective: Objective, params: Params, x: Array, y: Array,
    weights: Array | None = None,
) -> tuple[Array, Params, Array]:
    """Each sample's share of the batch's summed loss, the gradients of its mean, the outputs.

    The first is a 1-D device array: the loss's per-sample sums (times the
    sample's weight, with ``weights``), plus an equal share of the L2 penalty,
    so that it adds up to the batch's total; the training loop adds these up
    once per epoch. With per-sample ``weights`` the mean is weighted:
    ``sum(w * loss) / sum(w)``.
    """
    outs, z = forward_all(xp, objective.activations, params, x)
    out = outs[-1]
    sums, delta = objective.loss.sums_and_delta(xp, y, out, z, objective.activations[-1])
    n = x.shape[0]
    total: Any = n
    if weights is not None:
        sums, total = weights * sums, xp.sum(weights)
        delta = delta * (weights * (n / total))[:, None]
    l2 = None
    if objective.l2:
        penalty = sum(xp.sum(w * w) for w in params.weights)
        sums = sums + (0.5 * objective.l2 / n) * penalty
        l2 = objective.l2 / total
    return sums, gradients(xp, objective.activations, params, outs, delta, l2), out


Reduce = Callable[[Params, Any], tuple[Params, Any]]
"""``reduce(grads, total) -> (grads, total)``: one step's gradients, combined across processes.

It takes this process's gradients of its batch's mean loss and the batch's
``total`` (its samples, or its summed sample weights; 0 for no batch), and
returns the gradients of the mean loss over every process's batch, as if they
were one batch, and those batches' total. Every process gets the same result.
"""


def train_step(
    xp: Namespace, objective: Objective, optimizer: Optimizer, params: Params, state: Any,
    x: Array | None, y: Array | None, lr: Any, weights: Array | None = None,
    reduce: Reduce | None = None,
) -> tuple[Params, Any, Array, Array | None]:
    """One optimisation step: new parameters and optimizer state, per-sample losses, outputs.

    With ``reduce`` the gradients are those of every process's batch
    (:func:`shared_gradients`), and ``x`` and ``y`` may be None: this process
    has no batch for the step, and the outputs are None.
    """
    if reduce is None:
        sums, grads, out = loss_and_gradients(xp, objective, params, x, y, weights)
    else:
        sums, grads, out = shared_gradients(xp, objective, params, x, y, weights, reduce)
    flat, state = optimizer.update(xp, params.flat(), grads.flat(), state, lr)
    return params.like(flat), state, sums, out


def shared_gradients(
    xp: Namespace, objective: Objective, params: Params, x: Array | None, y: Array | None,
    weights: Array | None, reduce: Reduce,
) -> tuple[Any, Params, Array | None]:
    """This process's per-sample losses, the gradients of the mean loss over every
    process's batch, and its outputs.

    ``x`` is None where this process has no batch for the step (its data ran
    out before the others'): it adds nothing, and has no losses. The L2
    penalty is counted once, as for one batch of all the processes' samples:
    its gradient is divided by their total, and each process adds to its
    losses its batch's share of the penalty, so the processes' losses add up
    to the one batch's.
    """
    if x is None or y is None:
        sums: Any = xp.zeros_like(params.weights[0][0, :0])  # no samples: no losses
        grads, out, total = params.like([xp.zeros_like(p) for p in params.flat()]), None, 0
    else:
        data = dataclasses.replace(objective, l2=0.0)
        sums, grads, out = loss_and_gradients(xp, data, params, x, y, weights)
        total = x.shape[0] if weights is None else xp.sum(weights)
    grads, everyone = reduce(grads, total)
    if objective.l2:
        l2 = objective.l2 / everyone
        grads = Params(tuple(g + l2 * w for g, w in zip(grads.weights, params.weights,
                                                         strict=True)), grads.biases)
        if x is not None:
            penalty = sum(xp.sum(w * w) for w in params.weights)
            share = (0.5 * objective.l2) * penalty * (total / everyone)
            sums = sums + share / x.shape[0]
    return sums, grads, out


def pure_descend(xp: Namespace, w: Array, a: Array, delta: Array, beta: float = 1.0) -> Array:
    """``beta * w - a.T @ delta``, a new array."""
    product = xp.matmul(a.T, delta)
    return w - product if beta == 1.0 else beta * w - product


def descent_step(
    xp: Namespace, objective: Objective, params: Params, x: Array, y: Array, lr: Any,
    descend: Callable[..., Array] = pure_descend, momentum: float = 0.0,
    buffers: Params | None = None,
) -> tuple[Params, Params | None, Array, Array]:
    """One step of SGD applied layer by layer during backprop: no gradient is kept.

    Plain (``buffers`` None): ``p - lr * grad``. Backpropagation is linear in the
    output delta, so ``lr`` is folded into it (by the loss, into its own factor)
    and each layer's update is ``descend(xp, w, a, delta)``, ``w - a.T @ delta``.

    With momentum ``mu`` and its ``buffers`` (one per parameter, as ``params``):
    ``b = mu * b + grad; p - lr * b``, PyTorch's (and :class:`~agnostic_mlp.SGD`'s)
    rule; the delta is the gradient's negative, so ``descend(xp, b, a, delta, mu)``
    makes the new buffer.

    Returns the new parameters, the new buffers (None without), the per-sample
    losses and the outputs. ``descend`` may update what it is given in place
    (and return it): the weights, or the weights' buffers.
    """
    acts = objective.activations
    outs, z = forward_all(xp, acts, params, x)
    out = outs[-1]
    # Negating is exact: either way the numbers are those of the optimizer's update.
    scale = lr if buffers is None else -1.0
    sums, delta = objective.loss.sums_and_delta(xp, y, out, z, acts[-1], scale)
    weights, biases = list(params.weights), list(params.biases)
    if buffers is None:
        for i, d in backprop(xp, acts, params.weights, outs, delta):
            weights[i] = descend(xp, weights[i], outs[i], d)
            if biases:
                biases[i] = biases[i] - xp.sum(d, axis=0)
        return Params(tuple(weights), tuple(biases)), None, sums, out
    held_w, held_b = list(buffers.weights), list(buffers.biases)
    for i, d in backprop(xp, acts, params.weights, outs, delta):
        held_w[i] = descend(xp, held_w[i], outs[i], d, momentum)
        weights[i] = weights[i] - held_w[i] * lr
        if biases:
            held_b[i] = momentum * held_b[i] - xp.sum(d, axis=0)
            biases[i] = biases[i] - held_b[i] * lr
    return (Params(tuple(weights), tuple(biases)), Params(tuple(held_w), tuple(held_b)),
            sums, out)
