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



def _package_version() -> str:
    """This package's version, from its installed metadata.

    Where that metadata belongs to another copy of the package (this one is imported
    from a clone, with another installed) or there is none, the clone's pyproject.toml
    says it; ``"0+unknown"`` when neither can.
    """
    import json
    import tomllib
    from pathlib import Path
    from urllib.parse import unquote
    from urllib.request import url2pathname

    here = Path(__file__).resolve().parent
    try:
        dist = importlib.metadata.distribution("agnostic_mlp")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        try:  # an editable install records the folder it was installed from
            origin = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            origin = {}
        url = str(origin.get("url", ""))
        if origin.get("dir_info", {}).get("editable") and url.startswith("file://"):
            source = url2pathname(unquote(url.removeprefix("file://")))
            mine = Path(source).resolve() == here.parent
        else:
            mine = Path(str(dist.locate_file("agnostic_mlp"))).resolve() == here
        if mine:
            return dist.version
    try:
        with open(here.parent / "pyproject.toml", "rb") as f:
            project = tomllib.load(f).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    version = project.get("version") if project.get("name") == "agnostic_mlp" else None
    if isinstance(version, str):
        return version
    return dist.version if dist is not None else "0+unknown"


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
    "plot_history",
    "to_numpy",
]

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn, an optional dependency: imported when first asked for.
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(f"{__name__}.sklearn"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
