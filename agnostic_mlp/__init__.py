"""agnostic_mlp: a multilayer perceptron written once against the Array API.

It runs unchanged on NumPy, CuPy, PyTorch, JAX and any conforming backend::

    from agnostic_mlp import MLP
    mlp = MLP(2, [5], 1, backend="numpy")     # or "cupy", "torch", "jax", ...
    mlp.train(inputs, targets, 50, 0.1)
"""

from .activations import Activation
from .backends import BACKENDS, get_backend
from .errors import BackendUnavailableError, DivergenceError, ModelFileError
from .losses import Loss
from .model import MLP
from .optimizers import SGD, Adam, ExponentialDecay, Optimizer, StepDecay
from .training import Callback, EarlyStopping, History

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "MLP",
    "SGD",
    "Activation",
    "Adam",
    "BackendUnavailableError",
    "Callback",
    "DivergenceError",
    "EarlyStopping",
    "ExponentialDecay",
    "History",
    "Loss",
    "ModelFileError",
    "Optimizer",
    "StepDecay",
    "get_backend",
]
