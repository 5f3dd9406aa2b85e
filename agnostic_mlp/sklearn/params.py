"""The estimators' constructor parameters: scikit-learn's names, defaults and rules.

scikit-learn checks parameters when ``fit`` is called, not in the constructor
(``set_params`` and ``clone`` must accept anything); :func:`solver_settings`
is that check. Every failure is an
:class:`~agnostic_mlp.errors.InvalidArgumentError` (a ValueError and a
TypeError, as scikit-learn's ``InvalidParameterError``) naming the parameter.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constraints import NONE, Constraint, InstanceOf, Integer, Options, Real, check
from ..errors import InvalidArgumentError
from ..optimizers import Optimizer
from .activations import HIDDEN
from .optimizers import LEARNING_RATES, SklearnAdam, SklearnSGD

__all__ = ["SOLVERS", "STOCHASTIC", "Settings", "solver_settings"]

#: The solvers, scikit-learn's: the stochastic ones train by epochs, ``lbfgs`` on the full batch.
SOLVERS = ("adam", "sgd", "lbfgs")
STOCHASTIC = ("adam", "sgd")


class _Flag(Constraint):
    """True or False, NumPy's booleans included (a parameter grid may hold them)."""

    description = "True or False"

    def convert(self, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError
        return bool(value)


class _Infinity(Constraint):
    description = "inf"

    def convert(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != math.inf:
            raise ValueError
        return math.inf


FLAG = _Flag()
_RANDOM_STATE = (NONE, Integer(0, 2**32 - 1), InstanceOf(np.random.RandomState))


@dataclass(frozen=True)
class Settings:
    """The checked parameters the solvers need.

    Attributes
    ----------
    solver : str
    hidden_layer_sizes : tuple of int
    batch_size : int or None
        None is ``"auto"``: ``min(200, n_samples)``.
    max_iter, max_fun, n_iter_no_change, tol, shuffle, verbose, early_stopping, \
validation_fraction
        As scikit-learn's.
    """

    solver: str
    hidden_layer_sizes: tuple[int, ...]
    activation: str
    alpha: float
    batch_size: int | None
    max_iter: int
    shuffle: bool
    tol: float
    verbose: bool
    warm_start: bool
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: float
    max_fun: int

    @property
    def stochastic(self) -> bool:
        """Whether the solver trains by epochs of mini-batches (not ``lbfgs``)."""
        return self.solver in STOCHASTIC

    def optimizer(self, est: Any) -> Optimizer:
        """A fresh optimizer of the estimator's solver and its hyperparameters."""
        if est.solver == "sgd":
            return SklearnSGD(est.learning_rate_init, est.momentum, bool(est.nesterovs_momentum),
                              est.learning_rate, est.power_t)
        return SklearnAdam(est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon)


def _hidden_layer_sizes(value: Any) -> tuple[int, ...]:
    items = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else [value]
    sizes = tuple(check(v, "hidden_layer_sizes", Integer()) for v in items)
    if any(v <= 0 for v in sizes):
        raise InvalidArgumentError(f"hidden_layer_sizes must be > 0, got {list(sizes)}.")
    return sizes


def solver_settings(est: Any) -> Settings:
    """Check every constructor parameter of ``est``; return what training needs.

    Raises
    ------
    InvalidArgumentError
        For a bad value.
    """
    solver = check(est.solver, "solver", Options(SOLVERS))
    check(est.learning_rate, "learning_rate", Options(LEARNING_RATES))
    check(est.learning_rate_init, "learning_rate_init", Real(0.0, low_open=True))
    check(est.power_t, "power_t", Real(0.0))
    check(est.momentum, "momentum", Real(0.0, 1.0))
    check(est.nesterovs_momentum, "nesterovs_momentum", FLAG)
    check(est.beta_1, "beta_1", Real(0.0, 1.0, high_open=True))
    check(est.beta_2, "beta_2", Real(0.0, 1.0, high_open=True))
    check(est.epsilon, "epsilon", Real(0.0, low_open=True))
    check(est.random_state, "random_state", *_RANDOM_STATE)
    batch = check(est.batch_size, "batch_size", Options(("auto",)), Integer(1))
    return Settings(
        solver=solver,
        hidden_layer_sizes=_hidden_layer_sizes(est.hidden_layer_sizes),
        activation=check(est.activation, "activation", Options(HIDDEN)),
        alpha=check(est.alpha, "alpha", Real(0.0)),
        batch_size=None if batch == "auto" else batch,
        max_iter=check(est.max_iter, "max_iter", Integer(1)),
        shuffle=check(est.shuffle, "shuffle", FLAG),
        tol=check(est.tol, "tol", Real(0.0)),
        verbose=bool(check(est.verbose, "verbose", FLAG, Integer(0))),
        warm_start=check(est.warm_start, "warm_start", FLAG),
        early_stopping=check(est.early_stopping, "early_stopping", FLAG),
        validation_fraction=check(est.validation_fraction, "validation_fraction",
                                  Real(0.0, 1.0, high_open=True)),
        n_iter_no_change=check(est.n_iter_no_change, "n_iter_no_change", Integer(1),
                               _Infinity()),
        max_fun=check(est.max_fun, "max_fun", Integer(1)),
    )
