"""agnostic_mlp: a multilayer perceptron written once against the Array API.

It runs unchanged on NumPy, CuPy, PyTorch, JAX and any conforming backend::

    from agnostic_mlp import MLP
    mlp = MLP(2, [5], 1, backend="numpy")     # or "cupy", "torch", "jax", ...
    mlp.train(inputs, targets, 50, 0.1)

``MLPClassifier`` and ``MLPRegressor`` are scikit-learn's estimators on any of
these backends (:mod:`agnostic_mlp.sklearn`); they need scikit-learn and are
imported on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .activations import Activation
from .backends import BACKENDS, get_backend, to_numpy
from .config import MLPConfig
from .errors import (
    BackendUnavailableError,
    DivergenceError,
    InvalidArgumentError,
    ModelFileError,
)
from .losses import Loss
from .model import MLP, Network
from .optimizers import SGD, Adam, Optimizer
from .plotting import plot_history
from .schedules import ExponentialDecay, StepDecay
from .streaming import Stream
from .training import (
    Callback,
    Checkpoint,
    EarlyStopping,
    History,
    LambdaCallback,
    ReduceLROnPlateau,
)

if TYPE_CHECKING:
    from .sklearn import MLPClassifier, MLPRegressor

__version__ = "0.2.0"

__all__ = [
    "BACKENDS",
    "MLP",
    "SGD",
    "Activation",
    "Adam",
    "BackendUnavailableError",
    "Callback",
    "Checkpoint",
    "DivergenceError",
    "EarlyStopping",
    "ExponentialDecay",
    "History",
    "InvalidArgumentError",
    "LambdaCallback",
    "Loss",
    "MLPClassifier",
    "MLPConfig",
    "MLPRegressor",
    "ModelFileError",
    "Network",
    "Optimizer",
    "ReduceLROnPlateau",
    "StepDecay",
    "Stream",
    "get_backend",
    "plot_history",
    "to_numpy",
]

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn, an optional dependency: imported when first asked for.
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(f"{__name__}.sklearn"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
