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
import importlib.metadata
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



def _package_version() -> str:
    """This package's version: its installed metadata, else the checkout's pyproject.toml
    (the package imported from a clone that was never installed), else ``"0+unknown"``."""
    try:
        return importlib.metadata.version("agnostic_mlp")
    except importlib.metadata.PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    try:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
            project = tomllib.load(f).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return "0+unknown"
    version = project.get("version") if project.get("name") == "agnostic_mlp" else None
    return version if isinstance(version, str) else "0+unknown"


__version__ = _package_version()

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
    "to_numpy",
]

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn, an optional dependency: imported when first asked for.
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(f"{__name__}.sklearn"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
