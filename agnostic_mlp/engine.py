"""The math of a multilayer perceptron, as pure functions on explicit values.

Nothing here holds state or knows a backend: ``xp`` is the namespace, the
parameters are a :class:`Params` value, and every function returns new
arrays, leaving its inputs alone. A training step is::

    loss_sum, grads, out = loss_and_gradients(xp, objective, params, x, y)
    grads = reduce(grads, n)                      # across processes, if any
    params, state = optimizer.update(xp, params.flat(), grads.flat(), state, lr)

:func:`train_step` is that step; :func:`descent_step` is the same step for
plain SGD, with each layer's update applied as soon as its gradient is made
(through a ``descend`` function that a backend may make in-place).
"""

from __future__ import annotations

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
    "backprop",
    "descent_step",
    "evaluate",
    "forward",
    "forward_all",
    "gradients",
    "loss_and_gradients",
    "pure_descend",
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


def train_step(
    xp: Namespace, objective: Objective, optimizer: Optimizer, params: Params, state: Any,
    x: Array, y: Array, lr: Any, weights: Array | None = None,
    reduce: Callable[[Params, Any], Params] | None = None,
) -> tuple[Params, Any, Array, Array]:
    """One optimisation step: new parameters and optimizer state, per-sample losses, outputs.

    ``reduce(grads, n)``, if given, combines this process's gradients (of a
    batch of ``n`` samples) with other processes' before the update.
    """
    sums, grads, out = loss_and_gradients(xp, objective, params, x, y, weights)
    if reduce is not None:
        grads = reduce(grads, x.shape[0])
    flat, state = optimizer.update(xp, params.flat(), grads.flat(), state, lr)
    return params.like(flat), state, sums, out


def pure_descend(xp: Namespace, w: Array, a: Array, delta: Array) -> Array:
    """``w - a.T @ delta``, a new array."""
    return w - xp.matmul(a.T, delta)


def descent_step(
    xp: Namespace, objective: Objective, params: Params, x: Array, y: Array, lr: Any,
    descend: Callable[[Namespace, Array, Array, Array], Array] = pure_descend,
) -> tuple[Params, Array, Array]:
    """One step of plain SGD (``p - lr * grad``) applied layer by layer during backprop.

    Backpropagation is linear in the output delta, so ``lr`` is folded into
    it (by the loss, into its own factor) and each layer's update is
    ``descend(xp, w, a, delta)``: no
    gradient is kept, and no pass scales it. Returns the new parameters, the
    per-sample losses and the outputs. ``descend`` may update ``w`` in place
    (and return it); then ``params`` is changed.
    """
    acts = objective.activations
    outs, z = forward_all(xp, acts, params, x)
    out = outs[-1]
    sums, delta = objective.loss.sums_and_delta(xp, y, out, z, acts[-1], lr)
    weights, biases = list(params.weights), list(params.biases)
    for i, d in backprop(xp, acts, params.weights, outs, delta):
        weights[i] = descend(xp, weights[i], outs[i], d)
        if biases:
            biases[i] = biases[i] - xp.sum(d, axis=0)
    return Params(tuple(weights), tuple(biases)), sums, out
