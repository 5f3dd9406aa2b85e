"""Learning-rate schedules: the rate of each step, computed on the host.

A learning rate is a number or a schedule, a callable of the step number
(0-based). The built-in schedules are components: files store them by name
and parameters. Whatever a schedule returns is checked each time it is asked,
with the rules of a constant rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeAlias

from .components import Component
from .constraints import BOOLEAN, CALLABLE, Integer, Real, check
from .errors import InvalidArgumentError

__all__ = ["SCHEDULES", "ExponentialDecay", "LearningRate", "StepDecay", "check_learning_rate",
           "rate_at"]

LearningRate: TypeAlias = float | Callable[[int], float]

_RATE = Real(0.0)


class StepDecay(Component):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    name = "step_decay"

    def __init__(self, initial: float, step_size: int, gamma: float = 0.1) -> None:
        self.initial = check(initial, "initial", _RATE)
        self.step_size = check(step_size, "step_size", Integer(1))
        self.gamma = check(gamma, "gamma", Real(0.0))

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "step_size": self.step_size, "gamma": self.gamma}

    def __call__(self, step: int) -> float:
        return self.initial * self.gamma ** (step // self.step_size)


class ExponentialDecay(Component):
    """``initial * decay_rate ** (step / decay_steps)``, floored per period if ``staircase``."""

    name = "exponential_decay"

    def __init__(
        self, initial: float, decay_steps: int, decay_rate: float, staircase: bool = False
    ) -> None:
        self.initial = check(initial, "initial", _RATE)
        self.decay_steps = check(decay_steps, "decay_steps", Integer(1))
        self.decay_rate = check(decay_rate, "decay_rate", Real(0.0, low_open=True))
        self.staircase = check(staircase, "staircase", BOOLEAN)

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial * self.decay_rate**exponent


SCHEDULES: dict[str, type[Component]] = {cls.name: cls for cls in (StepDecay, ExponentialDecay)}


def check_learning_rate(learning_rate: Any, name: str = "learning_rate") -> LearningRate:
    """``learning_rate`` as a float if it is a finite number >= 0, or as it is if a schedule."""
    return check(learning_rate, name, _RATE, CALLABLE)


def rate_at(learning_rate: LearningRate, step: int) -> float:
    """The learning rate of step ``step``: the number, or what the schedule says, checked.

    Raises
    ------
    InvalidArgumentError
        If a schedule returns anything but a finite number >= 0 (or raises).
    """
    if not callable(learning_rate):
        return learning_rate
    try:
        value = learning_rate(step)
    except Exception as exc:
        raise InvalidArgumentError(
            f"the learning-rate schedule {learning_rate!r} failed at step {step}: {exc!r}"
        ) from exc
    try:
        return check(value, "rate", _RATE)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            f"the learning-rate schedule {learning_rate!r} returned {value!r} at step {step}; "
            "a learning rate must be a finite number >= 0"
        ) from None
