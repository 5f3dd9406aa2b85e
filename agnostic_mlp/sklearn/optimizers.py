"""scikit-learn's stochastic solvers, as pure Array API optimizers (``init``/``update``).

The update rules are scikit-learn's, which differ from the library's own
(PyTorch's) :class:`~agnostic_mlp.SGD` and :class:`~agnostic_mlp.Adam`:

- SGD keeps the learning rate inside the velocity, ``v = momentum * v - lr * g``,
  and with Nesterov's momentum steps by ``momentum * v - lr * g``;
- Adam folds both bias corrections into the step size,
  ``lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, and adds ``epsilon`` to
  ``sqrt(v)`` uncorrected.

Each holds the current ``learning_rate``, the one the next epoch's steps use;
scikit-learn's rules change it between epochs (``invscaling`` and
``adaptive``, in :mod:`.stopping`).
"""

from __future__ import annotations

import math
from typing import Any

from .._typing import Array, Namespace
from ..constraints import BOOLEAN, Options, Real, check
from ..optimizers import AdamState, Optimizer, SGDState

__all__ = ["LEARNING_RATES", "SklearnAdam", "SklearnSGD"]

Params = tuple[Array, ...]

#: scikit-learn's learning-rate schedules (for SGD).
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def _sqrt(value: Any) -> Any:
    # math.sqrt for the eager loop's Python floats (NumPy's np.sqrt gives the same
    # correctly rounded value); ** 0.5 for a traced step inside a compiled epoch.
    return math.sqrt(value) if isinstance(value, (int, float)) else value ** 0.5


class SklearnSGD(Optimizer):
    """scikit-learn's SGD with momentum (Nesterov's by default) and its learning-rate schedules.

    Parameters
    ----------
    learning_rate : float
        ``learning_rate_init``.
    momentum : float
        In [0, 1].
    nesterov : bool
        ``nesterovs_momentum``.
    schedule : {"constant", "invscaling", "adaptive"}
        scikit-learn's ``learning_rate``.
    power_t : float
        The exponent of ``invscaling``.
    """

    name = "sklearn_sgd"
    state_type = SGDState

    def __init__(self, learning_rate: float = 0.001, momentum: float = 0.9,
                 nesterov: bool = True, schedule: str = "constant",
                 power_t: float = 0.5) -> None:
        super().__init__(check(learning_rate, "learning_rate", Real(0.0, low_open=True)), 0.0)
        self.initial_rate = self.learning_rate
        self.momentum = check(momentum, "momentum", Real(0.0, 1.0))
        self.nesterov = check(nesterov, "nesterov", BOOLEAN)
        self.schedule = check(schedule, "schedule", Options(LEARNING_RATES))
        self.power_t = check(power_t, "power_t", Real(0.0))

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.initial_rate, "momentum": self.momentum,
                "nesterov": self.nesterov, "schedule": self.schedule, "power_t": self.power_t}

    def init(self, xp: Namespace, params: Params) -> SGDState:
        return SGDState(step=0, momentum=tuple(xp.zeros_like(p) for p in params))

    def update(self, xp: Namespace, params: Params, grads: Params, state: Any,
               lr: Any) -> tuple[Params, SGDState]:
        mu = self.momentum
        velocities = tuple(mu * v - lr * g for v, g in zip(state.momentum, grads, strict=True))
        steps = (tuple(mu * v - lr * g for v, g in zip(velocities, grads, strict=True))
                 if self.nesterov else velocities)
        new = tuple(p + s for p, s in zip(params, steps, strict=True))
        return new, SGDState(step=state.step + 1, momentum=velocities)


class SklearnAdam(Optimizer):
    """scikit-learn's Adam.

    Parameters
    ----------
    learning_rate : float
        ``learning_rate_init``.
    beta_1, beta_2 : float
        In [0, 1).
    epsilon : float
        > 0.
    """

    name = "sklearn_adam"
    state_type = AdamState

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(check(learning_rate, "learning_rate", Real(0.0, low_open=True)), 0.0)
        self.beta_1 = check(beta_1, "beta_1", Real(0.0, 1.0, high_open=True))
        self.beta_2 = check(beta_2, "beta_2", Real(0.0, 1.0, high_open=True))
        self.epsilon = check(epsilon, "epsilon", Real(0.0, low_open=True))

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}

    def init(self, xp: Namespace, params: Params) -> AdamState:
        return AdamState(step=0, m=tuple(xp.zeros_like(p) for p in params),
                         v=tuple(xp.zeros_like(p) for p in params))

    def update(self, xp: Namespace, params: Params, grads: Params, state: Any,
               lr: Any) -> tuple[Params, AdamState]:
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon
        t = state.step + 1
        rate = lr * _sqrt(1.0 - b2**t) / (1.0 - b1**t)
        m = tuple(b1 * m + (1.0 - b1) * g for m, g in zip(state.m, grads, strict=True))
        v = tuple(b2 * v + (1.0 - b2) * (g * g) for v, g in zip(state.v, grads, strict=True))
        new = tuple(p + (-rate * mi) / (xp.sqrt(vi) + eps)
                    for p, mi, vi in zip(params, m, v, strict=True))
        return new, AdamState(step=t, m=m, v=v)
