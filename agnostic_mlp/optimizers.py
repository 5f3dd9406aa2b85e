"""Gradient-descent optimizers and learning-rate schedules.

The update rules are those of ``torch.optim.SGD`` and ``torch.optim.Adam``
(L2 weight decay added to the gradient). Parameters and state are updated with
in-place operators, then stored back in their list: on a mutable backend that
writes into the existing buffers; on an immutable one (JAX) Python rebinds the
name to a new array and the list receives it. The learning rate is a Python
float computed on the host, so a schedule costs no device synchronisation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

__all__ = [
    "SGD",
    "Adam",
    "ExponentialDecay",
    "Optimizer",
    "StepDecay",
    "check_learning_rate",
    "get_optimizer",
]

LearningRate = float | Callable[[int], float]


class StepDecay:
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, initial: float, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}")
        self.initial, self.step_size, self.gamma = float(initial), int(step_size), float(gamma)

    def __call__(self, step: int) -> float:
        return self.initial * self.gamma ** (step // self.step_size)

    def __repr__(self) -> str:
        return f"StepDecay({self.initial}, step_size={self.step_size}, gamma={self.gamma})"


class ExponentialDecay:
    """``initial * decay_rate ** (step / decay_steps)``, floored per period if ``staircase``."""

    def __init__(
        self, initial: float, decay_steps: int, decay_rate: float, staircase: bool = False
    ) -> None:
        if decay_steps < 1:
            raise ValueError(f"decay_steps must be a positive int, got {decay_steps!r}")
        self.initial, self.decay_steps = float(initial), int(decay_steps)
        self.decay_rate, self.staircase = float(decay_rate), bool(staircase)

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial * self.decay_rate**exponent

    def __repr__(self) -> str:
        return (
            f"ExponentialDecay({self.initial}, decay_steps={self.decay_steps}, "
            f"decay_rate={self.decay_rate}, staircase={self.staircase})"
        )


def _check_nonnegative(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not (
                isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


class Optimizer:
    """Base class. ``iterations`` counts the updates applied so far.

    The state (momentum buffers, moments) is created on the first ``step``,
    with ``zeros_like`` of each parameter, so it lives on the model's device.
    """

    def __init__(self, learning_rate: LearningRate, weight_decay: float) -> None:
        self.learning_rate = check_learning_rate(learning_rate)
        _check_nonnegative(weight_decay=weight_decay)
        self.weight_decay = float(weight_decay)
        self.iterations = 0
        self.state: list[list[Any]] = []

    def current_learning_rate(self) -> float:
        """The learning rate of the next step."""
        lr = self.learning_rate
        return float(lr(self.iterations)) if callable(lr) else float(lr)

    def reset(self) -> None:
        """Forget the state and the step count."""
        self.iterations = 0
        self.state = []

    def delta_scale(self) -> float | None:
        """``s`` if a step is exactly ``p -= s * grad`` for every parameter, else None.

        Backpropagation is linear in the output delta, so the model may fold
        ``s`` into it and subtract each scaled gradient as soon as it is made
        (then it calls :meth:`record_step`); None means :meth:`step` needs the
        true gradients.
        """
        return None

    def record_step(self) -> None:
        """Count a step the model applied itself, as :meth:`delta_scale` allows."""
        self.iterations += 1

    def step(self, xp: Any, params: list[Any], grads: list[Any]) -> None:
        """Update ``params`` (a list, changed in place) from ``grads`` (consumed)."""
        raise NotImplementedError

    def _decayed(self, p: Any, g: Any) -> Any:
        if self.weight_decay:
            g += self.weight_decay * p
        return g


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

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        _check_nonnegative(momentum=momentum)
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def delta_scale(self) -> float | None:
        # Plain SGD's step is lr * grad: the model folds lr into the output
        # delta and saves a pass over every gradient. Not when a subclass
        # overrides step: it must see the gradients.
        if self.momentum or self.weight_decay or type(self).step is not SGD.step:
            return None
        return self.current_learning_rate()

    def step(self, xp: Any, params: list[Any], grads: list[Any]) -> None:
        lr = self.current_learning_rate()
        mu = self.momentum
        if mu and not self.state:
            self.state = [[xp.zeros_like(p)] for p in params]
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            g = self._decayed(p, g)
            if mu:
                buf = self.state[i][0]
                buf *= mu
                buf += g
                self.state[i][0] = buf
                if self.nesterov:
                    g += mu * buf
                    g *= lr
                else:
                    g = buf * lr
            else:
                g *= lr
            p -= g
            params[i] = p
        self.iterations += 1

    def __repr__(self) -> str:
        return (
            f"SGD(learning_rate={self.learning_rate!r}, momentum={self.momentum}, "
            f"nesterov={self.nesterov}, weight_decay={self.weight_decay})"
        )


class Adam(Optimizer):
    """Adam, with PyTorch's bias correction and epsilon placement.

    Parameters
    ----------
    learning_rate : float or callable
        The step size, or a schedule: a callable of the step number.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates.
    epsilon : float
        Added to the denominator for stability.
    weight_decay : float
        L2 penalty added to the gradient (as ``torch.optim.Adam``, not AdamW).
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(learning_rate, weight_decay)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        _check_nonnegative(epsilon=epsilon)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def step(self, xp: Any, params: list[Any], grads: list[Any]) -> None:
        lr = self.current_learning_rate()
        if not self.state:
            self.state = [[xp.zeros_like(p), xp.zeros_like(p)] for p in params]
        t = self.iterations + 1
        b1, b2 = self.beta_1, self.beta_2
        step_size = lr / (1.0 - b1**t)
        correction2_sqrt = math.sqrt(1.0 - b2**t)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            g = self._decayed(p, g)
            m, v = self.state[i]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            g *= g
            g *= 1.0 - b2
            v += g
            self.state[i] = [m, v]
            denom = xp.sqrt(v)
            denom /= correction2_sqrt
            denom += self.epsilon
            update = m / denom
            update *= step_size
            p -= update
            params[i] = p
        self.iterations += 1

    def __repr__(self) -> str:
        return (
            f"Adam(learning_rate={self.learning_rate!r}, beta_1={self.beta_1}, "
            f"beta_2={self.beta_2}, epsilon={self.epsilon}, weight_decay={self.weight_decay})"
        )


def check_learning_rate(learning_rate: Any) -> LearningRate:
    """``learning_rate`` if it is a finite number >= 0 or a schedule (a callable)."""
    if not callable(learning_rate):
        _check_nonnegative(learning_rate=learning_rate)
    return learning_rate


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """An optimizer from a name (``"sgd"``, ``"adam"``: a fresh one) or the instance itself."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if optimizer == "sgd":
        return SGD()
    if optimizer == "adam":
        return Adam()
    raise ValueError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {optimizer!r}")
