"""Gradient-descent optimizers: pure updates with named state, as optax.

An optimizer is its hyperparameters plus two pure functions::

    state = opt.init(xp, params)
    params, state = opt.update(xp, params, grads, state, lr)

``params`` and ``grads`` are tuples of arrays; ``state`` is a frozen dataclass
whose fields name what it holds (``SGDState(step, momentum)``,
``AdamState(step, m, v)``). Neither changes its inputs, so the same code runs
on immutable arrays and under ``jax.jit``; ``lr`` and ``state.step`` may be
Python numbers or traced scalars.

The update rules are those of ``torch.optim.SGD`` and ``torch.optim.Adam``
(L2 weight decay added to the gradient). An optimizer object also holds the
state of its last training (``state``) between calls to ``fit``, as Keras's and
PyTorch's optimizers do; the training loop replaces it whole, with the
parameters, once a step has completed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ._typing import Array, Namespace
from .backends import to_numpy
from .components import Component
from .constraints import BOOLEAN, Integer, Real, check
from .errors import InvalidArgumentError
from .schedules import LearningRate, check_learning_rate, rate_at

__all__ = [
    "LBFGS",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamState",
    "Optimizer",
    "OptimizerState",
    "SGDState",
    "get_optimizer",
]

Params = tuple[Array, ...]
_State = TypeVar("_State", bound="OptimizerState")


@dataclass(frozen=True)
class OptimizerState:
    """The state of an optimizer: its step count and, per field, one array per parameter.

    Attributes
    ----------
    step : int
        Updates applied so far (a traced scalar inside a compiled epoch).
    """

    step: Any = 0

    def slots(self) -> dict[str, tuple[Array, ...]]:
        """Every field but ``step``, by name: a tuple of arrays, one per parameter (or empty)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "step"}

    def map_arrays(self: _State, fn: Callable[[Array], Array]) -> _State:
        """The same state with ``fn`` applied to every array (a copy, a move, ...)."""
        return dataclasses.replace(
            self, **{k: tuple(fn(a) for a in v) for k, v in self.slots().items()})


@dataclass(frozen=True)
class SGDState(OptimizerState):
    """SGD's state: the momentum buffers (empty without momentum)."""

    momentum: tuple[Array, ...] = ()


@dataclass(frozen=True)
class AdamState(OptimizerState):
    """Adam's state: the first (``m``) and second (``v``) moment estimates."""

    m: tuple[Array, ...] = ()
    v: tuple[Array, ...] = ()


class Optimizer(Component):
    """Base class: hyperparameters, :meth:`init` and :meth:`update`.

    Parameters
    ----------
    learning_rate : float or callable
        The step size, or a schedule: a callable of the step number.
    weight_decay : float
        L2 penalty added to the gradient.

    Attributes
    ----------
    state : OptimizerState or None
        The state of the last training, None before the first step.
    """

    state_type: type[OptimizerState] = OptimizerState

    def __init__(self, learning_rate: LearningRate, weight_decay: float) -> None:
        self.learning_rate = check_learning_rate(learning_rate)
        self.weight_decay = check(weight_decay, "weight_decay", Real(0.0))
        self.state: OptimizerState | None = None

    @property
    def iterations(self) -> int:
        """Updates applied so far."""
        return 0 if self.state is None else int(self.state.step)

    def rate_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based), checked."""
        return rate_at(self.learning_rate, step)

    def current_learning_rate(self) -> float:
        """The learning rate of the next step."""
        return self.rate_at(self.iterations)

    @property
    def descent_momentum(self) -> float | None:
        """``mu`` where :meth:`update` is exactly ``b = mu * b + g; p - lr * b`` on the state's
        ``momentum`` buffers (0.0: ``p - lr * g``, no buffers), so that it may be fused into
        backprop (:func:`~agnostic_mlp.engine.descent_step`); None otherwise."""
        return None

    def init(self, xp: Namespace, params: Params) -> OptimizerState:
        """The state before the first step, on the parameters' device."""
        raise NotImplementedError

    def update(self, xp: Namespace, params: Params, grads: Params, state: Any,
               lr: Any) -> tuple[Params, Any]:
        """New parameters and state after one step of size ``lr``; nothing is changed in place."""
        raise NotImplementedError

    def _decayed(self, params: Params, grads: Params) -> Params:
        if not self.weight_decay:
            return grads
        return tuple(g + self.weight_decay * p for p, g in zip(params, grads, strict=True))

    def get_config(self) -> dict[str, Any]:
        lr = self.learning_rate
        return {"learning_rate": lr, "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __getstate__(self) -> dict[str, Any]:
        # Pickled with its state on the host: a pickle holds plain NumPy arrays.
        state = dict(self.__dict__)
        if self.state is not None:
            state["state"] = self.state.map_arrays(lambda a: to_numpy(a).copy())
        return state


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Parameters
    ----------
    learning_rate : float or callable
        The step size, or a schedule: a callable of the step number.
    momentum : float
        The momentum factor (no dampening, as PyTorch's default).
    nesterov : bool
        Use Nesterov momentum.
    weight_decay : float
        L2 penalty added to the gradient.
    """

    name = "sgd"
    state_type = SGDState

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        self.momentum = check(momentum, "momentum", Real(0.0))
        self.nesterov = check(nesterov, "nesterov", BOOLEAN)
        if self.nesterov and self.momentum == 0:
            raise InvalidArgumentError("nesterov=True needs momentum > 0")

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    @property
    def descent_momentum(self) -> float | None:
        # Not for a subclass that overrides update or _decayed: it must see the gradients.
        if (self.weight_decay or self.nesterov or type(self).update is not SGD.update
                or type(self)._decayed is not Optimizer._decayed):
            return None
        return self.momentum

    def init(self, xp: Namespace, params: Params) -> SGDState:
        buffers = tuple(xp.zeros_like(p) for p in params) if self.momentum else ()
        return SGDState(step=0, momentum=buffers)

    def update(self, xp: Namespace, params: Params, grads: Params, state: Any,
               lr: Any) -> tuple[Params, SGDState]:
        grads = self._decayed(params, grads)
        mu, buffers = self.momentum, state.momentum
        if mu:
            buffers = tuple(mu * b + g for b, g in zip(buffers, grads, strict=True))
            if self.nesterov:
                grads = tuple(g + mu * b for g, b in zip(grads, buffers, strict=True))
            else:
                grads = buffers
        new = tuple(p - g * lr for p, g in zip(params, grads, strict=True))
        return new, SGDState(step=state.step + 1, momentum=buffers)


class Adam(Optimizer):
    """Adam, with PyTorch's bias correction and epsilon placement.

    Parameters
    ----------
    learning_rate : float or callable
        The step size, or a schedule: a callable of the step number.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates, in [0, 1).
    epsilon : float
        Added to the denominator for stability.
    weight_decay : float
        L2 penalty added to the gradient (as ``torch.optim.Adam``, not AdamW).
    """

    name = "adam"
    state_type = AdamState

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = check(beta_1, "beta_1", Real(0.0, 1.0, high_open=True))
        self.beta_2 = check(beta_2, "beta_2", Real(0.0, 1.0, high_open=True))
        self.epsilon = check(epsilon, "epsilon", Real(0.0))

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon,
                "weight_decay": self.weight_decay}

    def init(self, xp: Namespace, params: Params) -> AdamState:
        return AdamState(step=0, m=tuple(xp.zeros_like(p) for p in params),
                         v=tuple(xp.zeros_like(p) for p in params))

    def update(self, xp: Namespace, params: Params, grads: Params, state: Any,
               lr: Any) -> tuple[Params, AdamState]:
        grads = self._decayed(params, grads)
        b1, b2 = self.beta_1, self.beta_2
        t = state.step + 1
        step_size = lr / (1.0 - b1**t)
        correction2_sqrt = (1.0 - b2**t) ** 0.5
        m = tuple(b1 * m + (1.0 - b1) * g for m, g in zip(state.m, grads, strict=True))
        v = tuple(b2 * v + (1.0 - b2) * (g * g) for v, g in zip(state.v, grads, strict=True))
        new = tuple(
            p - (mi / (xp.sqrt(vi) / correction2_sqrt + self.epsilon)) * step_size
            for p, mi, vi in zip(params, m, v, strict=True)
        )
        return new, AdamState(step=t, m=m, v=v)


class LBFGS(Component):
    """Full-batch L-BFGS (scipy's L-BFGS-B), as scikit-learn's ``solver="lbfgs"``: for
    :meth:`MLP.fit <agnostic_mlp.MLP.fit>` (``optimizer=LBFGS()`` or ``"lbfgs"``).

    Not a step rule: each iteration evaluates the loss and its gradient over the
    whole training data (summed over its windows when it is streamed) on the
    model's device, and scipy, on the host, chooses the next point from them.
    ``fit``'s ``epochs`` is the most iterations (scipy's ``maxiter``); each
    iteration costs one or more passes over the data. It suits small and medium
    data sets, where it often converges in far fewer passes than SGD or Adam.

    Memory: on the device, the parameters, their gradient and one piece's
    activations (data in memory is one piece: the activations of every sample
    at once, ``n_samples * sum(layer widths)`` numbers; streamed data a window
    at a time); on the host, scipy keeps ``2 * 10`` vectors of the parameters'
    size for its curvature pairs, and a few more, in float64.

    Parameters
    ----------
    tol : float
        scipy's ``gtol``: stop when the largest gradient component is below it.
    max_fun : int
        The most evaluations of the loss and gradient (scipy's ``maxfun``).
    l2 : float
        scikit-learn's ``alpha``: ``0.5 * l2 * sum(W**2) / n_samples`` is added to
        the loss (biases are not penalised).
    """

    name = "lbfgs"

    def __init__(self, tol: float = 1e-5, max_fun: int = 15000, l2: float = 0.0) -> None:
        self.tol = check(tol, "tol", Real(0.0))
        self.max_fun = check(max_fun, "max_fun", Integer(1))
        self.l2 = check(l2, "l2", Real(0.0))

    def get_config(self) -> dict[str, Any]:
        return {"tol": self.tol, "max_fun": self.max_fun, "l2": self.l2}


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Adam)}


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer from a name (``"sgd"``, ``"adam"``: a fresh one) or the instance itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()  # type: ignore[call-arg]  # every one has defaults
    raise InvalidArgumentError(
        f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer, got {optimizer!r}")
